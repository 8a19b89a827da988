"""Budgets end to end: a real `costline serve` with a budgets file receives real OTLP spans (the OTel SDK's
gRPC exporter) and `GET /v1/budgets` shows each budget's exact spend the moment the export returns.

Expected spend is computed here by hand from list prices, USD per million tokens: gpt-4o-mini (OpenAI)
0.15 input / 0.60 output; claude-haiku-4-5 (Anthropic) 1 input / 5 output.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanKind
from serve_process import Sample, ServeProcess, total

from costline import attributes as attr
from costline_processor import metric_names as names
from genai_spans import Call, make_spans, provider

pytestmark = pytest.mark.e2e

TOKEN = "budget-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ACME: dict[str, Any] = {attr.TENANT_ID: "acme"}
ACME_TRIAGE: dict[str, Any] = {**ACME, attr.FEATURE_ID: "triage"}
BUDGETS = """\
budgets:
  - {workflow_id: support, period: daily, limit_usd: 0.003, stop_at: 120, on_stop: block}
  - workflow_id: support
    period: monthly
    limit_usd: 100
  - {tenant_id: acme, period: monthly, limit_usd: 0.005, stop_at: 100, on_stop: downgrade,
     downgrade_to: claude-haiku-4-5}
  - {workflow_id: support, feature_id: triage, tenant_id: acme, period: daily, limit_usd: 1, alert_at: [90]}
