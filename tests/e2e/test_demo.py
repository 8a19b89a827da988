"""`costline demo` as a user runs it: real processes end to end, numbers checked against list prices by hand.

Expected spend is computed here from the scenario's planned usage and the providers' published per-million
token list prices (written below), never with costline's pricing code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from costline_processor.demo import budget as demo_budget
from costline_processor.demo.scenario import plan
from html_text import Page
from repo_copy import copy_working_tree, required_tool, run_session, user_env

COSTLINE = Path(sys.executable).with_name("costline")
MONEY = re.compile(r"<?\$[\d,]+\.\d\d")  # an amount, to the cent
UNIT_COST = re.compile(r"<?\$[\d,]+\.\d{4}")  # a unit cost, to a hundredth of a cent
END = date(2026, 11, 22)
SEED = 7

# USD per million tokens: (input, cache read, cache write 5m, output). Published list prices (Anthropic and
# OpenAI pricing pages, November 2026); all demo requests are below Sonnet's 200k long-context threshold.
LIST_PRICES = {
    "claude-sonnet-4-6": ("3", "0.30", "3.75", "15"),
    "claude-haiku-4-5": ("1", "0.10", "1.25", "5"),
    "gpt-4o-mini": ("0.15", "0.075", "0", "0.60"),
    "o4-mini": ("1.10", "0.275", "0", "4.40"),
    "gpt-4.1": ("2", "0.50", "0", "8"),
    "text-embedding-3-small": ("0.02", "0", "0", "0"),
}


def _expected_spend(
    *, since: datetime | None = None, before: datetime | None = None, downgraded: frozenset[int] = frozenset()
) -> dict[str, Decimal]:
    """By list price; the planned calls in `downgraded` (seq) at the demo budget's downgrade model."""
    spend: dict[str, Decimal] = defaultdict(Decimal)
    for call in plan(SEED, END):
        if (since and call.at < since) or (before and call.at >= before):
            continue
        model = demo_budget.DOWNGRADE_TO if call.seq in downgraded else call.model
        rate_in, rate_read, rate_write, rate_out = (Decimal(r) / 1_000_000 for r in LIST_PRICES[model])
        usage = call.usage
        uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
        spend[call.workflow_id or "unattributed"] += (
            uncached * rate_in
            + usage.cache_read_tokens * rate_read
            + usage.cache_write_tokens * rate_write
            + usage.output_tokens * rate_out
        )
    return spend


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    workdir = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [str(COSTLINE), "demo", "--dir", str(workdir), "--seed", str(SEED), "--end", END.isoformat()],
        capture_output=True,
        text=True,
        timeout=180,
        env=user_env(),
        check=False,
    )
    assert result.returncode == 0, (
        f"{result.stdout}\n{result.stderr}\n{(workdir / 'serve.log').read_text()[-3000:]}"
    )
    return workdir, result.stdout


@pytest.fixture(scope="module")
def downgraded(demo_run: tuple[Path, str]) -> frozenset[int]:
    """The planned calls the demo's budget sent to the cheaper model: the workflow's last ones of the month,
    from the first the guard saw over the stop line on (the ledger's request model says which)."""
    workdir, _ = demo_run
    with sqlite3.connect(workdir / "ledger.sqlite3") as db:
        rows = db.execute(
            "SELECT time_ns, request_model FROM calls WHERE workflow_id = ? ORDER BY time_ns",
            (demo_budget.WORKFLOW,),
        ).fetchall()
    mine = [call for call in plan(SEED, END) if call.workflow_id == demo_budget.WORKFLOW]
    assert len(rows) == len(mine)
    models = [model for _, model in rows]
    first = models.index(demo_budget.DOWNGRADE_TO)  # the stop was reached
    assert models[first:] == [demo_budget.DOWNGRADE_TO] * (len(models) - first)  # and held to the end
    assert len(models) - first <= demo_budget.CALLS_AFTER_STOP  # not before the stop line
    return frozenset(call.seq for call in mine[first:])


def test_every_planned_call_is_priced_exactly(demo_run: tuple[Path, str], downgraded: frozenset[int]) -> None:
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
    expected = _expected_spend(downgraded=downgraded)
    got = {row["workflow_id"]: Decimal(row["cost_usd"]) for row in data["rows"]}
    assert got == expected
    assert data["total_requests"] == len(plan(SEED, END))
    assert data["unpriced_requests"] == 0
    assert f"{len(plan(SEED, END)):,} of {len(plan(SEED, END)):,} calls recorded" in stdout


