"""`costline demo` as a user runs it: real processes end to end, numbers checked against list prices by hand.

Expected spend is computed by hand in `demo_expected.py`, from the scenario's planned usage and the providers'
published per-million token list prices, never with costline's pricing code. The demo's two fortnights tell
the story of a bill that rose 47 %: the comparison must name each planted driver with its amount. One demo
run (`demo_run`, in conftest.py) serves this module and the HTML one (`test_demo_html.py`).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from demo_expected import (
    COSTLINE,
    DOWNGRADED,
    END,
    SECOND,
    SEED,
    cent,
    expected_spend,
    list_price,
    planned_calls,
)

from costline_processor.demo import budget as demo_budget
from costline_processor.demo.scenario import (
    POWER_USERS,
    VERBOSE_SYSTEM_PROMPT_TOKENS,
    plan,
)


def test_every_planned_call_is_priced_exactly(demo_run: tuple[Path, str]) -> None:
    workdir, stdout = demo_run
    report = subprocess.run(
        [
            str(COSTLINE),
            "report",
            "--ledger",
            str(workdir / "ledger.sqlite3"),
            "--since",
            "2026-10-01",
            "--until",
            "2026-12-01",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data = json.loads(report.stdout)
    expected = expected_spend()
    got = {row["workflow_id"]: Decimal(row["cost_usd"]) for row in data["rows"]}
    assert got == expected
    assert data["total_requests"] == len(plan(SEED, END))
    assert data["unpriced_requests"] == 0
    assert f"{len(plan(SEED, END)):,} of {len(plan(SEED, END)):,} calls recorded" in stdout


def test_table_names_workflows_and_the_hidden_drivers(demo_run: tuple[Path, str]) -> None:
    _, stdout = demo_run
    for workflow, cost in expected_spend().items():
        assert workflow in stdout
        assert f"${cost.quantize(Decimal('0.01'), ROUND_HALF_UP):,}" in stdout  # to the cent, half up
    assert "[spike] front_desk_concierge" in stdout
    assert "[retry_loop] housekeeping_dispatcher" in stdout
    assert "property-17" in stdout
    assert "[power_user] procurement_assistant" in stdout
    for user in POWER_USERS:
        assert user in stdout
    assert "[step_change] front_desk_concierge" in stdout
    assert "[step_change] revenue_management_copilot" in stdout
    assert "[unattributed]" in stdout


def test_the_budget_stop_downgrades_exactly_the_calls_after_the_crossing(demo_run: tuple[Path, str]) -> None:
    workdir, stdout = demo_run
    assert (
        f"Budget guardrail: {demo_budget.WORKFLOW} reached its daily stop (budgets.yaml); the guard sent"
        f" its last {demo_budget.CALLS_AFTER_STOP} calls of the day to {demo_budget.DOWNGRADE_TO} instead"
    ) in stdout
    with sqlite3.connect(workdir / "ledger.sqlite3") as db:
        models = [
            row[0]
            for row in db.execute(
                "SELECT request_model FROM calls WHERE workflow_id = ? ORDER BY time_ns",
                (demo_budget.WORKFLOW,),
            )
        ]
    mine = [c for c in plan(SEED, END) if c.workflow_id == demo_budget.WORKFLOW]
    assert len(models) == len(mine)
    expected = [demo_budget.DOWNGRADE_TO if c.seq in DOWNGRADED else c.model for c in mine]
    assert models == expected
    assert len(DOWNGRADED) == demo_budget.CALLS_AFTER_STOP
    # the stop line: what the calls before the last ones of the month cost, so the next one is downgraded
    budgets = (workdir / "budgets.yaml").read_text()
    assert f"period: daily, limit_usd: {demo_budget.daily_limit(plan(SEED, END), END)}," in budgets
    assert "on_stop: downgrade, downgrade_to: claude-haiku-4-5" in budgets


def test_gemini_and_bedrock_workflows_are_priced_at_their_list_prices(demo_run: tuple[Path, str]) -> None:
    workdir, _ = demo_run
    with sqlite3.connect(workdir / "ledger.sqlite3") as db:
        rows = db.execute(
            "SELECT workflow_id, provider, count(*) FROM calls"
            " WHERE workflow_id IN ('guest_review_translator', 'supplier_invoice_extractor') GROUP BY 1, 2"
        ).fetchall()
    planned = defaultdict(int)
    for call in plan(SEED, END):
        if call.provider in {"gcp.gemini", "aws.bedrock"}:
            planned[(call.workflow_id, call.provider)] += 1
    assert {(w, p): n for w, p, n in rows} == planned
    assert any(c.usage.reasoning_tokens for c in plan(SEED, END) if c.provider == "gcp.gemini")


def _comparison(workdir: Path) -> dict[str, object]:
    report = subprocess.run(
        [
            str(COSTLINE), "report", "--ledger", str(workdir / "ledger.sqlite3"), "--since", "2026-11-09",
            "--until", "2026-11-23", "--compare", "previous", "--format", "json",
        ],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    data = json.loads(report.stdout)
    assert isinstance(data, dict)
    return data


def test_the_bill_rose_47_percent_and_the_report_says_why(demo_run: tuple[Path, str]) -> None:
    workdir, stdout = demo_run
    before, after = expected_spend(before=SECOND), expected_spend(since=SECOND)
    rise = sum(after.values(), Decimal(0)) - sum(before.values(), Decimal(0))
    share = rise / sum(before.values(), Decimal(0))
    assert f"{share:.1%}" == "47.0%"
    data = _comparison(workdir)["comparison"]
    assert Decimal(data["change_usd"]) == rise
    drivers = [Decimal(data[name]) for name in ("volume_usd", "usage_per_request_usd", "price_mix_usd")]
    assert sum(drivers) == rise  # to the last digit
    rows = {row["workflow_id"]: row for row in data["rows"]}
    for workflow in after:
        row = rows[workflow]
        assert (Decimal(row["before_cost_usd"]), Decimal(row["after_cost_usd"])) == (
            before[workflow],
            after[workflow],
        )
        if workflow != demo_budget.WORKFLOW:  # the same models at the same list prices
            assert Decimal(row["price_mix_usd"]) == 0, workflow
    # the payroll assistant's budget stop moved its last calls to a cheaper model
    assert Decimal(rows[demo_budget.WORKFLOW]["price_mix_usd"]) < 0
    # The concierge and the copilot made as many calls as before: all their change is usage per request.
    for workflow in ("front_desk_concierge", "revenue_management_copilot"):
        assert Decimal(rows[workflow]["volume_usd"]) == 0
        assert Decimal(rows[workflow]["usage_per_request_usd"]) == after[workflow] - before[workflow]
    assert data["summary"] == _paragraph_of(stdout)
    assert data["summary"].startswith(
        f"Spend rose {cent(rise)} (+47.0%), from {cent(sum(before.values(), Decimal(0)))} in 2026-10-26 to"
        f" 2026-11-08 to {cent(sum(after.values(), Decimal(0)))} in 2026-11-09 to 2026-11-22."
    )


def _paragraph_of(stdout: str) -> str:
    start = stdout.index("Spend rose")
    return " ".join(stdout[start : stdout.index("\n\n", start)].split())


def test_each_planted_driver_is_named_with_its_amount(demo_run: tuple[Path, str]) -> None:
    workdir, _ = demo_run
    data = _comparison(workdir)["comparison"]
    found = {(f["kind"], f["workflow_id"]): f for f in data["findings"]}
    later = planned_calls(since=SECOND)
    rise = Decimal(data["change_usd"])
    # the retry loop: every call of a looping trace but its first, ~12 % of the rise
    loops = [c for c in later if c.driver == "retry_loop"]
    firsts = {
        min((c for c in loops if c.trace_group == g), key=lambda c: c.at).seq
        for g in {c.trace_group for c in loops}
    }
    repeated = sum((list_price(c) for c in loops if c.seq not in firsts), Decimal(0))
    loop = found[("retry_loop", "housekeeping_dispatcher")]
    assert Decimal(loop["cost_usd"]) == repeated
    assert f"for tenant property-17, since {min(c.at for c in loops).date()}" in loop["summary"]
    assert Decimal("0.11") <= repeated / rise <= Decimal("0.14")
    # the concierge's debug mode: cost per call x2.4 from the day it was switched on
    debug = [c for c in later if c.driver == "debug_mode"]
    step = found[("step_change", "front_desk_concierge")]
    assert (
        f"cost per call \N{MULTIPLICATION SIGN}2.4 since {min(c.at for c in debug).date()}" in step["summary"]
    )
    # the copilot's verbose prompt: its cost per call rose from the first day of the second fortnight
    prompt = found[("step_change", "revenue_management_copilot")]
    assert f"since {SECOND.date()}" in prompt["summary"]
    assert "uncached input tokens per call" in prompt["summary"]
    # three procurement power users, ~22 % of that workflow's spend
    procurement = [c for c in later if c.workflow_id == "procurement_assistant"]
    heavy = sum((list_price(c) for c in procurement if c.user_id in POWER_USERS), Decimal(0))
    power = found[("power_user", "procurement_assistant")]
    assert Decimal(power["cost_usd"]) == heavy
    share = heavy / sum((list_price(c) for c in procurement), Decimal(0))
    assert f"account for {share:.0%} of its later spend" in power["summary"]
    assert Decimal("0.2") <= share <= Decimal("0.25")


def test_what_if_savings_are_list_prices_and_trimming_the_prompt_cuts_nearly_three_quarters(
    demo_run: tuple[Path, str],
) -> None:
    workdir, stdout = demo_run
    rows = _comparison(workdir)["what_if"]["rows"]
    later = planned_calls(since=SECOND)
    concierge = [c for c in later if c.workflow_id == "front_desk_concierge"]
    haiku = next(
        r for r in rows if r["workflow_id"] == "front_desk_concierge" and r["scope"] == "same provider"
    )
    assert haiku["model"] == "claude-haiku-4-5"
    assert Decimal(haiku["repriced_cost_usd"]) == sum(
        (list_price(c, "claude-haiku-4-5") for c in concierge), Decimal(0)
    )
    copilot = [c for c in later if c.workflow_id == "revenue_management_copilot"]
    shared = min(c.usage.input_tokens - c.usage.cache_read_tokens for c in copilot)
    assert shared >= VERBOSE_SYSTEM_PROMPT_TOKENS
    trim = next(
        r for r in rows if r["workflow_id"] == "revenue_management_copilot" and r["scope"] == "prompt"
    )
    assert trim["change"] == f"trim the {shared:,}-token shared prompt"
    now = sum((list_price(c) for c in copilot), Decimal(0))
    trimmed = sum((list_price(c, uncached_less=shared) for c in copilot), Decimal(0))
    assert (Decimal(trim["current_cost_usd"]), Decimal(trim["repriced_cost_usd"])) == (now, trimmed)
    assert round((now - trimmed) / now, 2) == Decimal("0.73")  # nearly three quarters of that workflow
    assert "Quality is not measured" in stdout


def test_cost_per_outcome_in_each_fortnight(demo_run: tuple[Path, str]) -> None:
    workdir, _ = demo_run
    outcomes = {
        (r["workflow_id"], r["outcome"]): r for r in _comparison(workdir)["comparison"]["cost_per_outcome"]
    }
    concierge = outcomes[("front_desk_concierge", "guest_request_resolved")]
    for side, since, before in (("before", None, SECOND), ("after", SECOND, None)):
        calls = [c for c in planned_calls(since, before) if c.workflow_id == "front_desk_concierge"]
        spend = sum((list_price(c) for c in calls), Decimal(0))
        count = sum(1 for c in calls if c.outcome)
        assert concierge[f"{side}_count"] == count
        assert Decimal(concierge[f"{side}_cost_per_outcome_usd"]) == (spend / count).quantize(
            Decimal("0.000001")
        )
