"""A tiny OTLP/HTTP trace receiver for tests: stands in for Tempo or a collector on 127.0.0.1.

    with OtlpCapture() as capture:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = capture.endpoint        # exporters append /v1/traces
        ... run the app ...
        spans = capture.wait_for_spans(lambda spans: any(s.name == "chat" for s in spans))

Accepts POST /v1/traces with an `ExportTraceServiceRequest` protobuf body (gzip or not) and records every
span flattened with its resource and scope. Other paths get 404, JSON bodies 415.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from otlp_http_server import ProtobufPostServer

TRACES_PATH = "/v1/traces"


@dataclass(frozen=True)
class CapturedSpan:
    """One received span; ids are lower-case hex, kind and status are the OTLP enum numbers."""

    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope_name: str
    scope_version: str
    status_code: int
    start_time_unix_nano: int
    end_time_unix_nano: int


def any_value(value: AnyValue) -> Any:
    """An OTLP AnyValue as the plain Python value it holds."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return key_values(value.kvlist_value.values)
    return getattr(value, which)


def key_values(items: Any) -> dict[str, Any]:
    """Repeated OTLP KeyValue as a dict."""
    pairs: list[KeyValue] = list(items)
    return {item.key: any_value(item.value) for item in pairs}


def spans_of(request: ExportTraceServiceRequest) -> list[CapturedSpan]:
    """Flatten an export request into spans that each carry their resource and scope."""
    found: list[CapturedSpan] = []
    for resource_spans in request.resource_spans:
        resource = key_values(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            found.extend(
                CapturedSpan(
                    name=span.name,
                    kind=span.kind,
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex(),
                    attributes=key_values(span.attributes),
                    resource=resource,
                    scope_name=scope_spans.scope.name,
                    scope_version=scope_spans.scope.version,
                    status_code=span.status.code,
                    start_time_unix_nano=span.start_time_unix_nano,
                    end_time_unix_nano=span.end_time_unix_nano,
                )
                for span in scope_spans.spans
            )
    return found


class OtlpCapture(ProtobufPostServer):
    """Receives OTLP/HTTP traces on an ephemeral 127.0.0.1 port while used as a context manager."""

    path = TRACES_PATH

    def __init__(self) -> None:
        super().__init__()
        self._spans: list[CapturedSpan] = []
        self._exports = 0

    def handle(self, body: bytes, headers: dict[str, str]) -> bytes:
        self.add(spans_of(ExportTraceServiceRequest.FromString(body)))
        return ExportTraceServiceResponse().SerializeToString()

    @property
    def traces_url(self) -> str:
        """The full URL for OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTLPSpanExporter(endpoint=...)."""
        return self.endpoint + TRACES_PATH

    @property
    def spans(self) -> list[CapturedSpan]:
        with self._lock:
            return list(self._spans)

    @property
    def exports(self) -> int:
        """How many export requests were received."""
        with self._lock:
            return self._exports

    def add(self, spans: list[CapturedSpan]) -> None:
        with self._lock:
            self._spans.extend(spans)
            self._exports += 1

    def reset(self) -> None:
        with self._lock:
            self._spans.clear()
            self._exports = 0

    def wait_for_spans(
        self, ready: Callable[[list[CapturedSpan]], bool], timeout: float = 10.0
    ) -> list[CapturedSpan]:
        """Poll until `ready(spans)` holds; raise TimeoutError (listing span names) when it never does."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans
            if ready(spans):
                return spans
            if time.monotonic() >= deadline:
                raise TimeoutError(f"spans not ready after {timeout}s; got {[s.name for s in spans]}")
            time.sleep(0.05)
