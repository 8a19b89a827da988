"""CSV reports open in a spreadsheet without running anything: a text cell a spreadsheet would evaluate is
neutralised with a leading `'`, and money cells stay numbers.

Values are written to the ledger directly, as a costline from before the attribution rule recorded them (or as
a model name, which is not an attribution value, still arrives): the renderer must not trust the ledger.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from _report_ledger import report_call, run_report

from costline_processor.ledger import Ledger

FORMULAS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1"]


@pytest.mark.parametrize("cell", FORMULAS)
def test_formula_starts_are_neutralised(cell: str) -> None:
    from costline_processor.report.render import spreadsheet_text

    assert spreadsheet_text(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["support", "unattributed", "gpt-4o", "1.50", "a=b", " =x"])
def test_other_text_is_left_alone(cell: str) -> None:
    from costline_processor.report.render import spreadsheet_text

    assert spreadsheet_text(cell) == cell


def test_csv_report_neutralises_group_keys_and_models(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    calls = [
        report_call(1, 1, FORMULAS[0], "=cmd|' /C calc'!A0", "1.50", tenant="@SUM(1+1)"),
        report_call(2, 2, "support", "gpt-4o", "0.25", tenant="-acme"),
    ]
    with Ledger(path) as store:
        store.record(calls)
    text = run_report(
        "--ledger", str(path), "--since", "2026-11-01", "--until", "2026-11-09",
        "--format", "csv", "--by", "workflow_id,tenant_id,model",
    )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(text)))
    by_cost = {row["cost_usd"]: row for row in rows}
    hostile = by_cost["1.5"]
    assert hostile["workflow_id"] == "'" + FORMULAS[0]
    assert hostile["tenant_id"] == "'@SUM(1+1)"
    assert hostile["model"] == hostile["top_model"] == "'=cmd|' /C calc'!A0"
    assert by_cost["0.25"]["tenant_id"] == "'-acme"
    for row in rows:  # money and counts are ours: plain numbers, never prefixed
        for column in ("cost_usd", "share_pct", "requests"):
            Decimal(row[column])
    assert rows[-1]["workflow_id"] == "TOTAL"
