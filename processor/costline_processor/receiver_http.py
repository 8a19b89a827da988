"""OTLP/HTTP trace receiver: `POST /v1/traces`, protobuf or JSON, optionally gzip-compressed.

Status codes follow the OTLP/HTTP spec: 200 accepted; 400 malformed; 401 bad token; 413 too large;
415 unknown content type; 429 overloaded and 503 unavailable, both with `Retry-After`, so the collector
retries from its queue. Error bodies are a `google.rpc.Status` in the request's encoding. Another method
gets a plain-text 405 (`Allow: POST`) on `/v1/traces` and 404 elsewhere.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import ssl
import threading
import time
import zlib
from http import HTTPStatus
from typing import Any, Final

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from costline_processor import metric_names as names
from costline_processor.http_connections import RequestHandler, ThreadPerConnectionServer
from costline_processor.metrics import SelfTelemetry
from costline_processor.pipeline import Overloaded, Pipeline, Unavailable
from costline_processor.plain_http import BadContentLength

logger = logging.getLogger("costline.receiver.http")

TRACES_PATH: Final = "/v1/traces"
PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
UNAVAILABLE_RETRY_AFTER_S: Final = 2
MAX_CONNECTIONS: Final = 256
_ID_FIELDS: Final = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


class BadRequest(Exception):
    def __init__(self, status: HTTPStatus, message: str, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def decompress(body: bytes, encoding: str, max_bytes: int) -> bytes:
    """Undo `Content-Encoding`; the output is bounded so a zip bomb cannot exhaust memory."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise BadRequest(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"unsupported Content-Encoding {encoding!r}", "encoding"
        )
    inflater = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise BadRequest(HTTPStatus.BAD_REQUEST, f"corrupt {encoding} body: {exc}", "malformed") from None
    if len(data) > max_bytes:
        raise BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body exceeds {max_bytes} bytes", "too_large")
    return data


