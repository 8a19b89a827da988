"""Month-to-date and budget use come from the ledger for the whole month, whatever `--since` says.

The ledger: support spends $10.00 a day, every day from 25 October to 30 November (one call at noon UTC), and
has a $300 monthly budget. Every expected number is a hand sum of those days.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _report_ledger import report_call, run_report

from costline.attributes import WORKFLOW_ID
from costline_processor.ledger import Ledger
from html_text import Page

FIRST_DAY, LAST_DAY = -7, 29  # offsets from 1 November: 25 October to 30 November


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite3"
    calls = [
        report_call(n, day, "support", "gpt-4o", "10.00")
        for n, day in enumerate(range(FIRST_DAY, LAST_DAY + 1))
    ]
    with Ledger(path) as store:
        store.record(calls)
    return path


@pytest.fixture
def budgets(tmp_path: Path) -> Path:
    path = tmp_path / "budgets.yaml"
    path.write_text("support: 300\n")
    return path


def _json(ledger: Path, budgets: Path, since: str, until: str) -> dict[str, object]:
    args = ("--ledger", str(ledger), "--since", since, "--until", until, "--budgets", str(budgets))
    return dict(json.loads(run_report(*args, "--format", "json")))


def test_a_window_inside_the_month_reports_the_whole_month_to_its_end(ledger: Path, budgets: Path) -> None:
    """20 to 24 November: the window spent $50, but by the 25th November has spent 24 x $10."""
    data = _json(ledger, budgets, "2026-11-20", "2026-11-25")
    assert data["total_cost_usd"] == "50"
    assert data["month"] == "2026-11"
    assert data["month_to_date_usd"] == "240"
    assert data["projected_month_end_usd"] == "300"  # 240 * 30 / 24
    (use,) = data["budgets"]  # type: ignore[misc]
    assert use[WORKFLOW_ID] == "support"
    assert use["month_to_date_usd"] == "240"
    assert use["used_share"] == pytest.approx(0.8)
    assert use["projected_usd"] == "300"
    assert use["status"] == "projected near budget"
    text = run_report(
        "--ledger", str(ledger), "--since", "2026-11-20", "--until", "2026-11-25", "--budgets", str(budgets)
    )
    assert "2026-11 month-to-date: $240.00 (from 2026-11-01, before the window starts)" in text
    assert "2026-11 projected month-end: $300.00" in text
    assert "budget support: spent $240.00 of $300.00 (80%), projected month-end $300.00 (100% of the" in text


def test_a_full_month_report_is_the_whole_month(ledger: Path, budgets: Path) -> None:
    data = _json(ledger, budgets, "2026-11-01", "2026-12-01")
    assert data["month"] == "2026-11"
    assert data["total_cost_usd"] == data["month_to_date_usd"] == data["projected_month_end_usd"] == "300"
    (use,) = data["budgets"]  # type: ignore[misc]
    assert use["used_share"] == pytest.approx(1.0)
    assert use["status"] == "over budget"


def test_a_window_starting_in_the_previous_month_counts_only_this_month(ledger: Path, budgets: Path) -> None:
    """25 October to 2 November: nine days in the window, two of them in November."""
    data = _json(ledger, budgets, "2026-10-25", "2026-11-03")
    assert data["total_cost_usd"] == "90"
    assert data["month_to_date_usd"] == "20"
    assert data["projected_month_end_usd"] == "300"  # 20 * 30 / 2
    text = run_report("--ledger", str(ledger), "--since", "2026-10-25", "--until", "2026-11-03")
    assert "2026-11 month-to-date: $20.00\n" in text


def test_html_budget_table_uses_the_month_to_date(ledger: Path, budgets: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    run_report(
        "--ledger", str(ledger), "--since", "2026-11-20", "--until", "2026-11-25", "--budgets", str(budgets),
        "--format", "html", "--output", str(out),
    )  # fmt: skip
    page = Page(out.read_text(encoding="utf-8"))
    assert "$240.00" in page.text("month-to-date")
    rows = {row[0]: row for row in page.table("budget-use")}
    assert rows["support"][2:] == ["$240.00 (80%)", "$300.00", "$300.00 (100%)", "projected near budget"]
