"""`costline report --compare`: why the bill changed, on a ledger built through the real pipeline, read by the
`costline report` process. Every expected amount is computed here from list prices per million tokens:

    gpt-4o-mini       input $0.15, cache read $0.075, output $0.60
    gpt-4o            input $2.50, cache read $1.25,  output $10
    claude-haiku-4-5  input $1,    cache read $0.10,  output $5

Windows: before = 2026-11-01 to 2026-11-07, after = 2026-11-08 to 2026-11-14 (`--compare previous`).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import pytest
from _ledger_backends import BACKENDS
from _pipeline_ledger import Done, Spend, build_ledger, costline_report, single

from costline.attributes import WORKFLOW_ID
from html_text import Page
from postgres_server import PostgresServer

M = Decimal(1_000_000)
AFTER = ("--since", "2026-11-08", "--until", "2026-11-15")
POINT = Decimal("1e-12")  # the chain's averaged points are rounded to this (docs/report.md)


def mini(uncached: int, output: int) -> Decimal:
    return (uncached * Decimal("0.15") + output * Decimal("0.60")) / M


def gpt4o(uncached: int, output: int) -> Decimal:
    return (uncached * Decimal("2.50") + output * Decimal(10)) / M


def haiku(uncached: int, cache_read: int, output: int) -> Decimal:
    return (uncached * Decimal(1) + cache_read * Decimal("0.10") + output * Decimal(5)) / M


def _calls() -> list[list[Spend]]:
    mini_call = {"model": "gpt-4o-mini", "input_tokens": 1_000_000, "output_tokens": 100_000}
    traces = single(
        [
            # support: 4 -> 6 calls, output per call 100k -> 400k (a step in cost per call), one unpriced call
            *(Spend(day, "support", **mini_call) for day in (0, 1, 2, 3)),
            *(Spend(day, "support", "gpt-4o-mini", 1_000_000, 400_000) for day in range(7, 13)),
            Spend(8, "support", "mystery-model-x", 1_000, 100),
            # research: the same tokens, moved from gpt-4o-mini to gpt-4o
            *(Spend(day, "research", "gpt-4o-mini", 2_000_000, 500_000) for day in (1, 2)),
            *(Spend(day, "research", "gpt-4o", 2_000_000, 500_000) for day in (8, 9)),
            # concierge: prompt caching stopped (800k of 1M input tokens read from the cache, then none)
            *(
                Spend(
                    day, "concierge", "claude-haiku-4-5", 1_000_000, 20_000, "anthropic", cache_read=800_000
                )
                for day in (2, 3)
            ),
            *(Spend(day, "concierge", "claude-haiku-4-5", 1_000_000, 20_000, "anthropic") for day in (9, 10)),
            Spend(10, "newbie", **mini_call),  # a new workflow
            Spend(4, "legacy", **mini_call),  # a workflow that stopped
            *(Spend(day, "dispatcher", **mini_call) for day in (0, 5)),
            Spend(12, "dispatcher", **mini_call),
            # thirds: 3 -> 7 calls of uneven cost, so its cost per request is a repeating decimal
            Spend(0, "thirds", "gpt-4o", 1_000_000, 100_000),
            Spend(1, "thirds", "gpt-4o", 1_000_000, 100_000),
            Spend(2, "thirds", "gpt-4o", 1_000_000, 100_001),
            *(Spend(day, "thirds", "gpt-4o", 1_000_000, 100_000) for day in range(7, 14)),
        ]
    )
    # dispatcher: a retry loop, one trace of five calls for property-17
    loop = [Spend(11, "dispatcher", **mini_call, tenant="property-17", minute=n) for n in range(5)]
    return [*traces, loop]


@pytest.fixture(scope="module", params=BACKENDS)
def ledger(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | str]:
    """The same ledger in a SQLite file and in a PostgreSQL database: the report reads either alike."""
    outcomes = [
        Done(1, "support", "ticket_resolved", 4),
        Done(9, "support", "ticket_resolved", 3),
        Done(10, "support", "ticket_resolved", 3),
        Done(2, "research", "report_written", 2),
    ]
    if request.param == "sqlite":
        yield build_ledger(tmp_path_factory.mktemp("compare") / "ledger.sqlite3", _calls(), outcomes)
        return
    postgres: PostgresServer = request.getfixturevalue("postgres")
    name = f"compare_{uuid.uuid4().hex[:12]}"
    yield build_ledger(postgres.create_database(name), _calls(), outcomes)
    postgres.drop_database(name)


def _json(ledger: Path | str, *args: str) -> dict[str, object]:
    out = costline_report("--ledger", str(ledger), *AFTER, "--compare", "previous", "--format", "json", *args)
    data = json.loads(out.stdout)
    assert isinstance(data, dict)
    return data


def _point(value: Decimal) -> Decimal:
    return value.quantize(POINT, ROUND_HALF_EVEN)


# Per group: (before, after, volume, usage per request, price/mix), by hand.
THIRDS_BEFORE_INPUT = 3 * 1_000_000 * Decimal("2.50") / M  # $7.50
THIRDS_BEFORE_OUTPUT = (100_000 + 100_000 + 100_001) * Decimal(10) / M  # $3.00001
THIRDS_AT_VOLUME = _point(THIRDS_BEFORE_INPUT * 7 / 3) + _point(THIRDS_BEFORE_OUTPUT * 7 / 3)
EXPECTED = {
    # 4 x $0.21 -> 6 x $0.39; at volume 6 x $0.21 = $1.26; the new calls' tokens at the old prices = $2.34
    "support": (
        4 * mini(1_000_000, 100_000),
        6 * mini(1_000_000, 400_000),
        Decimal("0.42"),
        Decimal("1.08"),
        0,
    ),
    # the same tokens on gpt-4o: at the old model's prices they cost what they did, so all is price/mix
    "research": (
        2 * mini(2_000_000, 500_000),
        2 * gpt4o(2_000_000, 500_000),
        0,
        0,
        2 * gpt4o(2_000_000, 500_000) - 2 * mini(2_000_000, 500_000),
    ),
    # $0.38 -> $1.10 a call on the same model: all usage per request
    "concierge": (
        2 * haiku(200_000, 800_000, 20_000),
        2 * haiku(1_000_000, 0, 20_000),
        0,
        Decimal("1.44"),
        0,
    ),
    "newbie": (Decimal(0), mini(1_000_000, 100_000), mini(1_000_000, 100_000), 0, 0),
    "legacy": (mini(1_000_000, 100_000), Decimal(0), -mini(1_000_000, 100_000), 0, 0),
    "dispatcher": (
        2 * mini(1_000_000, 100_000),
        6 * mini(1_000_000, 100_000),
        4 * mini(1_000_000, 100_000),
        0,
        0,
    ),
    "thirds": (
        THIRDS_BEFORE_INPUT + THIRDS_BEFORE_OUTPUT,
        7 * gpt4o(1_000_000, 100_000),
        THIRDS_AT_VOLUME - (THIRDS_BEFORE_INPUT + THIRDS_BEFORE_OUTPUT),
        7 * gpt4o(1_000_000, 100_000) - THIRDS_AT_VOLUME,
        0,
    ),
}


def test_every_group_change_splits_into_hand_computed_drivers(ledger: Path | str) -> None:
    comparison = _json(ledger)["comparison"]
    assert isinstance(comparison, dict)
    rows = {row[WORKFLOW_ID]: row for row in comparison["rows"]}
    assert set(rows) == set(EXPECTED)
    for workflow, (before, after, volume, usage, price_mix) in EXPECTED.items():
        row = rows[workflow]
        got = [Decimal(row[name]) for name in ("before_cost_usd", "after_cost_usd", "volume_usd")]
        got += [Decimal(row["usage_per_request_usd"]), Decimal(row["price_mix_usd"])]
        assert got == [before, after, volume, usage, price_mix], workflow
        assert Decimal(row["change_usd"]) == after - before
        assert Decimal(row["volume_usd"]) + Decimal(row["usage_per_request_usd"]) + Decimal(
            row["price_mix_usd"]
        ) == Decimal(row["change_usd"])
    assert Decimal("24.500023333333") == THIRDS_AT_VOLUME  # 10.50001 x 7/3, rounded at the 12th decimal
    assert (rows["support"]["before_requests"], rows["support"]["after_requests"]) == (4, 6)
    assert rows["support"]["after_unpriced_requests"] == 1  # counted apart, never priced at zero
    # usage per request by token type: support's is all output (6 x 300k more output tokens at $0.60/M)
    support_usage = rows["support"]["usage_per_request_by_token_type_usd"]
    assert {k: Decimal(v) for k, v in support_usage.items()} == {
        "input": 0,
        "cache_read": 0,
        "cache_write": 0,
        "output": Decimal("1.08"),
    }


def test_the_total_change_is_the_sum_of_its_drivers_to_the_last_digit(ledger: Path | str) -> None:
    comparison = _json(ledger)["comparison"]
    assert isinstance(comparison, dict)
    before = sum((e[0] for e in EXPECTED.values()), Decimal(0))
    after = sum((e[1] for e in EXPECTED.values()), Decimal(0))
    assert Decimal(comparison["before_cost_usd"]) == before == Decimal("13.93001")
    assert Decimal(comparison["after_cost_usd"]) == after == Decimal("50.51")
    assert Decimal(comparison["change_usd"]) == after - before
    drivers = [Decimal(comparison[name]) for name in ("volume_usd", "usage_per_request_usd", "price_mix_usd")]
    assert sum(drivers) == after - before
    assert drivers == [
        sum((Decimal(e[2]) for e in EXPECTED.values()), Decimal(0)),
        sum((Decimal(e[3]) for e in EXPECTED.values()), Decimal(0)),
        sum((Decimal(e[4]) for e in EXPECTED.values()), Decimal(0)),
    ]
    assert comparison["before"] == {
        "since": "2026-11-01T00:00:00+00:00",
        "until": "2026-11-08T00:00:00+00:00",
    }
    assert comparison["after_unpriced_requests"] == 1


def test_named_changes_say_what_happened_and_what_it_cost(ledger: Path | str) -> None:
    comparison = _json(ledger)["comparison"]
    assert isinstance(comparison, dict)
    found = {(f["kind"], f[WORKFLOW_ID]): f for f in comparison["findings"]}
    assert set(found) == {
        ("model_upgrade", "research"),
        ("caching_stopped", "concierge"),
        ("step_change", "support"),
        ("retry_loop", "dispatcher"),
        ("new_workflow", "newbie"),
    }
    upgrade = found[("model_upgrade", "research")]
    assert "from gpt-4o-mini to gpt-4o since 2026-11-09" in upgrade["summary"]
    assert Decimal(upgrade["cost_usd"]) == 2 * (gpt4o(2_000_000, 500_000) - mini(2_000_000, 500_000))
    caching = found[("caching_stopped", "concierge")]
    assert "from 80% to 0% of input tokens (since 2026-11-10)" in caching["summary"]
    assert Decimal(caching["cost_usd"]) == 2 * (haiku(1_000_000, 0, 20_000) - haiku(200_000, 800_000, 20_000))
    step = found[("step_change", "support")]
    assert "cost per call \N{MULTIPLICATION SIGN}1.9 since 2026-11-08" in step["summary"]  # $0.39 / $0.21
    assert "output tokens per call \N{MULTIPLICATION SIGN}4.0" in step["summary"]
    assert Decimal(step["cost_usd"]) == 6 * (mini(1_000_000, 400_000) - mini(1_000_000, 100_000))
    loop = found[("retry_loop", "dispatcher")]
    assert "1 trace with 5 LLM calls each, all for tenant property-17, since 2026-11-12" in loop["summary"]
    assert Decimal(loop["cost_usd"]) == 4 * mini(1_000_000, 100_000)  # the four repeated calls
    assert found[("new_workflow", "newbie")]["brief"] == "new since 2026-11-11"


def test_summary_paragraph_names_the_biggest_movers_and_why(ledger: Path | str) -> None:
    summary = _json(ledger)["comparison"]["summary"]
    assert summary.startswith(
        "Spend rose $36.58 (+262.6%), from $13.93 in 2026-11-01 to 2026-11-07 to $50.51 in 2026-11-08 to"
        " 2026-11-14. Of the rise, $18.80 (51%) is research (a model upgrade to gpt-4o since 2026-11-09),"
        " $14.00 (38%) is thirds, $1.50 (4%) is support (cost per call \N{MULTIPLICATION SIGN}1.9 since"
        " 2026-11-08: output tokens per call \N{MULTIPLICATION SIGN}4.0), $1.44 (4%) is concierge (prompt"
        " caching stopped on 2026-11-10) and $1.05 (3%) the other 2. Against the trend, legacy $0.21 fell."
    ), summary
    assert summary.endswith("price and model mix +$18.80.")


def test_csv_is_the_comparison_table(ledger: Path | str) -> None:
    text = costline_report("--ledger", str(ledger), *AFTER, "--compare", "previous", "--format", "csv").stdout
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        WORKFLOW_ID,
        "before_cost_usd",
        "after_cost_usd",
        "change_usd",
        "change_pct",
        "volume_usd",
        "usage_per_request_usd",
        "price_mix_usd",
        "before_requests",
        "after_requests",
        "before_unpriced_requests",
        "after_unpriced_requests",
    ]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["research"][1:8] == ["1.2", "20", "18.8", "1566.67", "0", "0", "18.8"]
    assert by_name["newbie"][4] == ""  # no earlier spend: no percentage
    total = by_name["TOTAL"]
    assert total[1:4] == ["13.93001", "50.51", "36.57999"]
    assert sum(Decimal(total[i]) for i in (5, 6, 7)) == Decimal("36.57999")
    assert total[8:] == ["14", "24", "0", "1"]  # priced requests: 4+2+2+1+2+3 and 6+2+2+1+6+7


def test_table_starts_with_the_paragraph_then_the_drivers(ledger: Path | str) -> None:
    text = costline_report("--ledger", str(ledger), *AFTER, "--compare", "previous").stdout
    assert text.startswith("Spend rose $36.58 (+262.6%)")
    assert "Spend change by workflow_id: 2026-11-01 to 2026-11-07 \N{RIGHTWARDS ARROW} 2026-11-08 to" in text
    research = next(line for line in text.splitlines() if line.startswith("│ research"))
    assert "+$18.80" in research
    assert "2 \N{RIGHTWARDS ARROW} 2" in research
    assert "unpriced requests: 0 before, 1 after (their cost is in no amount)" in text
    assert "[model_upgrade] research: calls moved from gpt-4o-mini to gpt-4o" in text
    assert "LLM spend 2026-11-08 to 2026-11-14 by workflow_id" in text  # the spend report follows


def test_html_has_the_paragraph_waterfalls_and_table_offline(ledger: Path | str, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    costline_report(
        "--ledger", str(ledger), *AFTER, "--compare", "previous", "--format", "html", "--output", str(out)
    )
    html = out.read_text(encoding="utf-8")
    page = Page(html)
    assert page.text("comparison-summary").startswith("Spend rose $36.58 (+262.6%)")
    for chart in ("waterfall-drivers", "waterfall-groups"):
        assert chart in page.ids()
    table = page.table("comparison-table")
    assert table[0][:4] == [WORKFLOW_ID, "before", "after", "change"]
    assert table[1][:4] == ["research", "$1.20", "$20.00", "+$18.80"]
    assert page.text("change-1").startswith("model_upgrade research: calls moved")
    assert "<script" not in html
    assert "http://" not in html
    assert "https://" not in html


def test_cost_per_outcome_before_and_after(ledger: Path | str) -> None:
    comparison = _json(ledger)["comparison"]
    rows = {(r[WORKFLOW_ID], r["outcome"]): r for r in comparison["cost_per_outcome"]}
    support = rows[("support", "ticket_resolved")]
    # $0.84 over 4 tickets, then $2.34 over 3 + 3
    assert (support["before_count"], support["after_count"]) == (4, 6)
    assert (
        Decimal(support["before_cost_per_outcome_usd"]) == 4 * mini(1_000_000, 100_000) / 4 == Decimal("0.21")
    )
    assert Decimal(support["after_cost_per_outcome_usd"]) == Decimal("0.39")
    assert support["change_share"] == pytest.approx(0.39 / 0.21 - 1)
    research = rows[("research", "report_written")]
    assert (research["before_cost_per_outcome_usd"], research["after_cost_per_outcome_usd"]) == ("0.6", None)


def test_projection_to_month_end_and_year_end_at_the_growth_rate(ledger: Path | str) -> None:
    """Spend per day grows from 13.93001/7 to 50.51/7 over the 7 days between the windows' midpoints."""
    projection = _json(ledger)["comparison"]["projection"]
    before, after, spent = Decimal("13.93001"), Decimal("50.51"), Decimal("64.44001")  # Nov 1-14, all priced
    with localcontext() as context:
        context.prec = 34
        rate, growth = after / 7, (after / before) ** (Decimal(1) / 7)

        def ahead(days: int) -> Decimal:  # the integral of rate * growth^(3.5 + t) for t in 0..days
            return rate * growth ** Decimal("3.5") * (growth**days - 1) / growth.ln()

        month_end = (spent + ahead(16)).quantize(Decimal("0.01"), ROUND_HALF_UP)  # Nov 15 -> Dec 1
        year_end = (spent + ahead(47)).quantize(Decimal("0.01"), ROUND_HALF_UP)  # Nov 15 -> Jan 1
        flat = (spent + rate * 47).quantize(Decimal("0.01"), ROUND_HALF_UP)
        monthly = float(growth ** Decimal("30.4375") - 1)
    assert projection["as_of"] == "2026-11-15T00:00:00+00:00"
    assert (projection["month"], Decimal(projection["month_to_date_usd"])) == ("2026-11", spent)
    assert Decimal(projection["month_end_usd"]) == month_end
    assert Decimal(projection["year_end_usd"]) == year_end
    assert Decimal(projection["year_end_flat_usd"]) == flat == Decimal("403.58")
    assert projection["growth_per_month"] == pytest.approx(monthly)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--compare", "2026-11"), "overlaps the report window (2026-11-08 to 2026-11-14)"),
        (("--compare", "2026-11-05..2026-11-01"), "is empty"),
        (("--compare", "2025-01"), "no calls in 2025-01-01 to 2025-01-31 in the ledger"),
        (("--compare", "last-month"), "--compare must be 'previous', a period"),
        (("--compare", "previous", "--prometheus", "http://127.0.0.1:9"), "use --ledger, not --prometheus"),
    ],
)
def test_bad_windows_are_one_clear_error(ledger: Path | str, args: tuple[str, ...], message: str) -> None:
    result = costline_report("--ledger", str(ledger), *AFTER, *args, expect=2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_empty_report_window_is_refused(ledger: Path | str) -> None:
    result = costline_report(
        "--ledger",
        str(ledger),
        "--since",
        "2027-01-01",
        "--until",
        "2027-02-01",
        "--compare",
        "previous",
        expect=2,
    )
    assert "no calls in 2027-01-01 to 2027-01-31 in the ledger" in result.stderr
    assert "its calls run from 2026-11-01 12:00 to 2026-11-14 12:00 UTC" in result.stderr