"""
DAILY = "workflow_id=support;period=daily"
MONTHLY = "workflow_id=support;period=monthly"
ACME_MONTHLY = "tenant_id=acme;period=monthly"
TRIAGE = "workflow_id=support;feature_id=triage;tenant_id=acme;period=daily"

# (calls of one export, then the expected spent_usd and status per budget id)
STEPS: list[tuple[list[Call], dict[str, tuple[str, str]]]] = [
    (  # 8,000 x 0.15 + 500 x 0.60 = 1,500 micro-USD; no feature_id: not under the triage budget
        [Call("openai", "gpt-4o-mini", 8_000, 500, extra=ACME)],
        {DAILY: ("0.0015", "alert_50"), MONTHLY: ("0.0015", "ok"), ACME_MONTHLY: ("0.0015", "ok"),
         TRIAGE: ("0", "ok")},
    ),
    (  # 4,000 x 0.15 + 500 x 0.60 = 900; another workflow and an unattributed call count for neither
        [Call("openai", "gpt-4o-mini", 4_000, 500, extra=ACME_TRIAGE),
         Call("openai", "gpt-4o-mini", 50_000, 0, workflow_id="sales"),
         Call("openai", "gpt-4o-mini", 50_000, 0, workflow_id=None)],
        {DAILY: ("0.0024", "alert_80"), ACME_MONTHLY: ("0.0024", "ok"), TRIAGE: ("0.0009", "ok")},
    ),
    (  # 2,000 x 0.15 + 500 x 0.60 = 600: 100 % of the daily budget
        [Call("openai", "gpt-4o-mini", 2_000, 500, extra=ACME_TRIAGE)],
        {DAILY: ("0.003", "over"), ACME_MONTHLY: ("0.003", "alert_50"), TRIAGE: ("0.0015", "ok")},
    ),
    (  # 600 more: 120 % of the daily budget, its stop; claude-haiku-4-5 for acme's sales:
        # 1,000 x 1 + 100 x 5 = 1,500, so acme reaches 0.0051 of its 0.005 with stop_at 100
        [Call("openai", "gpt-4o-mini", 2_000, 500, extra=ACME_TRIAGE),
         Call("anthropic", "claude-haiku-4-5", 1_000, 100, workflow_id="sales", extra=ACME)],
        {DAILY: ("0.0036", "stopped"), MONTHLY: ("0.0036", "ok"), ACME_MONTHLY: ("0.0051", "stopped"),
         TRIAGE: ("0.0021", "ok")},
    ),
]  # fmt: skip


@pytest.fixture
def budgets_file(tmp_path: Path) -> Path:
    path = tmp_path / "budgets.yaml"
    path.write_text(BUDGETS, encoding="utf-8")
    return path


@pytest.fixture
def serve(tmp_path: Path, budgets_file: Path) -> Iterator[ServeProcess]:
    wait_past_utc_midnight()
    with ServeProcess(tmp_path, args=[f"--budgets={budgets_file}", f"--bearer-token={TOKEN}"]) as process:
        yield process


def wait_past_utc_midnight() -> None:
    """The daily budgets reset at 00:00 UTC: a run that would straddle it starts just after it instead."""
    now = datetime.now(UTC)
    to_midnight = (now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)) - now
    if to_midnight < timedelta(seconds=60):
        time.sleep(to_midnight.total_seconds() + 1)


def export(serve: ServeProcess, spans: Sequence[ReadableSpan]) -> None:
    exporter = GrpcSpanExporter(
        endpoint=serve.grpc_target, insecure=True, headers=(("authorization", f"Bearer {TOKEN}"),)
    )
    try:
        assert exporter.export(spans) == SpanExportResult.SUCCESS, serve.log()
    finally:
        exporter.shutdown()


def budgets(serve: ServeProcess) -> tuple[datetime, dict[str, dict[str, Any]]]:
    status, body = serve.get("/v1/budgets", headers=AUTH)
    assert status == 200, body
    document = json.loads(body)
    as_of = datetime.strptime(document["as_of"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return as_of, {entry["id"]: entry for entry in document["budgets"]}


def test_spend_and_status_follow_every_commit(serve: ServeProcess) -> None:
    for calls, expected in STEPS:
        export(serve, make_spans(calls))
        _, state = budgets(serve)  # no waiting: the export returned after the ledger committed
        for budget_id, (spent, status) in expected.items():
            assert (state[budget_id]["spent_usd"], state[budget_id]["status"]) == (spent, status), budget_id
    as_of, state = budgets(serve)
    daily, acme = state[DAILY], state[ACME_MONTHLY]
    assert daily["ratio"] == "1.2"  # 0.0036 / 0.003
    assert state[MONTHLY]["ratio"] == "0.000036"
    assert (daily["limit_usd"], daily["stop_at"], daily["on_stop"], daily["downgrade_to"]) == (
        "0.003", 120, "block", None)  # fmt: skip
    assert (acme["on_stop"], acme["downgrade_to"], acme["alert_at"]) == (
        "downgrade", "claude-haiku-4-5", [50, 80, 100])  # fmt: skip
    assert state[TRIAGE]["alert_at"] == [90]
    assert state[TRIAGE]["scope"] == {"workflow_id": "support", "feature_id": "triage", "tenant_id": "acme"}
    check_periods(as_of, state)


def check_periods(as_of: datetime, state: dict[str, dict[str, Any]]) -> None:
    today = as_of.replace(hour=0, minute=0, second=0)
    first = today.replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    assert state[DAILY]["period_start"] == today.strftime(stamp)
    assert state[DAILY]["resets_at"] == (today + timedelta(days=1)).strftime(stamp)
    assert state[MONTHLY]["period_start"] == first.strftime(stamp)
    assert state[MONTHLY]["resets_at"] == next_month.strftime(stamp)
    # the projection is linear: spent x the period's length / its elapsed part (as_of is whole seconds)
    elapsed = (as_of - today).total_seconds()
    projected = Decimal(state[DAILY]["projected_usd"])
    assert projected == pytest.approx(Decimal("0.0036") * 86_400 / Decimal(elapsed), rel=Decimal("1e-3"))


def series(samples: Mapping[Sample, float], name: str, **labels: str) -> float:
    """The value of the one series of `name` with exactly `labels`."""
    return samples[name, frozenset(labels.items())]


def test_the_gauges_show_the_same_numbers(serve: ServeProcess) -> None:
    for calls, _ in STEPS:
        export(serve, make_spans(calls))
    samples = serve.metrics()
    daily = {"workflow_id": "support", "period": "daily"}
    assert series(samples, names.PROM_BUDGET_USD, **daily) == 0.003
    assert series(samples, names.PROM_BUDGET_SPENT_USD, **daily) == pytest.approx(0.0036, rel=1e-12)
    assert series(samples, names.PROM_BUDGET_RATIO, **daily) == 1.2
    assert series(samples, names.PROM_BUDGET_STOPPED, **daily) == 1
    assert series(samples, names.PROM_BUDGET_STOP_USD, **daily, on_stop="block") == pytest.approx(0.0036)
    assert series(samples, names.PROM_BUDGET_STOPPED, workflow_id="support", period="monthly") == 0
    triage = {**daily, "feature_id": "triage", "tenant_id": "acme"}
    assert series(samples, names.PROM_BUDGET_SPENT_USD, **triage) == pytest.approx(0.0021, rel=1e-12)
    acme = {"tenant_id": "acme", "period": "monthly"}
    assert series(samples, names.PROM_BUDGET_SPENT_USD, **acme) == pytest.approx(0.0051, rel=1e-12)
    stop = {**acme, "on_stop": "downgrade", "downgrade_to": "claude-haiku-4-5"}
    assert series(samples, names.PROM_BUDGET_STOP_USD, **stop) == 0.005
    # a scope key outside the budget's scope is absent, not "*": the tenant budget has no workflow_id
    labels = {dict(pairs).get("workflow_id") for (name, pairs) in samples if name == names.PROM_BUDGET_USD}
    assert labels == {"support", None}


def blocked_spans(scope: str | None) -> list[ReadableSpan]:
    """The span the app's guard ends for a call it blocked: no request was sent, so no usage."""
    tracer_provider, exporter = provider()
    found: dict[str, Any] = {
        attr.GEN_AI_PROVIDER_NAME: "openai", attr.GEN_AI_OPERATION_NAME: attr.OPERATION_CHAT,
        attr.GEN_AI_REQUEST_MODEL: "gpt-4o-mini", attr.WORKFLOW_ID: "support",
        attr.ERROR_TYPE: "BudgetExceeded", attr.LLM_BUDGET_BLOCKED: True,
    }  # fmt: skip
    if scope is not None:
        found.update({attr.LLM_BUDGET_SCOPE: scope, attr.LLM_BUDGET_PERIOD: "daily"})
    tracer = tracer_provider.get_tracer(attr.INSTRUMENTATION_SCOPE)
    tracer.start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=found).end()
    tracer_provider.shutdown()
    return list(exporter.get_finished_spans())


