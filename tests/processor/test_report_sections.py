"""Every section of `costline report` in the terminal, CSV, JSON and HTML: unpriced groups, budgets judged by
their projection, labelled finding amounts, readable axes, one money rule. Numbers are hand-computed sums."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from _report_ledger import report_call, run_report, unpriced_report_call, write_ledger

from costline.attributes import WORKFLOW_ID
from html_text import Page

WINDOW = ("--since", "2026-11-01", "--until", "2026-11-09")
RED = "#dc3912"
GREEN = "#109618"
AMOUNT = re.compile(r"<?-?\$[\d,]+(?:\.(\d+))?")


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """The report ledger plus `mystery_flow`, whose two calls are unpriced, and a retry loop in research."""
    loop = [report_call(30 + n, 6, "research", "gpt-4o", "0.01", tenant="globex", trace=99) for n in range(4)]
    mystery = [unpriced_report_call(20, 1, "mystery_flow"), unpriced_report_call(21, 2, "mystery_flow")]
    return write_ledger(tmp_path / "ledger.sqlite3", [*mystery, *loop])


def _html(ledger: Path, tmp_path: Path, *args: str) -> Page:
    out = tmp_path / "report.html"
    run_report("--ledger", str(ledger), *WINDOW, "--format", "html", "--output", str(out), *args)
    return Page(out.read_text(encoding="utf-8"))


def _cells(table_text: str, first_cell: str) -> list[str]:
    """The cells of the terminal table's row that starts with `first_cell`."""
    for line in table_text.splitlines():
        cells = [cell.strip() for cell in re.split("[│┃]", line.strip("│┃ "))]
        if cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in\n{table_text}")


def test_json_marks_unpriced_calls_per_group_and_never_prices_them_at_zero(ledger: Path) -> None:
    data = json.loads(run_report("--ledger", str(ledger), *WINDOW, "--format", "json"))
    rows = {row[WORKFLOW_ID]: row for row in data["rows"]}
    assert rows["mystery_flow"] == {
        WORKFLOW_ID: "mystery_flow",
        "cost_usd": None,  # unknown, not free
        "share": None,
        "requests": 2,
        "unpriced_requests": 2,
        "top_model": "mystery",
    }
    assert (rows["support"]["cost_usd"], rows["support"]["unpriced_requests"]) == ("12", 1)  # mixed group
    assert (rows["research"]["cost_usd"], rows["research"]["unpriced_requests"]) == ("2.79", 0)
    assert data["unpriced_requests"] == 3
    assert data["total_cost_usd"] == "14.915"


def test_csv_leaves_the_cost_of_an_unpriced_group_empty(ledger: Path) -> None:
    text = run_report("--ledger", str(ledger), *WINDOW, "--format", "csv")
    rows = {row[0]: row for row in csv.reader(io.StringIO(text))}
    header = rows[WORKFLOW_ID]
    by_name = {name: {column: row[i] for i, column in enumerate(header)} for name, row in rows.items()}
    assert by_name["mystery_flow"]["cost_usd"] == ""
    assert by_name["mystery_flow"]["share_pct"] == ""
    assert by_name["mystery_flow"]["cost_per_request_usd"] == ""
    assert by_name["mystery_flow"]["unpriced_requests"] == "2"
    assert by_name["support"]["cost_usd"] == "12"
    assert by_name["support"]["unpriced_requests"] == "1"
    assert by_name["support"]["cost_per_request_usd"] == "1.5"  # $12 over its 8 priced requests
    assert by_name["TOTAL"]["unpriced_requests"] == "3"


def test_table_and_html_show_an_unpriced_count_and_no_cost_for_an_unpriced_group(
    ledger: Path, tmp_path: Path
) -> None:
    text = run_report("--ledger", str(ledger), *WINDOW)
    terminal = [_cells(text, name) for name in (WORKFLOW_ID, "mystery_flow", "support")]
    html = _html(ledger, tmp_path).table("spend-table")
    page = [next(row for row in html if row[0] == name) for name in (WORKFLOW_ID, "mystery_flow", "support")]
    for header, mystery, support in (terminal, page):
        assert "unpriced" in header
        mystery_cells = dict(zip(header, mystery, strict=True))
        support_cells = dict(zip(header, support, strict=True))
        assert (mystery_cells["spend"], mystery_cells["share"]) == ("\N{EM DASH}", "\N{EM DASH}")
        assert mystery_cells["unpriced"] == "2"
        assert (support_cells["spend"], support_cells["unpriced"]) == ("$12.00", "1")
    assert "$0.00" not in text


def test_budget_is_judged_by_its_projection(ledger: Path, tmp_path: Path) -> None:
    """Two days into November support has spent $2 of $26 (8 %), on course for $30 (115 %): red."""
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text("support: 26\nresearch: 100\n")
    window = ("--since", "2026-11-01", "--until", "2026-11-03", "--budgets", str(budgets))
    data = json.loads(run_report("--ledger", str(ledger), *window, "--format", "json"))
    use = {b[WORKFLOW_ID]: b for b in data["budgets"]}
    assert use["support"]["used_share"] == pytest.approx(2 / 26)
    assert use["support"]["projected_share"] == pytest.approx(30 / 26)
    assert use["support"]["status"] == "projected over budget"
    assert use["research"]["status"] == "on track"
    text = run_report("--ledger", str(ledger), *window)
    assert (
        "budget support: spent $2.00 of $26.00 (8%), projected month-end $30.00 (115% of the budget):"
        " projected over budget"
    ) in text
    out = tmp_path / "budget.html"
    run_report("--ledger", str(ledger), *window, "--format", "html", "--output", str(out))
    html = out.read_text(encoding="utf-8")
    rows = {row[0]: row for row in Page(html).table("budget-use")}
    assert rows["support"][2:] == ["$2.00 (8%)", "$26.00", "$30.00 (115%)", "projected over budget"]
    support_row = html[html.index("<td>support</td>") : html.index("</tr>", html.index("<td>support</td>"))]
    assert RED in support_row
    assert GREEN not in support_row
    research_row = html[html.index("<td>research</td>") :]
    assert GREEN in research_row[: research_row.index("</tr>")]


