"""An OTLP/HTTP metrics capture receiver on 127.0.0.1 (stands in for Mimir's OTLP endpoint in tests).

    with OtlpMetricsCapture() as mimir:
        ... --metrics-endpoint {mimir.metrics_url} ...
        points = mimir.latest_sums("llm.cost.usd")

Accepts POST /v1/metrics (protobuf, gzip or not) and keeps every request with its headers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from otlp_capture import key_values
from otlp_http_server import ProtobufPostServer

METRICS_PATH = "/v1/metrics"
Point = tuple[frozenset[tuple[str, Any]], float]


class OtlpMetricsCapture(ProtobufPostServer):
    """Receives OTLP/HTTP metrics on an ephemeral port while used as a context manager."""

    path = METRICS_PATH

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[ExportMetricsServiceRequest] = []
        self.headers: list[dict[str, str]] = []

    def handle(self, body: bytes, headers: dict[str, str]) -> bytes:
        self.add(ExportMetricsServiceRequest.FromString(body), headers)
        return ExportMetricsServiceResponse().SerializeToString()

    @property
    def metrics_url(self) -> str:
        return self.endpoint + METRICS_PATH

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


def point_sum(points: list[Point], **labels: str) -> float:
    wanted = set(labels.items())
    return sum(value for attributes, value in points if wanted <= attributes)
