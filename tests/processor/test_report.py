"""`costline report` from a ledger of known calls: every number is a hand-computed sum."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from _report_ledger import run_report, write_ledger
from click.testing import CliRunner

from costline.attributes import WORKFLOW_ID
from costline_processor.cli import _register, cli


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    return write_ledger(tmp_path / "ledger.sqlite3")


_run = run_report


WINDOW = ("--since", "2026-11-01", "--until", "2026-11-09")


def test_json_report_numbers_are_exact_sums(ledger: Path) -> None:
    data = json.loads(_run("--ledger", str(ledger), *WINDOW, "--format", "json"))
    assert data["total_cost_usd"] == "14.875"  # 7*1 + 5 + 2.5 + 0.25 + 0.125
    assert data["total_requests"] == 12  # the unpriced call is a request, with no cost
    assert data["unpriced_requests"] == 1
    rows = {row[WORKFLOW_ID]: row for row in data["rows"]}
    assert rows["support"]["cost_usd"] == "12"
    assert rows["support"]["requests"] == 9
    assert rows["research"]["cost_usd"] == "2.75"
    assert rows["research"]["top_model"] == "o3"
    assert rows["unattributed"]["cost_usd"] == "0.125"
    assert data["unattributed_cost_usd"] == "0.125"
    assert data["unattributed_share"] == pytest.approx(0.125 / 14.875)
    assert [r[WORKFLOW_ID] for r in data["rows"]] == ["support", "research", "unattributed"]
    # cost per outcome: support's $12 over 4 resolved tickets
    assert data["cost_per_outcome"] == [
        {WORKFLOW_ID: "support", "outcome": "ticket_resolved", "count": 4, "cost_per_outcome_usd": "3"}
    ]


def test_anomaly_is_a_day_against_its_seven_day_average(ledger: Path) -> None:
    data = json.loads(_run("--ledger", str(ledger), *WINDOW, "--format", "json"))
    assert data["anomalies"] == [
        {WORKFLOW_ID: "support", "day": "2026-11-08", "cost_usd": "5", "baseline_usd": "1", "ratio": 5.0}
    ]


def test_month_end_projection_and_budget_use(ledger: Path, tmp_path: Path) -> None:
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text("support: 40\nresearch: 10\n")
    data = json.loads(_run("--ledger", str(ledger), *WINDOW, "--format", "json", "--budgets", str(budgets)))
    # 8 elapsed days of November's 30: 14.875 * 30 / 8
    assert Decimal(data["projected_month_end_usd"]) == Decimal("55.78125")
    use = {b[WORKFLOW_ID]: b for b in data["budgets"]}
    assert use["support"]["month_to_date_usd"] == "12"
    assert use["support"]["used_share"] == pytest.approx(0.3)
    assert Decimal(use["support"]["projected_usd"]) == Decimal(45)


def test_csv_opens_as_a_spreadsheet(ledger: Path) -> None:
    text = _run("--ledger", str(ledger), *WINDOW, "--format", "csv", "--by", "workflow_id,model")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        WORKFLOW_ID,
        "model",
        "cost_usd",
        "share_pct",
        "requests",
        "unpriced_requests",
        "cost_per_request_usd",
        "top_model",
    ]
    assert rows[1][:5] == ["support", "gpt-4o", "12", "80.67", "8"]
    assert rows[-1][:3] == ["TOTAL", "", "14.875"]
    assert sum(Decimal(r[2]) for r in rows[1:-1] if r[2]) == Decimal("14.875")


def test_table_shows_the_unattributed_line(ledger: Path) -> None:
    text = _run("--ledger", str(ledger), *WINDOW)
    assert "unattributed (untagged)" in text
    assert "$12.00" in text
    assert "unattributed: $0.13 (0.8% of spend)" in text  # amounts to the cent, half a cent up


def test_window_filters_by_call_time(ledger: Path) -> None:
    data = json.loads(
        _run("--ledger", str(ledger), "--since", "2026-11-04", "--until", "2026-11-05", "--format", "json")
    )
    assert data["total_cost_usd"] == "3.5"  # Nov 4 (day 3): support $1 + research $2.50


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--by", "colour"), "--by must be a comma-separated list"),
        (("--since", "yesterday-ish"), "is not a date"),
        (("--since", "2026-11-09", "--until", "2026-11-01"), "must be before"),
        (("--anomaly-ratio", "0.5"), "must be a number above 1"),
        (("--ledger", "/nonexistent/ledger.sqlite3"), "no ledger at"),
    ],
)
def test_bad_input_is_one_clear_error(ledger: Path, args: tuple[str, ...], message: str) -> None:
    _register()
    base = () if "--ledger" in args else ("--ledger", str(ledger))
    result = CliRunner().invoke(cli, ["report", *base, *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_html_report_is_self_contained(ledger: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    _run("--ledger", str(ledger), *WINDOW, "--format", "html", "--output", str(out))
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    for chart in ("spend-by-group", "daily-spend"):
        assert f'id="{chart}"' in html
    assert "<script" not in html
    assert "http://" not in html
    assert "https://" not in html  # nothing fetched: it opens offline and in mail clients
    assert "$12.00" in html
