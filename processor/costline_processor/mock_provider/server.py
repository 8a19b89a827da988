"""The fake LLM provider: a threaded HTTP server on 127.0.0.1 speaking OpenAI, Anthropic, Gemini, Bedrock."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from dataclasses import replace
from types import TracebackType
from typing import Any

from costline_processor.mock_provider.behaviour import MockBehaviour, RecordedRequest
from costline_processor.mock_provider.dispatch import build_reply, error_reply, response_id
from costline_processor.mock_provider.handler import Server
from costline_processor.mock_provider.overrides import apply_overrides
from costline_processor.mock_provider.routes import Route
from costline_processor.mock_provider.wire import Call, Reply

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "mock-model"


class MockProvider:
    """A local fake OpenAI/Anthropic/Gemini/Bedrock API: a context manager, or ``start()`` and ``stop()``.

    ``default`` answers every request that has no queued behaviour; ``enqueue()`` adds one-shot behaviours
    consumed first-in first-out. With ``error_rate`` a seeded share of default-answered requests fails with
    ``error_status`` (the CLI's error injection). A request's override headers (see ``overrides``) adjust
    the behaviour of that one call. Every request is recorded in ``requests`` before it is answered.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        error_rate: float = 0.0,
        error_status: int = 500,
        seed: int | None = None,
        log_requests: bool = False,
    ) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        self.default = MockBehaviour()
        self._host, self._port = host, port
        self._error_rate, self._error_status = error_rate, error_status
        self._random = random.Random(seed)
        self._log_requests = log_requests
        self._lock = threading.Lock()
        self._queue: deque[MockBehaviour] = deque()
        self._requests: list[RecordedRequest] = []
        self._counter = 0
        self._httpd: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> MockProvider:
        if self._httpd is not None:
            return self
        httpd = Server((self._host, self._port), self)
        self._httpd = httpd
        # A short poll interval keeps stop() fast (serve_forever checks for shutdown between polls).
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name="mock-provider", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MockProvider:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- the public surface tests use ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("MockProvider is not running: use it as a context manager or call start()")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def vertex_base_url(self) -> str:
        """For ``anthropic.AnthropicVertex(base_url=...)``, whose default base URL ends in /v1 too."""
        return self.url + "/v1"

    @property
    def gemini_base_url(self) -> str:
        """``google.genai.Client(http_options=HttpOptions(base_url=...))``, Gemini API and Vertex AI alike."""
        return self.url

    @property
    def bedrock_endpoint_url(self) -> str:
        """``boto3.client("bedrock-runtime", endpoint_url=...)`` (and ``AnthropicBedrock(base_url=...)``)."""
        return self.url

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def enqueue(self, *behaviours: MockBehaviour) -> None:
        """One-shot behaviours for the next requests, first in first out; an SDK retry is a new request."""
        with self._lock:
            self._queue.extend(behaviours)

    def reset(self) -> None:
        """Forget requests and queued behaviours and restore the default behaviour.

        Generated ids keep counting: like a real provider's, they never repeat within a server's life, so
        deduplication by response id is never fooled across tests (set ``response_id`` for a fixed one).
        """
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self.default = MockBehaviour()

    # -- called by the request handler --------------------------------------------------------------------

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
        if self._log_requests:
            logger.info("%s %s", request.method, request.path)

    def next_behaviour(self) -> MockBehaviour:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            behaviour = self.default
            inject = self._error_rate > 0 and self._random.random() < self._error_rate
            if inject and behaviour.error_status is None:
                behaviour = replace(behaviour, error_status=self._error_status)
            return behaviour

    def answer(self, route: Route | None, request: RecordedRequest) -> tuple[MockBehaviour | None, Reply]:
        """The behaviour used (None when nothing serves the path) and the reply for one recorded request."""
        with self._lock:
            self._counter += 1
            number = self._counter
        request_id = f"req_mock{number:012d}"
        headers = {"x-request-id": request_id, "request-id": request_id}
        if route is None:
            reply = error_reply(None, 404, "No mock endpoint at this path.", request_id)
            return None, _with_headers(reply, headers)
        behaviour = self.next_behaviour()
        problem = None
        try:
            behaviour = apply_overrides(behaviour, request.headers)
        except ValueError as exc:
            problem = str(exc)
        if behaviour.retry_after_s is not None:
            headers["retry-after-ms"] = str(round(behaviour.retry_after_s * 1000))
            headers["retry-after"] = str(round(behaviour.retry_after_s))
        headers |= behaviour.extra_headers
        if behaviour.latency_s:
            time.sleep(behaviour.latency_s)
        body = request.body if request.method == "POST" else {}
        if not isinstance(body, dict):
            problem = "The request body must be a JSON object."
        if problem is not None:
            return behaviour, _with_headers(error_reply(route, 400, problem, request_id), headers)
        if behaviour.error_status is not None:
            reply = error_reply(route, behaviour.error_status, behaviour.error_message, request_id)
            return behaviour, _with_headers(reply, headers)
        call = _call(route, behaviour, body, number)
        return behaviour, _with_headers(build_reply(route, call), headers)


def _call(route: Route, behaviour: MockBehaviour, body: dict[str, Any], number: int) -> Call:
    if route.force_stream:
        body = {**body, "stream": True}
    model = route.model or body.get("model") or DEFAULT_MODEL
    return Call(
        body=body,
        behaviour=behaviour,
        model=str(model),
        response_id=behaviour.response_id or response_id(route.endpoint, number),
        item_id=f"msg_mock{number:012d}",
        created=int(time.time()),
    )


def _with_headers(reply: Reply, headers: dict[str, str]) -> Reply:
    return replace(reply, headers={**headers, **reply.headers})
