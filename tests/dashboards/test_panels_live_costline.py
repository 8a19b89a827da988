"""Live: a real `costline serve` receives known calls over OTLP/gRPC (the OTel SDK's exporter), a real
Prometheus scrapes its /metrics (OpenMetrics, with exemplars), and every instant panel's PromQL equals the
ledger's totals (read from the SQLite ledger after the service stopped). Range panels must return data, and
the cost exemplars must carry the trace ids of the calls that were sent.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dashboards.promql import FILTER_VARIABLES
from grafana_queries import panel_queries
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from panel_checks import INSTANT, RANGE, assert_equal, series_values, variables
from prom_expected import Expectations, Filters, month_start
from prom_history import Call as LedgerCall
from prom_history import History, OutcomeEvent, Stream
from prom_server import Prometheus, running, write_config

from costline import attributes as attr
from costline_processor.ledger import Ledger
from costline_processor.metric_names import (
    PROM_COST_USD_TOTAL,
    PROM_REQUESTS_TOTAL,
    PROM_WORKFLOW_OUTCOMES_TOTAL,
)
from costline_processor.report import build_report, load_facts

# D2's helpers: tests/ is on sys.path under pytest (rootdir conftest); tests/e2e only when its tests run.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from serve_process import ServeProcess  # type: ignore[import-not-found,unused-ignore]

from genai_spans import Call, OutcomeSpec, emit  # type: ignore[import-not-found,unused-ignore]

pytestmark = [pytest.mark.prometheus, pytest.mark.e2e]

BUDGETS = {"customer_support": Decimal("0.05"), "sales_research": Decimal("2")}
STOPS = {"customer_support": Decimal("0.06")}  # stop_at: 120
BUDGETS_FILE = """\
budgets:
  - {workflow_id: customer_support, period: monthly, limit_usd: 0.05, stop_at: 120, on_stop: block}
  - {workflow_id: sales_research, period: monthly, limit_usd: 2}
"""
SCRAPE_MS = 500
WAIT_S = 30.0


def _call(model: str, provider: str, workflow: str | None, tenant: str, n: int, **extra: Any) -> Call:
    attribution = {attr.TENANT_ID: tenant, attr.FEATURE_ID: "chat"}
    return Call(
        provider,
        model,
        input_tokens=1000 + 100 * n,
        output_tokens=200 + 10 * n,
        cache_read=300 if n % 2 else 0,
        response_id=f"resp-{model}-{n}",
        workflow_id=workflow,
        extra={**attribution, **extra},
    )


# service name -> calls; unknown model and error call included on purpose
TRAFFIC = {
    "support-api": [
        *(_call("gpt-4o-mini", attr.PROVIDER_OPENAI, "customer_support", "acme", n) for n in range(3)),
        _call("gpt-4o", attr.PROVIDER_OPENAI, "customer_support", "globex", 3),
        _call("acme-llm-9000", attr.PROVIDER_OPENAI, "customer_support", "acme", 4),
        _call(
            "gpt-4o-mini", attr.PROVIDER_OPENAI, "customer_support", "acme", 5, **{attr.ERROR_TYPE: "Timeout"}
        ),
    ],
    "sales-agent": [
        *(_call("claude-sonnet-4-5", attr.PROVIDER_ANTHROPIC, "sales_research", "acme", n) for n in range(2)),
        _call("claude-sonnet-4-5", attr.PROVIDER_ANTHROPIC, None, "acme", 7),
    ],
}
OUTCOMES = [
    OutcomeSpec("customer_support", "ticket_resolved", 2),
    OutcomeSpec("sales_research", "lead_qualified"),
]
CALL_COUNT = sum(len(calls) for calls in TRAFFIC.values())


@dataclass
class LiveRun:
    prometheus: Prometheus
    at_s: int
    started_s: float
    trace_ids: set[str]
    ledger_path: Path


def _send(grpc_target: str) -> set[str]:
    """Emit the traffic with the OTel SDK's OTLP/gRPC exporter; return the trace ids (hex)."""
    trace_ids: set[str] = set()
    for service, calls in TRAFFIC.items():
        captured = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(
            SimpleSpanProcessor(OTLPSpanExporter(endpoint=grpc_target, insecure=True))
        )
        provider.add_span_processor(SimpleSpanProcessor(captured))
        emit(provider, calls, outcomes=OUTCOMES if service == "support-api" else ())
        provider.shutdown()
        trace_ids |= {f"{span.context.trace_id:032x}" for span in captured.get_finished_spans()}
    return trace_ids


