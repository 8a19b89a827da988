"""`costline report --budgets` reads costline serve's budgets file, old form or list form: it shows the
monthly workflow budgets and names the budgets it does not show (scoped or daily) on stderr."""

from __future__ import annotations

import json
from pathlib import Path

from _report_ledger import write_ledger
from click.testing import CliRunner

from costline.attributes import WORKFLOW_ID
from costline_processor.cli import _register, cli

WINDOW = ("--since", "2026-11-01", "--until", "2026-11-09")
LIST_FORM = """\
budgets:
  - {workflow_id: support, period: monthly, limit_usd: 40, stop_at: 120, on_stop: block}
  - {workflow_id: research, period: daily, limit_usd: 1}
  - {tenant_id: acme, period: monthly, limit_usd: 300}
"""


def test_the_list_form_shows_the_monthly_workflow_budgets(tmp_path: Path) -> None:
    ledger = write_ledger(tmp_path / "ledger.sqlite3")
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text(LIST_FORM, encoding="utf-8")
    _register()
    args = ["report", "--ledger", str(ledger), *WINDOW, "--format", "json", "--budgets", str(budgets)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    use = {b[WORKFLOW_ID]: b for b in json.loads(result.stdout)["budgets"]}
    assert list(use) == ["support"]
    assert (use["support"]["budget_usd"], use["support"]["month_to_date_usd"]) == ("40", "12")
    assert result.stderr == (
        "costline report: --budgets shows the monthly budgets of one workflow_id; not shown:"
        " workflow_id=research;period=daily, tenant_id=acme;period=monthly"
        " (GET /v1/budgets on costline serve shows every budget)\n"
    )


def test_a_bad_list_form_is_one_clear_error(tmp_path: Path) -> None:
    ledger = write_ledger(tmp_path / "ledger.sqlite3")
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text(
        "budgets:\n  - {workflow_id: support, period: weekly, limit_usd: 1}\n", encoding="utf-8"
    )
    _register()
    result = CliRunner().invoke(cli, ["report", "--ledger", str(ledger), "--budgets", str(budgets)])
    assert result.exit_code == 2
    assert "line 2: period must be daily or monthly (got 'weekly')" in result.stderr
    assert "Traceback" not in result.output
