"""Unit economics per customer from a revenue file, on a ledger built through the real pipeline and read by
the `costline report` process. AI costs are list prices per million tokens, written out here:
gpt-4o-mini input $0.15, output $0.60; gpt-4o input $2.50, output $10.

Window: November 2026 (`--since 2026-11-01 --until 2026-12-01`).
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from _pipeline_ledger import Spend, build_ledger, costline_report, single

from costline.attributes import TENANT_ID
from html_text import Page

M = Decimal(1_000_000)
NOVEMBER = ("--since", "2026-11-01", "--until", "2026-12-01")
MINI_CALL = (1_000_000 * Decimal("0.15") + 100_000 * Decimal("0.60")) / M  # $0.21
GPT4O_CALL = (1_000_000 * Decimal("2.50") + 100_000 * Decimal(10)) / M  # $3.50
REVENUE = (
    "tenant_id,period,revenue_usd\nacme,2026-11,10\nglobex,2026-11,12.5\nghost,2026-11,40\nacme,2026-10,9\n"
)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mini = {"model": "gpt-4o-mini", "input_tokens": 1_000_000, "output_tokens": 100_000}
    calls = [
        Spend(2, "support", **mini, tenant="acme"),
        Spend(9, "support", **mini, tenant="acme"),
        Spend(-1, "support", **mini, tenant="acme"),  # October 31: outside the window
        Spend(3, "research", "gpt-4o", 1_000_000, 100_000, tenant="globex"),
        Spend(4, "support", **mini, tenant="initech"),  # calls, and no revenue in the file
        Spend(5, "support", **mini, tenant=None),  # no tenant_id at all
    ]
    return build_ledger(tmp_path_factory.mktemp("revenue") / "ledger.sqlite3", single(calls))


@pytest.fixture
def revenue(tmp_path: Path) -> Path:
    path = tmp_path / "revenue.csv"
    path.write_text(REVENUE, encoding="utf-8")
    return path


def _economics(ledger: Path, revenue: Path, *args: str) -> dict[str, object]:
    out = costline_report(
        "--ledger", str(ledger), *NOVEMBER, "--revenue", str(revenue), "--format", "json", *args
    )
    data = json.loads(out.stdout)["unit_economics"]
    assert isinstance(data, dict)
    return data


def test_margin_per_tenant_from_the_revenue_file(ledger: Path, revenue: Path) -> None:
    data = _economics(ledger, revenue)
    rows = {row[TENANT_ID]: row for row in data["rows"]}
    acme, globex = rows["acme"], rows["globex"]
    assert (acme["revenue_usd"], Decimal(acme["ai_cost_usd"]), Decimal(acme["margin_usd"])) == (
        "10",
        2 * MINI_CALL,  # the October call is not November's cost
        10 - 2 * MINI_CALL,
    )
    assert acme["ai_cost_share"] == pytest.approx(0.042)
    assert acme["flag"] is None
    assert (Decimal(globex["ai_cost_usd"]), Decimal(globex["margin_usd"])) == (
        GPT4O_CALL,
        Decimal("12.5") - GPT4O_CALL,
    )
    assert globex["ai_cost_share"] == pytest.approx(0.28)  # $3.50 of $12.50
    assert globex["flag"] == "AI cost \N{GREATER-THAN OR EQUAL TO} 20% of revenue"
    # revenue and no calls; calls and no revenue (no share, no margin: unknown, not zero); no tenant at all
    assert (rows["ghost"]["ai_cost_usd"], rows["ghost"]["margin_usd"], rows["ghost"]["flag"]) == (
        "0",
        "40",
        "no LLM calls",
    )
    initech = rows["initech"]
    assert (initech["revenue_usd"], initech["margin_usd"], initech["ai_cost_share"]) == (None, None, None)
    assert (Decimal(initech["ai_cost_usd"]), initech["flag"]) == (MINI_CALL, "no revenue in the file")
    assert rows["unattributed"]["flag"] == "no tenant_id: not billable"
    assert data["periods"] == ["2026-11"]
    assert data["ignored_periods"] == ["2026-10"]  # not in the window in full
    assert Decimal(data["revenue_usd"]) == Decimal("62.5")
    assert Decimal(data["ai_cost_usd"]) == 4 * MINI_CALL + GPT4O_CALL


def test_the_alert_share_is_an_option(ledger: Path, revenue: Path) -> None:
    rows = {row[TENANT_ID]: row for row in _economics(ledger, revenue, "--cost-share-alert", "30")["rows"]}
    assert rows["globex"]["flag"] is None  # 28 % < 30 %


def test_table_csv_and_html_show_the_margin_table(ledger: Path, revenue: Path, tmp_path: Path) -> None:
    base = ("--ledger", str(ledger), *NOVEMBER, "--revenue", str(revenue))
    text = costline_report(*base).stdout
    globex = next(line for line in text.splitlines() if line.startswith("│ globex "))
    assert [cell.strip() for cell in globex.strip("│").split("│")][:6] == [
        "globex", "2026-11", "$12.50", "$3.50", "28.0%", "$9.00",
    ]  # fmt: skip
    rows = {
        row[TENANT_ID]: row
        for row in csv.DictReader(io.StringIO(costline_report(*base, "--format", "csv").stdout))
    }
    assert (
        rows["initech"]["revenue_usd"],
        rows["initech"]["margin_usd"],
        rows["initech"]["ai_cost_usd"],
    ) == ("", "", "0.21")
    assert rows["globex"]["ai_cost_pct"] == "28.00"
    out = tmp_path / "report.html"
    costline_report(*base, "--format", "html", "--output", str(out))
    page = Page(out.read_text(encoding="utf-8"))
    table = {row[0]: row for row in page.table("margin-table")}
    assert table["globex"][2:6] == ["$12.50", "$3.50", "28.0%", "$9.00"]
    assert table["initech"][2] == "\N{EM DASH}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "tenant,period,revenue\nacme,2026-11,10\n",
            "line 1: the header must be tenant_id,period,revenue_usd",
        ),
        ("tenant_id,period,revenue_usd\n", "no revenue rows after the header"),
        (
            "tenant_id,period,revenue_usd\nacme,2026-11,10\n,2026-11,5\nglobex,November,5\ninitech,2026-11,abc\n"
            "acme,2026-11,11\nhooli,2026-11\numbrella,2026-11,-4\n",
            "6 bad rows:\n"
            "  line 3: tenant_id is empty\n"
            "  line 4: period 'November' is not a month (2026-11), quarter (2026-Q4) or year (2026)\n"
            "  line 5: revenue_usd 'abc' is not an amount in USD (e.g. 1250.00)\n"
            "  line 6: acme 2026-11 is already on line 2\n"
            "  line 7: 2 fields, expected 3 (tenant_id,period,revenue_usd)\n"
            "  line 8: revenue_usd '-4' must be a finite amount of 0 or more",
        ),
    ],
)
def test_a_bad_revenue_file_says_which_lines(
    ledger: Path, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "revenue.csv"
    path.write_text(content, encoding="utf-8")
    result = costline_report("--ledger", str(ledger), *NOVEMBER, "--revenue", str(path), expect=2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_window_that_covers_no_period_in_full_says_which_to_use(ledger: Path, revenue: Path) -> None:
    result = costline_report(
        "--ledger",
        str(ledger),
        "--since",
        "2026-11-05",
        "--until",
        "2026-12-01",
        "--revenue",
        str(revenue),
        expect=2,
    )
    assert "covers none of the file's periods (2026-10, 2026-11) in full" in result.stderr
    assert "for 2026-11, pass --since 2026-11-01 --until 2026-12-01" in result.stderr


def test_a_tenant_id_that_looks_like_a_formula_is_text_in_the_csv(ledger: Path, tmp_path: Path) -> None:
    path = tmp_path / "revenue.csv"
    path.write_text('tenant_id,period,revenue_usd\n"=HYPERLINK(""http://x"")",2026-11,5\n', encoding="utf-8")
    text = costline_report(
        "--ledger", str(ledger), *NOVEMBER, "--revenue", str(path), "--format", "csv"
    ).stdout
    tenants = [row[TENANT_ID] for row in csv.DictReader(io.StringIO(text))]
    assert '\'=HYPERLINK("http://x")' in tenants
    assert not any(tenant.startswith("=") for tenant in tenants)
