"""An OTLP/HTTP metrics capture receiver on 127.0.0.1 (stands in for Mimir's OTLP endpoint in tests).

    with OtlpMetricsCapture() as mimir:
        ... --metrics-endpoint {mimir.metrics_url} ...
        points = mimir.latest_sums("llm.cost.usd")

Accepts POST /v1/metrics (protobuf, gzip or not) and keeps every request with its headers.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from otlp_capture import key_values

METRICS_PATH = "/v1/metrics"
Point = tuple[frozenset[tuple[str, Any]], float]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?")[0] != METRICS_PATH:
            self._reply(404, b"")
            return
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.capture.add(ExportMetricsServiceRequest.FromString(body), dict(self.headers))
        self._reply(200, ExportMetricsServiceResponse().SerializeToString())

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    capture: OtlpMetricsCapture


class OtlpMetricsCapture:
    """Receives OTLP/HTTP metrics on an ephemeral port while used as a context manager."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[ExportMetricsServiceRequest] = []
        self.headers: list[dict[str, str]] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.capture = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{METRICS_PATH}"

    def add(self, request: ExportMetricsServiceRequest, headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append(request)
            self.headers.append(headers)

    def latest(self) -> ExportMetricsServiceRequest | None:
        with self._lock:
            return self.requests[-1] if self.requests else None

    def latest_sums(self, name: str) -> list[Point]:
        """The data points of sum or gauge metric `name` in the latest push: (attributes, value)."""
        request = self.latest()
        points: list[Point] = []
        if request is None:
            return points
        for resource_metrics in request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name != name:
                        continue
                    data = metric.sum if metric.HasField("sum") else metric.gauge
                    for point in data.data_points:
                        value = point.as_double if point.HasField("as_double") else float(point.as_int)
                        points.append((frozenset(key_values(point.attributes).items()), value))
        return points

    def wait_for(self, ready: Callable[[OtlpMetricsCapture], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready(self):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"metrics not ready after {timeout}s ({len(self.requests)} pushes)")
            time.sleep(0.05)

    def __enter__(self) -> OtlpMetricsCapture:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def point_sum(points: list[Point], **labels: str) -> float:
    wanted = set(labels.items())
    return sum(value for attributes, value in points if wanted <= attributes)
