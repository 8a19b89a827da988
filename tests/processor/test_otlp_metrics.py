"""OTLP metrics: names that Mimir translates to the documented Prometheus names, pushed over real HTTP."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from _ledger_factories import make_call, priced, unpriced
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from costline_processor import metric_names as names
from costline_processor.budgets import parse_budgets
from costline_processor.ledger import Ledger
from costline_processor.metrics import CostMetrics, OtlpMetricsPusher
from costline_processor.model import Outcome

_UNIT_MAP = {"s": "seconds", "ms": "milliseconds", "By": "bytes", "1": "", "%": "percent"}


def prometheus_name(metric: Metric) -> str:
    """The name Mimir/Prometheus give an OTLP metric (otlptranslator normalizeName, suffixes enabled).

    A port of prometheus/otlptranslator `normalizeName` for the units we could plausibly use: unit
    annotations in braces add nothing, monotonic sums get `_total`, gauges with unit "1" get `_ratio`.
    """
    tokens = [t for t in re.split(r"[^a-zA-Z0-9:]", metric.name) if t]
    main = metric.unit.split("/", 1)[0].strip()
    if main and "{" not in main and "}" not in main:
        suffix = re.sub(r"[^a-zA-Z0-9:]", "_", _UNIT_MAP.get(main, main)).strip("_")
        if suffix and suffix not in tokens:
            tokens.append(suffix)
    kind = metric.WhichOneof("data")
    if kind == "sum" and metric.sum.is_monotonic:
        tokens = [t for t in tokens if t != "total"] + ["total"]
    if metric.unit == "1" and kind == "gauge":
        tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
    return "_".join(tokens)


def test_the_translation_port_matches_known_examples() -> None:
    counter = Metric(name="http.server.requests", unit="1")
    counter.sum.is_monotonic = True
    assert prometheus_name(counter) == "http_server_requests_total"
    gauge = Metric(name="memory.usage", unit="By")
    gauge.gauge.SetInParent()
    assert prometheus_name(gauge) == "memory_usage_bytes"
    wrong = Metric(name="llm.cost", unit="USD")
    wrong.sum.is_monotonic = True
    assert prometheus_name(wrong) == "llm_cost_USD_total"  # why the unit is an annotation


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        yield ledger


@pytest.fixture
def metrics(ledger: Ledger) -> CostMetrics:
    metrics = CostMetrics(
        budgets=parse_budgets(
            "budgets:\n"
            "  - {workflow_id: support, period: monthly, limit_usd: 100, stop_at: 120, on_stop: block}\n"
        )
    )
    metrics.seed_from(ledger)
    metrics.observe(ledger.record(
        [priced(make_call(1)), unpriced(make_call(2), names.REASON_UNKNOWN_MODEL)],
        [Outcome(b"t" * 16, b"s" * 8, 1, "support", "resolved", 1)],
    ))  # fmt: skip
    metrics.telemetry.set_gauge(names.SELF_INFLIGHT_BATCHES, 1)
    return metrics


def test_otlp_names_translate_to_the_documented_prometheus_names(metrics: CostMetrics) -> None:
    request = metrics.to_otlp(time.time_ns())
    (scope,) = request.resource_metrics[0].scope_metrics
    translated = {m.name: prometheus_name(m) for m in scope.metrics}
    assert {k: v for k, v in translated.items() if k.startswith("llm.")} == {
        names.COST_USD: names.PROM_COST_USD_TOTAL,
        names.TOKENS: names.PROM_TOKENS_TOTAL,
        names.REQUESTS: names.PROM_REQUESTS_TOTAL,
        names.UNPRICED_REQUESTS: names.PROM_UNPRICED_REQUESTS_TOTAL,
        names.BUDGET_USD: names.PROM_BUDGET_USD,
        names.BUDGET_SPENT_USD: names.PROM_BUDGET_SPENT_USD,
        names.BUDGET_RATIO: names.PROM_BUDGET_RATIO,
        names.BUDGET_STOPPED: names.PROM_BUDGET_STOPPED,
        names.BUDGET_STOP_USD: names.PROM_BUDGET_STOP_USD,
        names.BUDGET_BLOCKED_REQUESTS: names.PROM_BUDGET_BLOCKED_REQUESTS_TOTAL,
        names.WORKFLOW_OUTCOMES: names.PROM_WORKFLOW_OUTCOMES_TOTAL,
    }
    assert translated[names.COUNTERS_START_TIME] == names.PROM_COUNTERS_START_TIME_SECONDS
    assert translated[names.SELF_SPANS_PRICED] == names.SELF_SPANS_PRICED  # self-telemetry unchanged
    assert translated[names.SELF_INFLIGHT_BATCHES] == names.SELF_INFLIGHT_BATCHES


def test_otlp_sums_are_cumulative_monotonic_with_exemplars(metrics: CostMetrics, ledger: Ledger) -> None:
    now = time.time_ns()
    request = metrics.to_otlp(now)
    resource = {kv.key: kv.value.string_value for kv in request.resource_metrics[0].resource.attributes}
    assert resource["service.instance.id"] == metrics.service_instance_id
    by_name = {m.name: m for m in request.resource_metrics[0].scope_metrics[0].metrics}
    cost = by_name[names.COST_USD]
    assert cost.unit == names.UNIT_USD
    assert cost.sum.aggregation_temporality == AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    assert cost.sum.is_monotonic
    points = {
        next(a.value.string_value for a in p.attributes if a.key == "token_type"): p
        for p in cost.sum.data_points
    }
    assert points["output"].as_double == 0.002
    assert points["output"].start_time_unix_nano == ledger.created_ns <= (ledger.first_record_ns or 0)
    assert points["output"].time_unix_nano == now
    (exemplar,) = points["output"].exemplars
    assert (exemplar.trace_id, exemplar.span_id) == (make_call(1).trace_id, make_call(1).span_id)
    assert exemplar.as_double == 0.002
    requests = by_name[names.REQUESTS].sum
    assert sum(p.as_int for p in requests.data_points) == 2
    assert requests.is_monotonic
    budget = by_name[names.BUDGET_USD]
    assert budget.WhichOneof("data") == "gauge"
    assert budget.gauge.data_points[0].as_double == 100
    (started,) = by_name[names.COUNTERS_START_TIME].gauge.data_points
    assert started.as_double == ledger.created_ns / 1e9


def test_the_start_time_survives_a_restart(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        first = CostMetrics()
        first.seed_from(ledger)  # still empty
        first.observe(ledger.record([priced(make_call(1))]))
        before = first.to_otlp(time.time_ns())
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        again = CostMetrics()
        again.seed_from(ledger)
        after = again.to_otlp(time.time_ns())

    def starts(request: ExportMetricsServiceRequest) -> set[int]:
        metrics = request.resource_metrics[0].scope_metrics[0].metrics
        return {
            p.start_time_unix_nano
            for m in metrics
            if m.WhichOneof("data") == "sum"
            for p in m.sum.data_points
        }

    assert starts(before) == starts(after) == {ledger.created_ns}


class _Capture:
    """An OTLP/HTTP metrics receiver on 127.0.0.1 that keeps what it was sent."""

    def __init__(self, status: int = 200, rejected: int = 0) -> None:
        self.requests: list[ExportMetricsServiceRequest] = []
        self.headers: list[Message] = []
        self.status, self.rejected = status, rejected
        self.received = threading.Event()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                capture.headers.append(self.headers)  # header names are case-insensitive
                capture.requests.append(ExportMetricsServiceRequest.FromString(body))
                reply = ExportMetricsServiceResponse()
                reply.partial_success.rejected_data_points = capture.rejected
                payload = reply.SerializeToString()
                self.send_response(capture.status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                capture.received.set()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/otlp/v1/metrics"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_pusher_posts_protobuf_periodically_and_flushes_on_stop(metrics: CostMetrics) -> None:
    capture = _Capture()
    pusher = OtlpMetricsPusher(metrics, capture.url, headers={"X-Scope-OrgID": "acme"}, interval_s=0.05)
    try:
        pusher.start()
        deadline = time.monotonic() + 10
        while len(capture.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        pusher.stop()
        pushed = len(capture.requests)
        assert pushed >= 3  # two periodic pushes and the final flush
        time.sleep(0.2)
        assert len(capture.requests) == pushed  # stopped means stopped
    finally:
        capture.close()
    assert capture.headers[0]["X-Scope-OrgID"] == "acme"
    assert capture.headers[0]["Content-Type"] == "application/x-protobuf"
    last = capture.requests[-1].resource_metrics[0].scope_metrics[0].metrics
    assert {m.name for m in last} >= {names.COST_USD, names.REQUESTS, names.BUDGET_USD}
    assert metrics.telemetry.value(names.SELF_EXPORTS, target="otlp_metrics") == pushed
    assert metrics.telemetry.value(names.SELF_EXPORT_FAILURES, target="otlp_metrics") == 0


@pytest.mark.parametrize("failure", ["refused", "http_500", "rejected_points"])
def test_a_failed_push_is_counted_never_raised(metrics: CostMetrics, failure: str) -> None:
    capture = _Capture(
        status=500 if failure == "http_500" else 200, rejected=3 if failure == "rejected_points" else 0
    )
    url = capture.url
    if failure == "refused":
        capture.close()
        with socket.create_server(("127.0.0.1", 0)) as probe:  # a port nothing listens on afterwards
            url = f"http://127.0.0.1:{probe.getsockname()[1]}/otlp/v1/metrics"
    try:
        pusher = OtlpMetricsPusher(metrics, url, interval_s=60, timeout_s=2)
        assert pusher.push_once() is False
        pusher.stop()  # the final flush fails too, quietly
    finally:
        if failure != "refused":
            capture.close()
    assert metrics.telemetry.value(names.SELF_EXPORT_FAILURES, target="otlp_metrics") == 2
    assert metrics.telemetry.value(names.SELF_EXPORTS, target="otlp_metrics") == 0
