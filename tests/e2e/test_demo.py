"""`costline demo` as a user runs it: real processes end to end, numbers checked against list prices by hand.

Expected spend is computed here from the scenario's planned usage and the providers' published per-million
token list prices (written below), never with costline's pricing code. The demo's two fortnights tell the
story of a bill that rose 47 %: the comparison must name each planted driver with its amount.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from costline_processor.demo import budget as demo_budget
from costline_processor.demo.scenario import (
    PERIOD_DAYS,
    POWER_USERS,
    VERBOSE_SYSTEM_PROMPT_TOKENS,
    PlannedCall,
    plan,
)
from html_text import Page
from repo_copy import user_env

COSTLINE = Path(sys.executable).with_name("costline")
MONEY = re.compile(r"<?\$[\d,]+\.\d\d")  # an amount, to the cent
UNIT_COST = re.compile(r"<?\$[\d,]+\.\d{4}")  # a unit cost, to a hundredth of a cent
END = date(2026, 11, 22)
SEED = 7
FIRST = datetime(2026, 10, 26, tzinfo=UTC)  # the four weeks' first day
SECOND = FIRST + timedelta(days=PERIOD_DAYS)  # 2026-11-09: the second fortnight starts
DEMO_BUDGET_S = 60  # the demo finishes in under a minute on 2 cores

# USD per million tokens: (input, cache read, cache write 5m, output). Published list prices (Anthropic and
# OpenAI pricing pages, November 2026); all demo requests are below Sonnet's 200k long-context threshold.
LIST_PRICES = {
    "claude-sonnet-4-6": ("3", "0.30", "3.75", "15"),
    "claude-haiku-4-5": ("1", "0.10", "1.25", "5"),
    "gpt-4o-mini": ("0.15", "0.075", "0", "0.60"),
    "o4-mini": ("1.10", "0.275", "0", "4.40"),
    "gpt-4.1": ("2", "0.50", "0", "8"),
    "text-embedding-3-small": ("0.02", "0", "0", "0"),
    # Google's list price; thinking tokens are billed as output (they are inside the planned output count)
    "gemini-2.5-flash": ("0.30", "0.03", "0", "2.50"),
    # AWS's price for Claude Haiku 4.5 through a geographic (`us.`) inference profile: 10 % above `global.`
    "us.anthropic.claude-haiku-4-5-20251001-v1:0": ("1.10", "0.11", "1.375", "5.50"),
}
# The payroll assistant's last calls of the last day, which its daily budget's stop sends to Claude Haiku
DOWNGRADED = demo_budget.downgraded_seqs(plan(SEED, END), END)


def _list_price(call: PlannedCall, model: str | None = None, *, uncached_less: int = 0) -> Decimal:
    """The planned usage at `model`'s list price (default: the one it was sent to), `uncached_less` uncached
    tokens fewer."""
    sent_to = demo_budget.DOWNGRADE_TO if call.seq in DOWNGRADED else call.model
    rate_in, rate_read, rate_write, rate_out = (Decimal(r) / 1_000_000 for r in LIST_PRICES[model or sent_to])
    usage = call.usage
    uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens - uncached_less
    return (
        uncached * rate_in
        + usage.cache_read_tokens * rate_read
        + usage.cache_write_tokens * rate_write
        + usage.output_tokens * rate_out
    )


def _calls(since: datetime | None = None, before: datetime | None = None) -> list[PlannedCall]:
    return [c for c in plan(SEED, END) if not ((since and c.at < since) or (before and c.at >= before))]


def _expected_spend(*, since: datetime | None = None, before: datetime | None = None) -> dict[str, Decimal]:
    spend: dict[str, Decimal] = defaultdict(Decimal)
    for call in _calls(since, before):
        spend[call.workflow_id or "unattributed"] += _list_price(call)
    return spend


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    workdir = tmp_path_factory.mktemp("demo")
    started = time.monotonic()
    result = subprocess.run(
        [str(COSTLINE), "demo", "--dir", str(workdir), "--seed", str(SEED), "--end", END.isoformat()],
        capture_output=True,
        text=True,
        timeout=180,
        env=user_env(),
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, (
        f"{result.stdout}\n{result.stderr}\n{(workdir / 'serve.log').read_text()[-3000:]}"
    )
    assert elapsed < DEMO_BUDGET_S, f"the demo took {elapsed:.0f}s"
    return workdir, result.stdout


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
    expected = _expected_spend()
    got = {row["workflow_id"]: Decimal(row["cost_usd"]) for row in data["rows"]}
    assert got == expected
    assert data["total_requests"] == len(plan(SEED, END))
    assert data["unpriced_requests"] == 0
    assert f"{len(plan(SEED, END)):,} of {len(plan(SEED, END)):,} calls recorded" in stdout


def test_table_names_workflows_and_the_hidden_drivers(demo_run: tuple[Path, str]) -> None:
    _, stdout = demo_run
    for workflow, cost in _expected_spend().items():
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


def _cent(value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


def test_the_bill_rose_47_percent_and_the_report_says_why(demo_run: tuple[Path, str]) -> None:
    workdir, stdout = demo_run
    before, after = _expected_spend(before=SECOND), _expected_spend(since=SECOND)
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
        f"Spend rose {_cent(rise)} (+47.0%), from {_cent(sum(before.values(), Decimal(0)))} in 2026-10-26 to"
        f" 2026-11-08 to {_cent(sum(after.values(), Decimal(0)))} in 2026-11-09 to 2026-11-22."
    )


def _paragraph_of(stdout: str) -> str:
    start = stdout.index("Spend rose")
    return " ".join(stdout[start : stdout.index("\n\n", start)].split())


def test_each_planted_driver_is_named_with_its_amount(demo_run: tuple[Path, str]) -> None:
    workdir, _ = demo_run
    data = _comparison(workdir)["comparison"]
    found = {(f["kind"], f["workflow_id"]): f for f in data["findings"]}
    later = _calls(since=SECOND)
    rise = Decimal(data["change_usd"])
    # the retry loop: every call of a looping trace but its first, ~12 % of the rise
    loops = [c for c in later if c.driver == "retry_loop"]
    firsts = {
        min((c for c in loops if c.trace_group == g), key=lambda c: c.at).seq
        for g in {c.trace_group for c in loops}
    }
    repeated = sum((_list_price(c) for c in loops if c.seq not in firsts), Decimal(0))
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
    heavy = sum((_list_price(c) for c in procurement if c.user_id in POWER_USERS), Decimal(0))
    power = found[("power_user", "procurement_assistant")]
    assert Decimal(power["cost_usd"]) == heavy
    share = heavy / sum((_list_price(c) for c in procurement), Decimal(0))
    assert f"account for {share:.0%} of its later spend" in power["summary"]
    assert Decimal("0.2") <= share <= Decimal("0.25")


def test_what_if_savings_are_list_prices_and_trimming_the_prompt_cuts_nearly_three_quarters(
    demo_run: tuple[Path, str],
) -> None:
    workdir, stdout = demo_run
    rows = _comparison(workdir)["what_if"]["rows"]
    later = _calls(since=SECOND)
    concierge = [c for c in later if c.workflow_id == "front_desk_concierge"]
    haiku = next(
        r for r in rows if r["workflow_id"] == "front_desk_concierge" and r["scope"] == "same provider"
    )
    assert haiku["model"] == "claude-haiku-4-5"
    assert Decimal(haiku["repriced_cost_usd"]) == sum(
        (_list_price(c, "claude-haiku-4-5") for c in concierge), Decimal(0)
    )
    copilot = [c for c in later if c.workflow_id == "revenue_management_copilot"]
    shared = min(c.usage.input_tokens - c.usage.cache_read_tokens for c in copilot)
    assert shared >= VERBOSE_SYSTEM_PROMPT_TOKENS
    trim = next(
        r for r in rows if r["workflow_id"] == "revenue_management_copilot" and r["scope"] == "prompt"
    )
    assert trim["change"] == f"trim the {shared:,}-token shared prompt"
    now = sum((_list_price(c) for c in copilot), Decimal(0))
    trimmed = sum((_list_price(c, uncached_less=shared) for c in copilot), Decimal(0))
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
        calls = [c for c in _calls(since, before) if c.workflow_id == "front_desk_concierge"]
        spend = sum((_list_price(c) for c in calls), Decimal(0))
        count = sum(1 for c in calls if c.outcome)
        assert concierge[f"{side}_count"] == count
        assert Decimal(concierge[f"{side}_cost_per_outcome_usd"]) == (spend / count).quantize(
            Decimal("0.000001")
        )


def _chromium() -> str:
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (scripts/system-packages installs it)")
        pytest.skip("chromium is not installed; run scripts/system-packages")
    return chromium


def _render(html: Path, tmp_path: Path) -> Page:
    """The page as headless Chromium draws it: a screenshot (kept next to the report) and the DOM."""
    chromium = _chromium()
    screenshot = html.with_suffix(".png")
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
        "--window-size=1200,2400",
    ]  # fmt: skip
    url = html.as_uri()
    shot = subprocess.run(
        [chromium, *flags, f"--screenshot={screenshot}", url],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert screenshot.exists(), shot.stderr[-2000:]
    assert screenshot.stat().st_size > 20_000  # a blank page is a few kB
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=90, check=False
    )
    console_errors = [line for line in (shot.stderr + dom.stderr).splitlines() if "CONSOLE" in line]
    assert console_errors == []
    assert dom.stdout.count("<polyline") == len(_expected_spend())
    assert dom.stdout.count("<rect") >= len(_expected_spend())
    return Page(dom.stdout)


def _assert_sections_filled(page: Page) -> None:
    """Every section of the terminal report is on the page and says something."""
    for figure in ("total-spend", "unattributed", "month-to-date", "projected-month-end"):
        assert MONEY.search(page.text(figure)), page.text(figure)
    assert re.fullmatch(r"requests [\d,]+", page.text("requests"))
    assert page.text("unpriced-requests") == "unpriced requests 0 every call priced"
    outcomes = page.table("outcome-table")[1:]
    assert {row[0] for row in outcomes} == set(_expected_spend()) - {"unattributed"}
    assert all(UNIT_COST.fullmatch(row[-1]) and row[-1] != "$0.0000" for row in outcomes)
    findings = sorted(ident for ident in page.ids() if ident.startswith("finding-"))
    assert findings
    for finding in map(page.text, findings):
        labelled = re.search(r"\(([a-z0-9' -]+): \$[\d,]+\.\d\d\)$", finding)  # "(what it is: $1.23)"
        assert labelled, finding
        assert "spend" in labelled.group(1)
        assert "unattributed in unattributed" not in finding
    y_ticks = page.text("y-ticks").split()
    assert len(y_ticks) >= 4
    assert all(MONEY.fullmatch(tick) for tick in y_ticks)
    assert len(re.findall(r"[A-Z][a-z]{2} \d{2}", page.text("x-ticks"))) >= 4


def test_html_report_renders_in_headless_chromium(demo_run: tuple[Path, str], tmp_path: Path) -> None:
    workdir, _ = demo_run
    page = _render(workdir / "report.html", tmp_path)
    assert page.title == "LLM spend 2026-10-26 to 2026-11-22 by workflow_id"  # the four weeks drawn
    _assert_sections_filled(page)
    for chart in ("spend-by-group", "daily-spend"):
        assert chart in page.ids()
    x_dates = re.findall(r"[A-Z][a-z]{2} \d{2}", page.text("x-ticks"))
    assert (x_dates[0], x_dates[-1]) == ("Oct 26", "Nov 22")
    findings = page.text("findings")
    for label in (
        "spend above the 7-day average on those days",
        "spend of those traces",
        "unattributed spend",
    ):
        assert re.search(rf"\({re.escape(label)}: \$\d+\.\d\d\)", findings), findings
    # the second fortnight against the first: the paragraph, the waterfalls, the drivers and the what-if
    before, after = _expected_spend(before=SECOND), _expected_spend(since=SECOND)
    rise = sum(after.values(), Decimal(0)) - sum(before.values(), Decimal(0))
    assert page.text("comparison-summary").startswith(f"Spend rose {_cent(rise)} (+47.0%)")
    for chart in ("waterfall-drivers", "waterfall-groups"):
        assert chart in page.ids()
    changes = page.text("changes")
    for label in ("spend of the repeated calls", "those users' spend in the later window"):
        assert re.search(rf"\({re.escape(label)}[^:]*: \$\d+\.\d\d\)", changes), changes
    assert page.table("what-if-table")[0][:3] == ["workflow_id", "now", "instead"]
    assert "your call" in page.text("what-if-note")


def test_budget_report_colours_by_projection_in_headless_chromium(
    demo_run: tuple[Path, str], tmp_path: Path
) -> None:
    """Two days into November the concierge has spent under a tenth of its budget, on course for 116 %."""
    workdir, _ = demo_run
    november = datetime(2026, 11, 1, tzinfo=UTC)
    spent = _expected_spend(since=november, before=november + timedelta(days=2))["front_desk_concierge"]
    budget = (spent * 15 / Decimal("1.16")).quantize(Decimal("0.01"))  # 30 days / 2 elapsed, at 116 %
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text(f"front_desk_concierge: {budget}\nprocurement_assistant: 1000\n")
    html = tmp_path / "budget-report.html"
    subprocess.run(
        [
            str(COSTLINE), "report", "--ledger", str(workdir / "ledger.sqlite3"), "--since", "2026-10-26",
            "--until", "2026-11-03", "--budgets", str(budgets), "--format", "html", "--output", str(html),
        ],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    page = _render(html, tmp_path)
    _assert_sections_filled(page)
    rows = {row[0]: row for row in page.table("budget-use")[1:]}
    concierge = rows["front_desk_concierge"]
    assert int(re.findall(r"\((\d+)%\)", concierge[2])[0]) < 10  # spent share: looks harmless
    assert concierge[3] == f"${budget:,}"
    assert concierge[4].endswith("(116%)")
    assert concierge[5] == "projected over budget"
    assert rows["procurement_assistant"][5] == "on track"
    dom = html.read_text(encoding="utf-8")
    concierge_html = dom[dom.index("<td>front_desk_concierge</td>") :].split("</tr>")[0]
    assert "#dc3912" in concierge_html  # red bar, red status
    assert "#109618" not in concierge_html