def test_blocked_calls_are_counted_for_their_budget_not_as_calls(serve: ServeProcess) -> None:
    export(serve, make_spans(STEPS[0][0]))
    export(serve, blocked_spans("workflow_id=support"))
    export(serve, blocked_spans("workflow_id=support"))
    export(serve, blocked_spans(None))  # the guard failed closed: no budget named
    samples = serve.metrics()
    blocked = names.PROM_BUDGET_BLOCKED_REQUESTS_TOTAL
    assert total(samples, blocked, workflow_id="support", period="daily") == 2
    assert total(samples, blocked) == 3
    assert total(samples, names.PROM_REQUESTS_TOTAL) == 1  # the blocked calls were never made
    assert total(samples, names.PROM_UNPRICED_REQUESTS_TOTAL) == 0
    assert budgets(serve)[1][DAILY]["spent_usd"] == "0.0015"


def test_the_bearer_token_is_required(serve: ServeProcess) -> None:
    assert serve.get("/v1/budgets") == (401, "missing or wrong bearer token\n")
    assert serve.get("/v1/budgets", headers={"Authorization": "Bearer wrong"})[0] == 401
    assert serve.get("/v1/budgets", headers=AUTH)[0] == 200


def test_a_restart_reads_the_spend_back_from_the_ledger(tmp_path: Path, budgets_file: Path) -> None:
    wait_past_utc_midnight()
    args = [f"--budgets={budgets_file}", f"--bearer-token={TOKEN}"]
    with ServeProcess(tmp_path, args=args) as first:
        for calls, _ in STEPS:
            export(first, make_spans(calls))
        _, before = budgets(first)
    with ServeProcess(tmp_path, args=args) as second:
        _, after = budgets(second)
    assert {k: (v["spent_usd"], v["status"]) for k, v in after.items()} == {
        k: (v["spent_usd"], v["status"]) for k, v in before.items()
    }
    assert after[ACME_MONTHLY]["spent_usd"] == "0.0051"