def _hex_ids_to_base64(node: Any) -> None:
    """OTLP/JSON writes ids as hex; protobuf's JSON mapping expects base64 for bytes fields."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                try:
                    node[key] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    why = f"{key} is not hex: {value[:64]!r}"
                    raise BadRequest(HTTPStatus.BAD_REQUEST, why, "malformed") from None
            else:
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids_to_base64(item)


def parse_request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    media_type = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media_type == PROTOBUF:
        try:
            return ExportTraceServiceRequest.FromString(body)
        except DecodeError as exc:
            raise BadRequest(HTTPStatus.BAD_REQUEST, f"malformed protobuf: {exc}", "malformed") from None
    if media_type == JSON:
        try:
            document = json.loads(body)
            _hex_ids_to_base64(document)
            return json_format.ParseDict(document, ExportTraceServiceRequest(), ignore_unknown_fields=True)
        except BadRequest:
            raise
        except (ValueError, TypeError, RecursionError, json_format.ParseError) as exc:
            raise BadRequest(HTTPStatus.BAD_REQUEST, f"malformed OTLP/JSON: {exc}", "malformed") from None
    raise BadRequest(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Content-Type must be {PROTOBUF} or {JSON}", "content_type"
    )


def encode_body(message: ExportTraceServiceResponse | Status, as_json: bool) -> tuple[bytes, str]:
    if as_json:
        return json_format.MessageToJson(message, indent=None).encode(), JSON
    return message.SerializeToString(), PROTOBUF


class HttpReceiver:
    """Serves `POST /v1/traces` on host:port in a background thread until `stop`."""

    def __init__(
        self,
        pipeline: Pipeline,
        telemetry: SelfTelemetry,
        *,
        host: str,
        port: int,
        max_message_bytes: int,
        bearer_token: str | None,
        ssl_context: ssl.SSLContext | None,
        tls_handshake_timeout_s: float,
    ) -> None:
        self._pipeline = pipeline
        self._telemetry = telemetry
        self._max_bytes = max_message_bytes
        self._token = f"Bearer {bearer_token}".encode() if bearer_token is not None else None
        self._server = ThreadPerConnectionServer(
            (host, port),
            self,
            MAX_CONNECTIONS,
            ssl_context=ssl_context,
            handshake_timeout_s=tls_handshake_timeout_s,
        )
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="costline-http", daemon=True
        )
        self._inflight = 0
        self._idle = threading.Condition()
        self._stopping = False

    def start(self) -> None:
        self._thread.start()

    def stop(self, grace_s: float) -> None:
        """Stop accepting, wait up to `grace_s` for requests being handled, then close."""
        self._stopping = True
        self._server.shutdown()
        deadline = time.monotonic() + grace_s
        with self._idle:
            while self._inflight and time.monotonic() < deadline:
                self._idle.wait(deadline - time.monotonic())
        self._server.server_close()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def handle(self, handler: RequestHandler) -> None:
        with self._idle:
            self._inflight += 1
        try:
            self._handle(handler)
        finally:
            with self._idle:
                self._inflight -= 1
                self._idle.notify_all()

    def refuse_method(self, handler: RequestHandler) -> None:
        """Anything but POST: 405 on the traces path, 404 elsewhere, in plain text."""
        on_traces_path = handler.path.split("?")[0] == TRACES_PATH
        self._telemetry.inc(names.SELF_REQUESTS_INVALID, reason="method" if on_traces_path else "path")
        handler.refuse(self._max_bytes, f"POST {TRACES_PATH}", allow="POST" if on_traces_path else None)

    def tls_handshake_failed(self) -> None:
        self._telemetry.inc(names.SELF_REQUESTS_INVALID, reason="tls_handshake")

    def _handle(self, handler: RequestHandler) -> None:
        as_json = handler.headers.get("Content-Type", "").split(";")[0].strip().lower() == JSON
        try:
            if self._stopping:  # a kept-alive connection after SIGTERM: send the client elsewhere
                raise Unavailable("costline is shutting down")
            length = self._check_headers(handler)
            # The slot is taken before the body is read: at most max_inflight bodies are in memory.
            with self._pipeline.admit():
                request, body = self._read(handler, length)
                self._pipeline.export_admitted(request, body, raw_is_protobuf=not as_json)
        except BadRequest as exc:
            self._telemetry.inc(names.SELF_REQUESTS_INVALID, reason=exc.reason)
            self._reply_error(handler, exc.status, str(exc), as_json)
        except Overloaded as exc:
            retry_after = str(max(1, round(exc.retry_after_s)))
            self._reply_error(handler, HTTPStatus.TOO_MANY_REQUESTS, str(exc), as_json, retry_after)
        except Unavailable as exc:
            retry_after = str(UNAVAILABLE_RETRY_AFTER_S)
            self._reply_error(handler, HTTPStatus.SERVICE_UNAVAILABLE, str(exc), as_json, retry_after)
        except Exception as exc:  # a bug: answered (500, not retried: it would fail again), logged, counted
            logger.exception("internal error while handling an export request")
            self._telemetry.inc(names.SELF_REQUESTS_REFUSED, reason="internal_error")
            self._reply_error(handler, HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {exc}", as_json)
        else:
            self._reply(handler, HTTPStatus.OK, *encode_body(ExportTraceServiceResponse(), as_json))

    def _check_headers(self, handler: RequestHandler) -> int:
        """Path, token and Content-Length, before anything is read; returns the body's length."""
        if handler.path.split("?")[0] != TRACES_PATH:
            raise BadRequest(HTTPStatus.NOT_FOUND, f"only POST {TRACES_PATH} is served here", "path")
        if self._token is not None and not hmac.compare_digest(
            handler.headers.get("Authorization", "").encode(), self._token
        ):
            raise BadRequest(HTTPStatus.UNAUTHORIZED, "missing or wrong bearer token", "auth")
        try:
            length = handler.content_length()
        except BadContentLength as exc:
            raise BadRequest(HTTPStatus.BAD_REQUEST, str(exc), "malformed") from None
        if length is None:
            raise BadRequest(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required", "malformed")
        if length > self._max_bytes:
            raise BadRequest(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body exceeds {self._max_bytes} bytes", "too_large"
            )
        return length

    def _read(self, handler: RequestHandler, length: int) -> tuple[ExportTraceServiceRequest, bytes]:
        body = handler.rfile.read(length)
        handler.body_consumed = True
        if len(body) != length:
            handler.close_connection = True
            raise BadRequest(HTTPStatus.BAD_REQUEST, "body shorter than Content-Length", "malformed")
        body = decompress(body, handler.headers.get("Content-Encoding", ""), self._max_bytes)
        return parse_request(body, handler.headers.get("Content-Type", "")), body

    def _reply_error(
        self,
        handler: RequestHandler,
        status: HTTPStatus,
        message: str,
        as_json: bool,
        retry_after: str | None = None,
    ) -> None:
        handler.discard_body(self._max_bytes)
        if retry_after is not None:
            # The sender waits before it retries: it should not hold a connection thread meanwhile.
            handler.close_connection = True
        body, content_type = encode_body(Status(code=_grpc_code(status), message=message), as_json)
        self._reply(handler, status, body, content_type, retry_after)

    def _reply(
        self,
        handler: RequestHandler,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        retry_after: str | None = None,
    ) -> None:
        if self._server.connection_slots.scarce:
            handler.close_connection = True
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        if retry_after is not None:
            handler.send_header("Retry-After", retry_after)
        if handler.close_connection:
            handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)


def _grpc_code(status: HTTPStatus) -> int:
    """The google.rpc.Code matching an HTTP status (for the Status body)."""
    return {
        HTTPStatus.BAD_REQUEST: 3,
        HTTPStatus.UNAUTHORIZED: 16,
        HTTPStatus.NOT_FOUND: 12,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE: 8,
        HTTPStatus.TOO_MANY_REQUESTS: 8,
        HTTPStatus.SERVICE_UNAVAILABLE: 14,
        HTTPStatus.INTERNAL_SERVER_ERROR: 13,
    }.get(status, 3)