def _scalar(prometheus: Prometheus, expr: str, at: float) -> float:
    result = prometheus.query(expr, at)
    return float(result[0]["value"][1]) if result else math.nan


def _holds_everything(prometheus: Prometheus, at: float) -> bool:
    calls = _scalar(prometheus, f"sum({PROM_REQUESTS_TOTAL})", at)
    outcomes = _scalar(prometheus, f"sum({PROM_WORKFLOW_OUTCOMES_TOTAL})", at)
    return calls == CALL_COUNT and outcomes == sum(o.count for o in OUTCOMES)


def _wait_scraped(prometheus: Prometheus) -> int:
    """Wait until Prometheus holds every call and outcome, then a few scrapes more (rate() needs two
    samples); return a whole second at which it does (Grafana queries at whole seconds too)."""
    deadline = time.monotonic() + WAIT_S
    while not _holds_everything(prometheus, time.time()):
        assert time.monotonic() < deadline, f"Prometheus did not see {CALL_COUNT} calls within {WAIT_S}s"
        time.sleep(SCRAPE_MS / 1000)
    time.sleep(4 * SCRAPE_MS / 1000)
    at = int(time.time())
    assert _holds_everything(prometheus, at)
    return at


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRun]:
    workdir = tmp_path_factory.mktemp("live")
    budgets = workdir / "budgets.yaml"
    budgets.write_text(BUDGETS_FILE, encoding="utf-8")
    started = time.time()
    serve = ServeProcess(workdir, args=[f"--budgets={budgets}"])
    with serve:
        config = workdir / "prometheus.yml"
        write_config(config, [f"127.0.0.1:{serve.metrics_port}"], SCRAPE_MS)
        with running(config, workdir / "data") as prometheus:
            trace_ids = _send(serve.grpc_target)
            at = _wait_scraped(prometheus)
            serve.stop()  # releases the ledger; Prometheus keeps what it scraped before `at`
            yield LiveRun(prometheus, at, started, trace_ids, serve.ledger_path)


def _ledger_expectations(run: LiveRun) -> Expectations:
    """The ledger's aggregates as calls (one carries the totals, the rest count as requests)."""
    end = run.at_s
    history = History(start_s=int(run.started_s) - 1, end_s=end)
    priced: list[Stream] = []
    zero = (Decimal(0),) * 4
    with Ledger(run.ledger_path) as ledger:
        for agg in ledger.iter_aggregates():
            stream = Stream(*agg.labels, price_per_mtok=zero)
            if not agg.reason:
                priced.append(stream)
            for index in range(agg.requests):
                first = index == 0
                tokens = (
                    (agg.tokens[0], agg.tokens[1], agg.tokens[2], agg.tokens[3]) if first else (0, 0, 0, 0)
                )
                cost = (agg.cost[0], agg.cost[1], agg.cost[2], agg.cost[3]) if first else zero
                call = LedgerCall(end - 1, stream, tokens, cost, agg.status, agg.reason or None)
                history.calls.append(call)
        for outcome in ledger.iter_outcome_aggregates():
            history.outcomes.append(
                OutcomeEvent(end - 1, outcome.workflow_id, outcome.outcome, outcome.count)
            )
    assert sum(agg_call.status == "ok" for agg_call in history.calls) < CALL_COUNT  # the error call is there
    return Expectations(history, end, Filters(), priced=priced, budgets=BUDGETS, stops=STOPS)


