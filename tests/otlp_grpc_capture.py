"""An OTLP/gRPC TraceService capture receiver on 127.0.0.1 (stands in for Tempo in tests).

Stores every export request with its metadata (spans as `otlp_capture.CapturedSpan`). Can be told to
refuse requests (`fail_with`), to answer slowly (`hold`), or be stopped and restarted on the same port to
simulate a backend that goes down and comes back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from otlp_capture import CapturedSpan, spans_of

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


class GrpcTraceCapture:
    """`with GrpcTraceCapture() as tempo: ... tempo.endpoint ... tempo.wait_for_spans(lambda s: ...)`."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.requests: list[ExportTraceServiceRequest] = []
        self.metadata: list[dict[str, str]] = []
        self.fail_with: grpc.StatusCode | None = None
        self.hold: threading.Event | None = None  # when set, each export waits for it (a slow backend)
        self.refused = 0
        self._lock = threading.Condition()
        self._server: grpc.Server | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GrpcTraceCapture:
        # Large batches pass, as in Tempo configured for them (grpcio's default limit is 4 MiB).
        server = grpc.server(
            ThreadPoolExecutor(max_workers=4), options=[("grpc.max_receive_message_length", 64 << 20)]
        )
        handler = grpc.unary_unary_rpc_method_handler(
            self._export,
            request_deserializer=ExportTraceServiceRequest.FromString,
            response_serializer=ExportTraceServiceResponse.SerializeToString,
        )
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Export": handler}),))
        self.port = server.add_insecure_port(f"127.0.0.1:{self.port}")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(0).wait()
            self._server = None

    def __enter__(self) -> GrpcTraceCapture:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _export(
        self, request: ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> ExportTraceServiceResponse:
        if self.hold is not None:
            self.hold.wait(30)
        if self.fail_with is not None:
            with self._lock:
                self.refused += 1
            context.abort(self.fail_with, "capture told to refuse")
        with self._lock:
            self.requests.append(request)
            self.metadata.append({key: str(value) for key, value in context.invocation_metadata()})
            self._lock.notify_all()
        return ExportTraceServiceResponse()

    @property
    def spans(self) -> list[CapturedSpan]:
        with self._lock:
            return [span for request in self.requests for span in spans_of(request)]

    def wait_for_spans(
        self, ready: Callable[[list[CapturedSpan]], bool], timeout: float = 10.0
    ) -> list[CapturedSpan]:
        """Poll until `ready(spans)` holds; raise TimeoutError when it never does (as OtlpCapture)."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans
            if ready(spans):
                return spans
            if time.monotonic() >= deadline:
                raise TimeoutError(f"spans not ready after {timeout}s; got {len(spans)} spans")
            with self._lock:
                self._lock.wait(0.05)
