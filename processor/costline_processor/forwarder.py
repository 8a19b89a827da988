"""Forward enriched export requests to the traces backend (Tempo) over OTLP/gRPC or OTLP/HTTP (protobuf).

Retryable downstream failures (per the OTLP spec: UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED...;
HTTP 429/502/503/504, connection errors) raise `DownstreamUnavailable`, which the receivers turn into a
retryable answer so the collector keeps the batch. A permanent refusal (malformed, unauthorised) cannot be
fixed by retrying: the spans are counted as dropped and logged, the costs are already in the ledger.
"""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Sequence
from typing import Final, Protocol
from urllib.parse import urlsplit

import grpc
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from costline_processor import metric_names as names
from costline_processor.metrics import SelfTelemetry

logger = logging.getLogger("costline.forwarder")

EXPORT_METHOD: Final = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
TRACES_PATH: Final = "/v1/traces"
RETRYABLE_GRPC_CODES: Final = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
RETRYABLE_HTTP_STATUSES: Final = frozenset({429, 502, 503, 504})


class DownstreamUnavailable(Exception):
    """The traces backend did not accept the request, and a retry may succeed."""


class Forwarder(Protocol):
    def forward(self, payload: bytes, span_count: int) -> None:
        """Send one serialised `ExportTraceServiceRequest` holding `span_count` spans."""

    def close(self) -> None: ...


class _Accounting:
    """What both forwarders count: forwarded spans, dropped spans, failures."""

    def __init__(self, endpoint: str, telemetry: SelfTelemetry) -> None:
        self.endpoint = endpoint
        self.telemetry = telemetry
        self._failures = 0

    def accepted(self, span_count: int, rejected: int, message: str) -> None:
        self.telemetry.inc(names.SELF_SPANS_FORWARDED, span_count - rejected)
        if rejected:
            self.dropped(rejected, f"partial success: {message}")

    def dropped(self, span_count: int, why: str) -> None:
        logger.error("traces endpoint %s refused %d spans for good: %s", self.endpoint, span_count, why)
        self.telemetry.inc(names.SELF_SPANS_DROPPED, span_count, reason="downstream_rejected")

    def retryable(self, why: str) -> DownstreamUnavailable:
        self.telemetry.inc(names.SELF_FORWARD_FAILURES)
        self._failures += 1
        if self._failures % 100 == 1:  # the first and every 100th: a down backend must not flood the log
            logger.warning("forwarding to %s failed, the sender will retry: %s", self.endpoint, why)
        return DownstreamUnavailable(f"traces endpoint {self.endpoint} unavailable: {why}")


class GrpcForwarder:
    """OTLP/gRPC exporter of raw export requests (`http://` endpoint: plaintext, `https://`: TLS)."""

    def __init__(
        self,
        endpoint: str,
        *,
        headers: Sequence[tuple[str, str]],
        timeout_s: float,
        max_message_bytes: int,
        telemetry: SelfTelemetry,
    ) -> None:
        parts = urlsplit(endpoint)
        target = f"{parts.hostname}:{parts.port or 4317}"
        options = [
            ("grpc.max_send_message_length", max_message_bytes),
            # grpcio backs off up to 120 s between reconnects by default; a Tempo that restarts should
            # be used again within seconds, or every batch meanwhile bounces back to the collector.
            ("grpc.initial_reconnect_backoff_ms", 250),
            ("grpc.min_reconnect_backoff_ms", 250),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ]
        if parts.scheme == "https":
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(), options)
        else:
            self._channel = grpc.insecure_channel(target, options)
        # No request serializer: the pipeline serialises the enriched request itself, under its work lock.
        self._export = self._channel.unary_unary(
            EXPORT_METHOD, response_deserializer=ExportTraceServiceResponse.FromString
        )
        # gRPC metadata keys are lower-case (X-Scope-OrgID travels as x-scope-orgid, which Tempo accepts).
        self._metadata = tuple((key.lower(), value) for key, value in headers)
        self._timeout_s = timeout_s
        self._accounting = _Accounting(endpoint, telemetry)

    def forward(self, payload: bytes, span_count: int) -> None:
        try:
            response = self._export(payload, timeout=self._timeout_s, metadata=self._metadata)
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()
            why = f"{code.name}: {error.details()}"
            if code in RETRYABLE_GRPC_CODES:
                raise self._accounting.retryable(why) from None
            self._accounting.dropped(span_count, why)
            return
        partial = response.partial_success
        self._accounting.accepted(span_count, partial.rejected_spans, partial.error_message)

    def close(self) -> None:
        self._channel.close()


class HttpForwarder:
    """OTLP/HTTP (protobuf) exporter of raw export requests; one keep-alive connection per thread."""

    def __init__(
        self,
        endpoint: str,
        *,
        headers: Sequence[tuple[str, str]],
        timeout_s: float,
        telemetry: SelfTelemetry,
    ) -> None:
        parts = urlsplit(endpoint)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path if parts.path not in ("", "/") else TRACES_PATH) + (
            f"?{parts.query}" if parts.query else ""
        )
        self._headers = {"Content-Type": "application/x-protobuf", **dict(headers)}
        self._timeout_s = timeout_s
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._accounting = _Accounting(endpoint, telemetry)

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = cls(self._host, self._port, timeout=self._timeout_s)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def forward(self, payload: bytes, span_count: int) -> None:
        status, body = self._post(payload)
        if status in RETRYABLE_HTTP_STATUSES:
            raise self._accounting.retryable(f"HTTP {status}")
        if not 200 <= status < 300:
            self._accounting.dropped(span_count, f"HTTP {status}: {body[:200]!r}")
            return
        rejected, message = 0, ""
        try:
            parsed = ExportTraceServiceResponse.FromString(body)
            rejected, message = parsed.partial_success.rejected_spans, parsed.partial_success.error_message
        except DecodeError:  # a 2xx with an unreadable body still means accepted
            logger.debug("unreadable OTLP response body from %s", self._host)
        self._accounting.accepted(span_count, rejected, message)

    def _post(self, body: bytes) -> tuple[int, bytes]:
        # A kept-alive connection the server has since closed fails on first use: retry once on a new one.
        for attempt in range(2):
            connection = self._connection()
            try:
                connection.request("POST", self._path, body=body, headers=self._headers)
                response = connection.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException) as exc:
                self._discard(connection)
                stale = isinstance(
                    exc, http.client.RemoteDisconnected | BrokenPipeError | ConnectionResetError
                )
                if attempt == 1 or not stale:
                    raise self._accounting.retryable(f"{type(exc).__name__}: {exc}") from None
        raise AssertionError("unreachable")

    def _discard(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        self._local.connection = None
        with self._lock:
            self._connections.remove(connection)

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()


def make_forwarder(
    endpoint: str | None,
    *,
    protocol: str,
    headers: Sequence[tuple[str, str]],
    timeout_s: float,
    max_message_bytes: int,
    telemetry: SelfTelemetry,
) -> Forwarder | None:
    if endpoint is None:
        return None
    if protocol == "grpc":
        return GrpcForwarder(
            endpoint,
            headers=headers,
            timeout_s=timeout_s,
            max_message_bytes=max_message_bytes,
            telemetry=telemetry,
        )
    return HttpForwarder(endpoint, headers=headers, timeout_s=timeout_s, telemetry=telemetry)