def test_table_names_workflows_and_the_hidden_drivers(
    demo_run: tuple[Path, str], downgraded: frozenset[int]
) -> None:
    _, stdout = demo_run
    guardrail = (
        f"Budget guardrail: {demo_budget.WORKFLOW} reached its monthly stop (budgets.yaml); "
        f"the guard sent its last {len(downgraded)} calls to {demo_budget.DOWNGRADE_TO} instead"
    )
    assert guardrail in stdout
    for workflow, cost in _expected_spend(downgraded=downgraded).items():
        assert workflow in stdout
        assert f"${cost.quantize(Decimal('0.01'), ROUND_HALF_UP):,}" in stdout  # to the cent, half up
    assert "[spike] revenue_management_copilot" in stdout
    assert "[retry_loop] housekeeping_dispatcher" in stdout
    assert "property-17" in stdout
    assert "[power_user] payroll_question_assistant" in stdout
    for user in ("night-auditor-ana", "payroll-lead-raj", "gm-chen"):
        assert user in stdout
    assert "[bloated_prompt] procurement_assistant" in stdout
    assert "[unattributed]" in stdout


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
        "those users' spend",
        "uncached input spend",
        "unattributed spend",
    ):
        assert re.search(rf"\({re.escape(label)}: \$\d+\.\d\d\)", findings), findings


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


# The table's total row: spend, share, requests.
TOTAL_ROW = re.compile(r"│ total\s+│\s+\$([\d,.]+)\s+│[^│]+│\s+([\d,]+)\s+│")
RECORDED = re.compile(r"([\d,]+) of ([\d,]+) calls recorded in (\S+)")


def _assert_every_call_recorded(run: subprocess.CompletedProcess[str], cwd: Path, started: date) -> None:
    """What the README promises for `make demo` / `costline demo` with no arguments, run in `cwd`."""
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    demo_dir = (cwd / "costline-demo").resolve()
    found = RECORDED.search(run.stdout)
    assert found, run.stdout
    recorded, planned = (int(group.replace(",", "")) for group in found.group(1, 2))
    # default seed, four weeks ending today (the run may straddle midnight)
    assert planned in {len(plan(SEED, day)) for day in (started, date.today())}
    assert recorded == planned
    assert Path(found.group(3)) == demo_dir / "ledger.sqlite3"
    with sqlite3.connect(demo_dir / "ledger.sqlite3") as ledger:
        assert ledger.execute("SELECT count(*) FROM calls").fetchone()[0] == planned
    total = TOTAL_ROW.search(run.stdout)
    assert total, run.stdout
    assert Decimal(total.group(1).replace(",", "")) > 0
    assert int(total.group(2).replace(",", "")) == planned
    assert (demo_dir / "report.html").stat().st_size > 0
    assert not (demo_dir / "costline-demo").exists()


@pytest.mark.timeout(240)
def test_costline_demo_without_arguments_in_another_directory(tmp_path: Path) -> None:
    """From any directory, in a shell whose proxy settings (here a proxy that is down) cover all HTTP."""
    dead_proxy = "http://127.0.0.1:9"  # the discard port: nothing listens there
    env = user_env(HTTP_PROXY=dead_proxy, HTTPS_PROXY=dead_proxy, http_proxy=dead_proxy, NO_PROXY="")
    started = date.today()
    run = run_session([str(COSTLINE), "demo"], cwd=tmp_path, env=env, timeout=180)
    _assert_every_call_recorded(run, tmp_path, started)


@pytest.mark.timeout(240)
def test_make_demo_in_a_fresh_clone(tmp_path: Path) -> None:
    """`make demo` as written, at the root of a clone whose .venv is this suite's venv."""
    make, git = required_tool("make"), required_tool("git")
    clone = copy_working_tree(tmp_path / "costline")
    env = user_env()
    subprocess.run([git, "init", "-q"], cwd=clone, check=True, timeout=60, env=env)
    subprocess.run([git, "add", "-A"], cwd=clone, check=True, timeout=60, env=env)
    (clone / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    # Reinstalling would point this venv's editable install at the clone: run only if make would not.
    plan_of_make = subprocess.run(
        [make, "-n", "demo"], cwd=clone, capture_output=True, text=True, timeout=60, env=env, check=True
    ).stdout
    if "pip install" in plan_of_make:
        message = f"{sys.prefix} is not the venv `make` installs for this pyproject.toml (run `make install`)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    started = date.today()
    run = run_session([make, "demo"], cwd=clone, env=env, timeout=180)
    _assert_every_call_recorded(run, clone, started)
    status = subprocess.run(
        [git, "status", "--porcelain", "--untracked-files=all"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    ).stdout.splitlines()
    assert [line for line in status if line.startswith("??") and line != "?? .venv"] == []
