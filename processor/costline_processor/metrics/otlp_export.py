"""The cost metrics as OTLP: an `ExportMetricsServiceRequest`, and a pusher that POSTs it to Mimir.

Sums are cumulative and monotonic, their start time is the ledger's creation, so a push that fails is
simply superseded by the next one (nothing is lost). Units are curly-brace annotations (`{USD}`), which
the Prometheus/Mimir OTLP translation turns into no suffix: `llm.cost.usd` -> `llm_cost_usd_total`.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric, NumberDataPoint

from costline_processor import metric_names as names
from costline_processor.metrics.budget_series import COUNTER, budget_families
from costline_processor.metrics.prometheus_text import COUNTERS_START_HELP
from costline_processor.metrics.self_telemetry import DEFAULT_HELP, HELP, LabelSet, SelfTelemetry
from costline_processor.metrics.snapshot import Exemplar, MetricsSnapshot

if TYPE_CHECKING:
    from costline_processor.metrics.state import CostMetrics

logger = logging.getLogger("costline.metrics")

SCOPE_NAME: Final = "costline_processor"
SERVICE_NAME: Final = "costline-processor"
TARGET: Final = "otlp_metrics"
_CUMULATIVE: Final = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


def _attributes(point: NumberDataPoint, label_names: Sequence[str], values: Sequence[str]) -> None:
    for name, value in zip(label_names, values, strict=True):
        point.attributes.add(key=name, value={"string_value": value})


def _sum(scope: list[Metric], name: str, unit: str, description: str) -> Metric:
    metric = Metric(name=name, unit=unit, description=description)
    metric.sum.aggregation_temporality = _CUMULATIVE
    metric.sum.is_monotonic = True
    scope.append(metric)
    return metric


def _exemplar(point: NumberDataPoint, exemplar: Exemplar | None) -> None:
    if exemplar is not None:
        trace_id, span_id, value, time_ns = exemplar
        point.exemplars.add(
            time_unix_nano=time_ns, as_double=float(value), trace_id=trace_id, span_id=span_id
        )


def _cost_metrics(snapshot: MetricsSnapshot, start: int, now: int, out: list[Metric]) -> None:
    cost = _sum(out, names.COST_USD, names.UNIT_USD, "LLM cost in USD, by token type.").sum
    for labels, values in snapshot.cost.items():
        exemplars = snapshot.exemplars.get(labels) or [None] * 4
        for token_type, value, exemplar in zip(names.TOKEN_TYPES, values, exemplars, strict=True):
            point = cost.data_points.add(
                start_time_unix_nano=start, time_unix_nano=now, as_double=float(value)
            )
            _attributes(point, names.COST_LABELS, (*labels, token_type))
            _exemplar(point, exemplar)
    tokens = _sum(out, names.TOKENS, names.UNIT_TOKEN, "Provider-reported LLM tokens, by token type.").sum
    for labels, counts in snapshot.tokens.items():
        for token_type, count in zip(names.TOKEN_TYPES, counts, strict=True):
            point = tokens.data_points.add(start_time_unix_nano=start, time_unix_nano=now, as_int=count)
            _attributes(point, names.COST_LABELS, (*labels, token_type))


def _count_metrics(snapshot: MetricsSnapshot, start: int, now: int, out: list[Metric]) -> None:
    series: list[tuple[str, str, str, Sequence[str], Iterable[tuple[Sequence[str], int]]]] = [
        (names.REQUESTS, names.UNIT_REQUEST, "LLM calls (priced or not), by status.", names.REQUEST_LABELS,
         [((*labels, status), n) for (labels, status), n in snapshot.requests.items()]),
        (names.UNPRICED_REQUESTS, names.UNIT_REQUEST, "LLM calls that could not be priced.",
         names.UNPRICED_LABELS, snapshot.unpriced.items()),
        (names.WORKFLOW_OUTCOMES, names.UNIT_OUTCOME, "Business outcomes recorded by app code.",
         names.OUTCOME_LABELS, snapshot.outcomes.items()),
    ]  # fmt: skip
    for name, unit, description, label_names, counts in series:
        metric = _sum(out, name, unit, description).sum
        for key, count in counts:
            point = metric.data_points.add(start_time_unix_nano=start, time_unix_nano=now, as_int=count)
            _attributes(point, label_names, key)
    _budget_metrics(snapshot, start, now, out)
    started = Metric(name=names.COUNTERS_START_TIME, unit=names.UNIT_SECONDS, description=COUNTERS_START_HELP)
    started.gauge.data_points.add(time_unix_nano=now, as_double=snapshot.start_time_ns / 1e9)
    out.append(started)


def _budget_metrics(snapshot: MetricsSnapshot, start: int, now: int, out: list[Metric]) -> None:
    """The budget gauges, and the blocked-calls counter (in memory, like the self-telemetry counters)."""
    for family in budget_families(snapshot):
        if not family.samples and family.prom_name != names.PROM_BUDGET_USD:
            continue
        if family.kind == COUNTER:
            points = _sum(out, family.otlp_name, family.unit, family.help).sum.data_points
            for label_names, values, value in family.samples:
                point = points.add(start_time_unix_nano=start, time_unix_nano=now, as_int=int(value))
                _attributes(point, label_names, values)
            continue
        metric = Metric(name=family.otlp_name, unit=family.unit, description=family.help)
        for label_names, values, value in family.samples:
            point = metric.gauge.data_points.add(time_unix_nano=now, as_double=value)
            _attributes(point, label_names, values)
        out.append(metric)


def _self_metrics(snapshot: MetricsSnapshot, start: int, now: int, out: list[Metric]) -> None:
    """Self-telemetry under its Prometheus names, which the OTLP translation leaves unchanged."""
    counters: Mapping[str, dict[LabelSet, float]] = snapshot.telemetry.counters
    for name, series in sorted(counters.items()):
        total = _sum(out, name, "", HELP.get(name, DEFAULT_HELP)).sum
        for label_set, value in sorted(series.items()):
            point = total.data_points.add(start_time_unix_nano=start, time_unix_nano=now, as_double=value)
            _attributes(point, [k for k, _ in label_set], [v for _, v in label_set])
    for name, series in sorted(snapshot.telemetry.gauges.items()):
        gauge = Metric(name=name, description=HELP.get(name, DEFAULT_HELP))
        for label_set, value in sorted(series.items()):
            point = gauge.gauge.data_points.add(time_unix_nano=now, as_double=value)
            _attributes(point, [k for k, _ in label_set], [v for _, v in label_set])
        out.append(gauge)


def build_request(snapshot: MetricsSnapshot, now_ns: int) -> ExportMetricsServiceRequest:
    start = min(snapshot.start_time_ns, now_ns)
    metrics: list[Metric] = []
    _cost_metrics(snapshot, start, now_ns, metrics)
    _count_metrics(snapshot, start, now_ns, metrics)
    _self_metrics(snapshot, start, now_ns, metrics)
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.extend(
        [
            KeyValue(key="service.name", value=AnyValue(string_value=SERVICE_NAME)),
            KeyValue(key="service.instance.id", value=AnyValue(string_value=snapshot.service_instance_id)),
        ]
    )
    scope_metrics = resource_metrics.scope_metrics.add()
    scope_metrics.scope.name = SCOPE_NAME
    scope_metrics.metrics.extend(metrics)
    return request


class OtlpMetricsPusher:
    """Pushes `metrics.to_otlp()` to an OTLP/HTTP endpoint every `interval_s`, from a daemon thread.

    A failed push is logged and counted (`costline_export_failures_total{target="otlp_metrics"}`), never
    raised: the next push carries the same cumulative values. `stop()` pushes once more, so the final
    counts reach the backend on shutdown.
    """

    def __init__(
        self,
        metrics: CostMetrics,
        endpoint: str,
        *,
        headers: Mapping[str, str] | None = None,
        interval_s: float = 15.0,
        timeout_s: float = 10.0,
        telemetry: SelfTelemetry | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if interval_s <= 0 or timeout_s <= 0:
            raise ValueError("interval_s and timeout_s must be > 0")
        self._metrics = metrics
        self._endpoint = endpoint
        self._headers = {"Content-Type": "application/x-protobuf", **(headers or {})}
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._telemetry = telemetry or metrics.telemetry
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures_logged = 0

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the pusher is already started")
        self._thread = threading.Thread(target=self._run, name="costline-otlp-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and push one last time."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._timeout_s + self._interval_s)
            self._thread = None
        self.push_once()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.push_once()

    def push_once(self) -> bool:
        """POST the current metrics once; return whether the endpoint accepted all of them."""
        try:
            body = self._metrics.to_otlp(self._clock()).SerializeToString()
            request = urllib.request.Request(self._endpoint, data=body, headers=self._headers, method="POST")
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                reply = response.read()
            rejected = ExportMetricsServiceResponse.FromString(reply).partial_success.rejected_data_points
            if rejected:
                raise ValueError(f"the endpoint rejected {rejected} data points")
        except Exception as exc:
            self._failed(exc)
            return False
        self._telemetry.inc(names.SELF_EXPORTS, target=TARGET)
        return True

    def _failed(self, exc: Exception) -> None:
        self._telemetry.inc(names.SELF_EXPORT_FAILURES, target=TARGET)
        self._failures_logged += 1
        # The first failure and then every 100th: a down backend must not flood the log.
        if self._failures_logged % 100 == 1:
            detail = exc.read()[:200] if isinstance(exc, urllib.error.HTTPError) else b""
            logger.warning("pushing cost metrics to %s failed: %s %r", self._endpoint, exc, detail)