def test_the_old_form_is_a_monthly_workflow_budget(tmp_path: Path) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text("support: 0.002\n", encoding="utf-8")
    with ServeProcess(tmp_path, args=[f"--budgets={path}"]) as serve:
        export_plain(serve, make_spans(STEPS[0][0]))
        status, body = serve.get("/v1/budgets")  # no token configured: none needed
    assert status == 200
    (entry,) = json.loads(body)["budgets"]
    assert (entry["id"], entry["spent_usd"], entry["ratio"], entry["status"]) == (
        MONTHLY, "0.0015", "0.75", "alert_50")  # fmt: skip


def export_plain(serve: ServeProcess, spans: Sequence[ReadableSpan]) -> None:
    exporter = GrpcSpanExporter(endpoint=serve.grpc_target, insecure=True)
    try:
        assert exporter.export(spans) == SpanExportResult.SUCCESS, serve.log()
    finally:
        exporter.shutdown()


BAD_FILES = [
    (
        "budgets:\n"
        "  - {workflow_id: support, period: weekly, limit_usd: -5}\n"
        "  - {workflow_id: support, period: daily, limit_usd: 5, stop_at: 120}\n"
        "  - {tenant_id: acme, period: daily, limit: 5}\n"
        "  - {workflow_id: sales, period: daily, limit_usd: 1}\n"
        "  - {workflow_id: sales, period: daily, limit_usd: 2}\n",
        [
            "line 2: period must be daily or monthly (got 'weekly')",
            "line 2: limit_usd must not be negative (got '-5')",
            "line 3: stop_at needs on_stop: block or downgrade",
            "line 4: unknown key 'limit' (did you mean 'limit_usd'?",
            "line 4: limit_usd is missing",
            "line 6: budget workflow_id=sales;period=daily is listed twice (first on line 5)",
        ],
    ),
    (
        "budgets:\n"
        "  - {workflow_id: support, period: daily, limit_usd: 5, stop_at: 100, on_stop: downgrade,\n"
        "     downgrade_to: claude-haiku-4.6-fast}\n",
        [
            "line 3: downgrade_to 'claude-haiku-4.6-fast' is not a model costline can price",
            "close known ids: claude-haiku-4",
        ],
    ),
]


@pytest.mark.parametrize(("content", "problems"), BAD_FILES, ids=["file problems", "unknown model"])
def test_a_bad_budgets_file_exits_2_naming_every_problem(
    tmp_path: Path, content: str, problems: list[str]
) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text(content, encoding="utf-8")
    serve = ServeProcess(tmp_path, args=[f"--budgets={path}"])
    with pytest.raises(RuntimeError, match="did not start"):
        serve.start(timeout_s=20)
    assert serve.process is not None
    assert serve.process.returncode == 2
    log = serve.log()
    for problem in problems:
        assert f"costline serve: config error: budgets: {problem}" in log or problem in log, log
    assert "Traceback" not in log


def test_a_retention_shorter_than_the_period_exits_2(tmp_path: Path, budgets_file: Path) -> None:
    serve = ServeProcess(tmp_path, args=[f"--budgets={budgets_file}", "--retention-days=7"])
    with pytest.raises(RuntimeError, match="did not start"):
        serve.start(timeout_s=20)
    assert serve.process is not None
    assert serve.process.returncode == 2
    assert "retention_days is 7: the ledger would purge calls of the current period that the monthly" in (
        serve.log()
    )
