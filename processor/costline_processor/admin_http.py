"""The operator endpoint of `costline serve`: `/metrics` (Prometheus or OpenMetrics), `/healthz`, `/readyz`,
and `GET /v1/budgets` (each budget's state as JSON; the bearer token is required when one is configured).

`/healthz` answers while the process runs (liveness); `/readyz` answers 200 only while the ledger is open
and the receivers are serving (readiness: take a replica out of the load balancer while it starts or stops).
Only GET is served: another method gets a plain-text 405 (`Allow: GET`) on these paths, any other path a
plain-text 404, and malformed requests a plain-text error (`plain_http`), never the stdlib's HTML page.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import Final

from costline_processor.budgets import CONTENT_TYPE as BUDGETS_CONTENT_TYPE
from costline_processor.metrics import content_type, wants_openmetrics
from costline_processor.plain_http import TEXT, PlainTextHandler

logger = logging.getLogger("costline.admin")

RenderMetrics = Callable[[bool], bytes]  # openmetrics? -> exposition
Readiness = Callable[[], str | None]  # None when ready, else why not
RenderBudgets = Callable[[], bytes]  # the JSON document of GET /v1/budgets; may raise BudgetsUnavailable

METRICS: Final = "/metrics"
HEALTHZ: Final = "/healthz"
READYZ: Final = "/readyz"
BUDGETS: Final = "/v1/budgets"
MAX_REQUEST_BODY_BYTES: Final = 64 * 1024  # nothing here takes a body: a larger one closes the connection


class BudgetsUnavailable(Exception):
    """The budgets' state cannot be computed now (a shared ledger's database is down): answered with 503."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    render_metrics: RenderMetrics | None
    readiness: Readiness
    render_budgets: RenderBudgets | None
    authorization: bytes | None  # the expected Authorization header, when a bearer token is configured
    budgets_failing: bool = False  # the last GET /v1/budgets was answered 503 (logged once per outage)


class _Handler(PlainTextHandler):
    server: _Server
    logger = logger

    def do_GET(self) -> None:
        self.body_consumed = False
        self.discard_body(MAX_REQUEST_BODY_BYTES)
        path = self.path.split("?")[0]
        if path == HEALTHZ:
            self._reply(HTTPStatus.OK, b"ok\n", TEXT)
        elif path == READYZ:
            why_not = self.server.readiness()
            if why_not is None:
                self._reply(HTTPStatus.OK, b"ready\n", TEXT)
            else:
                self._reply(HTTPStatus.SERVICE_UNAVAILABLE, f"{why_not}\n".encode(), TEXT)
        elif path == METRICS and self.server.render_metrics is not None:
            openmetrics = wants_openmetrics(self.headers.get("Accept"))
            body = self.server.render_metrics(openmetrics)
            self._reply(HTTPStatus.OK, body, content_type(openmetrics))
        elif path == BUDGETS and self.server.render_budgets is not None:
            self._budgets(self.server.render_budgets)
        else:
            self._refuse()

    def do_POST(self) -> None:
        self.body_consumed = False
        self._refuse()

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def _refuse(self) -> None:
        """405 (`Allow: GET`) on a path served here, 404 elsewhere; plain text, like the receiver."""
        path = self.path.split("?")[0]
        paths = [HEALTHZ, READYZ] if self.server.render_metrics is None else [METRICS, HEALTHZ, READYZ]
        if self.server.render_budgets is not None:
            paths.append(BUDGETS)
        if path in paths:
            self.refuse(MAX_REQUEST_BODY_BYTES, f"GET {path}", allow="GET")
        else:
            self.refuse(MAX_REQUEST_BODY_BYTES, f"GET {', '.join(paths[:-1])} or {paths[-1]}", allow=None)

    def _budgets(self, render: RenderBudgets) -> None:
        expected = self.server.authorization
        given = self.headers.get("Authorization", "").encode()
        if expected is not None and not hmac.compare_digest(given, expected):
            self._reply(HTTPStatus.UNAUTHORIZED, b"missing or wrong bearer token\n", TEXT)
            return
        try:
            body = render()
        except BudgetsUnavailable as exc:  # the app's guard then acts on its COSTLINE_BUDGETS_FAIL mode
            if not self.server.budgets_failing:
                logger.warning("GET /v1/budgets answered 503 until the ledger answers again: %s", exc)
            self.server.budgets_failing = True
            self._reply(HTTPStatus.SERVICE_UNAVAILABLE, f"budgets unavailable: {exc}\n".encode(), TEXT)
            return
        self.server.budgets_failing = False
        self._reply(HTTPStatus.OK, body, BUDGETS_CONTENT_TYPE)

    def _reply(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class AdminServer:
    """Serves the operator endpoint on host:port in a background thread."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        render_metrics: RenderMetrics | None,
        readiness: Readiness,
        render_budgets: RenderBudgets | None = None,
        bearer_token: str | None = None,
    ) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.render_metrics = render_metrics
        self._server.readiness = readiness
        self._server.render_budgets = render_budgets
        self._server.authorization = f"Bearer {bearer_token}".encode() if bearer_token is not None else None
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="costline-admin", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