def test_instant_panels_equal_the_ledger(live: LiveRun) -> None:
    expectations = _ledger_expectations(live)
    assert len(expectations.history.calls) == CALL_COUNT
    assert any(c.unpriced_reason for c in expectations.history.calls)  # the unknown model
    at = live.at_s
    for query in panel_queries():
        if query.key not in INSTANT:
            continue
        # The whole test is inside the window either way; month-to-date uses the month start as Grafana would.
        range_s = at - month_start(at) if query.time_from == "now/M" else at - int(live.started_s) + 60
        expr = _interpolate(query.text, range_s)
        result = live.prometheus.query(expr, at)
        context = f"live {query.title} ({query.ref_id})"
        assert result, f"{context}: the query returned nothing: {expr}"
        labels, expected = INSTANT[query.key]
        assert_equal(series_values(result, labels), expected(expectations, range_s), context)


def _interpolate(text: str, range_s: int) -> str:
    from grafana_queries import interpolate

    builtins = {
        "__range": f"{range_s}s",
        "__range_s": str(range_s),
        "__rate_interval": "10s",
        "__interval": "1s",
    }
    return interpolate(text, variables(Filters()), builtins)


def test_range_panels_return_data(live: LiveRun) -> None:
    for query in panel_queries():
        if query.key not in RANGE:
            continue
        expr = _interpolate(query.text, 60)
        result = live.prometheus.query_range(expr, live.at_s - 20, live.at_s, 1)
        assert result, f"live {query.title}: the query returned nothing: {expr}"
        values = [float(v) for series in result for _, v in series["values"]]
        assert all(math.isnan(v) or v >= 0 for v in values), query.title


def test_cost_exemplars_link_to_the_sent_traces(live: LiveRun) -> None:
    exemplars = live.prometheus.exemplars(PROM_COST_USD_TOTAL, live.started_s - 60, live.at_s + 1)
    trace_ids = {e["labels"]["trace_id"] for series in exemplars for e in series["exemplars"]}
    assert trace_ids, "no exemplars scraped (OpenMetrics negotiation or exemplar storage off?)"
    assert trace_ids <= live.trace_ids


def test_variable_values_come_from_the_live_labels(live: LiveRun) -> None:
    got = live.prometheus.label_values(FILTER_VARIABLES[0], PROM_COST_USD_TOTAL, live.started_s, live.at_s)
    assert sorted(got) == sorted({"customer_support", "sales_research", attr.UNATTRIBUTED})


@pytest.mark.parametrize("by", ["workflow_id", "workflow_id,model", "tenant_id,service_name,provider"])
def test_report_from_prometheus_equals_report_from_the_ledger(live: LiveRun, by: str) -> None:
    """`costline report --prometheus` and `--ledger` give the same numbers for the same calls."""
    since = datetime.fromtimestamp(live.started_s - 60, tz=UTC)
    until = datetime.fromtimestamp(live.at_s, tz=UTC)  # serve stopped after it: later samples are stale
    reports = {}
    for source in ("ledger", "prometheus"):
        facts = load_facts(
            ledger_url=live.ledger_path,
            prometheus_url=live.prometheus.url if source == "prometheus" else None,
            headers={},
            by=by,
            since=since,
            until=until,
        )
        reports[source] = build_report(facts)
    ledger, prom = reports["ledger"], reports["prometheus"]
    assert ledger.rows, "the ledger report is empty"
    assert [row.key for row in prom.rows] == [row.key for row in ledger.rows]
    for from_prom, from_ledger in zip(prom.rows, ledger.rows, strict=True):
        # Prometheus holds float64 values; the ledger's exact Decimals must match to float precision.
        assert float(from_prom.cost) == pytest.approx(float(from_ledger.cost), rel=1e-12, abs=1e-15)
        assert from_prom.requests == from_ledger.requests
        assert from_prom.top_model == from_ledger.top_model
    assert prom.unpriced_requests == ledger.unpriced_requests == 1
    assert float(prom.unattributed_cost) == pytest.approx(float(ledger.unattributed_cost), rel=1e-12)
    assert [(o.workflow_id, o.outcome, o.count) for o in prom.outcome_costs] == [
        (o.workflow_id, o.outcome, o.count) for o in ledger.outcome_costs
    ]