def test_title_covers_exactly_the_days_drawn_and_axes_have_ticks(ledger: Path, tmp_path: Path) -> None:
    title = "LLM spend 2026-11-01 to 2026-11-08 by workflow_id"  # --until 2026-11-09 is excluded
    assert title in run_report("--ledger", str(ledger), *WINDOW)
    page = _html(ledger, tmp_path)
    assert page.title == title
    dates = re.findall(r"[A-Z][a-z]{2} \d{2}", page.text("x-ticks"))
    assert (dates[0], dates[-1]) == ("Nov 01", "Nov 08")
    assert len(dates) >= 4
    money = page.text("y-ticks").split()
    assert len(money) >= 4
    values = [float(m.lstrip("$").replace(",", "")) for m in money]
    assert values == sorted(values)
    assert values[0] == 0
    assert values[-1] >= 5  # support's $5 day fits


def test_every_terminal_section_is_in_the_html(ledger: Path, tmp_path: Path) -> None:
    text = run_report("--ledger", str(ledger), *WINDOW)
    page = _html(ledger, tmp_path)
    expected = {
        "total-spend": "$14.92",  # 14.915, half a cent up
        "unattributed": "$0.13",
        "unpriced-requests": "3",
        "month-to-date": "$14.92",
        "projected-month-end": "$55.93",  # 14.915 * 30 / 8
    }
    for ident, value in expected.items():
        assert value in page.text(ident)
        assert value in text
    assert "2026-11 month-to-date" in page.text("month-to-date")
    assert "not in the totals" in page.text("unpriced-requests")
    outcome = page.table("outcome-table")[1]
    assert outcome == ["support", "ticket_resolved", "4", "$12.00", "$3.0000"]
    assert "cost per outcome, support: $3.0000 per ticket_resolved" in text
    anomaly = page.table("anomaly-table")[1]
    assert anomaly == ["support", "2026-11-08", "$5.00", "$1.00", "5.0x"]
    assert "anomaly support on 2026-11-08: spend $5.00 = 5.0x its 7-day average of $1.00" in text


def test_each_finding_says_what_its_amount_is(ledger: Path, tmp_path: Path) -> None:
    data = json.loads(run_report("--ledger", str(ledger), *WINDOW, "--format", "json"))
    labels = {f["kind"]: (f["cost_label"], f["cost_usd"]) for f in data["findings"]}
    assert labels == {
        "spike": ("spend above the 7-day average on those days", "4"),  # $5 against a $1 average
        "retry_loop": ("spend of those traces", "0.04"),
        "unattributed": ("unattributed spend", "0.125"),
    }
    text = run_report("--ledger", str(ledger), *WINDOW)
    page = _html(ledger, tmp_path)
    for label, amount in [
        ("spend above the 7-day average on those days", "$4.00"),
        ("spend of those traces", "$0.04"),
        ("unattributed spend", "$0.13"),
    ]:
        assert f"{label}: {amount}" in text
        assert f"({label}: {amount})" in page.text("findings")
    assert "[unattributed] 0.8% of spend carries no workflow_id" in text
    for output in (text, page.text("findings")):
        assert "unattributed in unattributed" not in output
        assert "unattributed: unattributed" not in output
        assert "unattributed unattributed" not in output


def test_money_has_one_precision_rule(ledger: Path, tmp_path: Path) -> None:
    """Amounts to the cent everywhere; only unit costs (per outcome) carry four decimals."""
    text = run_report("--ledger", str(ledger), *WINDOW)
    page = _html(ledger, tmp_path)
    outcome_cells = {row[-1] for row in page.table("outcome-table")[1:]}
    amounts_html = [
        cell
        for ident in ("headline", "findings", "anomaly-table", "spend-table", "y-ticks", "spend-by-group")
        for cell in AMOUNT.findall(page.text(ident))
    ]
    terminal = [
        digits
        for line in text.splitlines()
        if not line.startswith("cost per outcome")
        for digits in AMOUNT.findall(line)
    ]
    assert {len(d) for d in amounts_html} == {2}
    assert {len(d) for d in terminal} == {2}
    assert outcome_cells == {"$3.0000"}


def test_month_figures_are_for_the_month_of_the_last_day_drawn(ledger: Path) -> None:
    """A window ending at midnight on 1 December reports November, not an empty December."""
    data = json.loads(
        run_report(
            "--ledger", str(ledger), "--since", "2026-11-01", "--until", "2026-12-01", "--format", "json"
        )
    )
    assert data["month"] == "2026-11"
    assert data["month_to_date_usd"] == data["projected_month_end_usd"] == "14.915"  # the month is over
    text = run_report("--ledger", str(ledger), "--since", "2026-11-03", "--until", "2026-11-09")
    # The window (support $1 x 5 + $5, research $2.50 + $0.25 + $0.04, unattributed $0.125) spent $12.915;
    # the month to the window's end also has support's $1 on each of 1 and 2 November: $14.915.
    assert _cells(text, "total")[1] == "$12.92"
    assert "2026-11 month-to-date: $14.92 (from 2026-11-01, before the window starts)" in text
