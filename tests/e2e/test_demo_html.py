"""The demo's HTML reports as headless Chromium draws them: every section filled, the charts drawn, the budget
table coloured by the month-end projection."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from demo_expected import COSTLINE, MONEY, SECOND, UNIT_COST, cent, expected_spend

from html_text import Page


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
    assert dom.stdout.count("<polyline") == len(expected_spend())
    assert dom.stdout.count("<rect") >= len(expected_spend())
    return Page(dom.stdout)


def _assert_sections_filled(page: Page) -> None:
    """Every section of the terminal report is on the page and says something."""
    for figure in ("total-spend", "unattributed", "month-to-date", "projected-month-end"):
        assert MONEY.search(page.text(figure)), page.text(figure)
    assert re.fullmatch(r"requests [\d,]+", page.text("requests"))
    assert page.text("unpriced-requests") == "unpriced requests 0 every call priced"
    outcomes = page.table("outcome-table")[1:]
    assert {row[0] for row in outcomes} == set(expected_spend()) - {"unattributed"}
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
    before, after = expected_spend(before=SECOND), expected_spend(since=SECOND)
    rise = sum(after.values(), Decimal(0)) - sum(before.values(), Decimal(0))
    assert page.text("comparison-summary").startswith(f"Spend rose {cent(rise)} (+47.0%)")
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
    spent = expected_spend(since=november, before=november + timedelta(days=2))["front_desk_concierge"]
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
