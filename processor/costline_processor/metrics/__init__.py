"""Cost metrics derived from the ledger: Prometheus text on /metrics, OTLP pushed to Mimir."""

from __future__ import annotations

from costline_processor.metrics.guard import LabelLimits, sanitize
from costline_processor.metrics.otlp_export import OtlpMetricsPusher, build_request
from costline_processor.metrics.prometheus_text import (
    OPENMETRICS_CONTENT_TYPE,
    PROMETHEUS_CONTENT_TYPE,
    content_type,
    wants_openmetrics,
)
from costline_processor.metrics.self_telemetry import SelfTelemetry
from costline_processor.metrics.snapshot import MetricsSnapshot
from costline_processor.metrics.state import CostMetrics

__all__ = [
    "OPENMETRICS_CONTENT_TYPE",
    "PROMETHEUS_CONTENT_TYPE",
    "CostMetrics",
    "LabelLimits",
    "MetricsSnapshot",
    "OtlpMetricsPusher",
    "SelfTelemetry",
    "build_request",
    "content_type",
    "sanitize",
    "wants_openmetrics",
]
