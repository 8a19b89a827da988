"""What a downgrade would save, on a ledger built through the real pipeline, read by the `costline report`
process. Expected amounts are list prices per million tokens, written out here:

    USD / 1M tokens      input  cache read  cache write  output
    claude-sonnet-4-6    3      0.30        3.75         15
    claude-haiku-4-5     1      0.10        1.25         5
    gpt-4.1              2      0.50        2            8      (OpenAI bills cache writes as input)
    gpt-4o-mini          0.15   0.075       0.15         0.60
    gemini-2.5-flash     0.30   0.03        0.30         2.50

Window: 2026-11-01 to 2026-11-07 (7 days); "per month" is the saving x 30.4375 / 7 (an average month).
"""

from __future__ import annotations

import csv
import io
import json
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from _pipeline_ledger import Spend, build_ledger, costline_report, single

from costline.attributes import WORKFLOW_ID
from html_text import Page

M = Decimal(1_000_000)
WINDOW = ("--since", "2026-11-01", "--until", "2026-11-08")


def per_month(saving: Decimal) -> Decimal:
    return (saving * Decimal("30.4375") / 7).quantize(Decimal("0.000001"), ROUND_HALF_EVEN)


# concierge: 3 Sonnet calls of 10,000 input tokens (2,000 uncached, 6,000 cache read, 2,000 cache write),
# 500 output tokens
CONCIERGE_NOW = 3 * (2_000 * Decimal(3) + 6_000 * Decimal("0.30") + 2_000 * Decimal("3.75") + 500 * 15) / M
CONCIERGE_HAIKU = 3 * (2_000 * 1 + 6_000 * Decimal("0.10") + 2_000 * Decimal("1.25") + 500 * 5) / M
CONCIERGE_MINI = (
    3
    * (2_000 * Decimal("0.15") + 6_000 * Decimal("0.075") + 2_000 * Decimal("0.15") + 500 * Decimal("0.60"))
    / M
)
# support: 4 gpt-4.1 calls of 3,000 input tokens (1,000 of them cache reads), 400 out
SUPPORT_NOW = 4 * (2_000 * 2 + 1_000 * Decimal("0.50") + 400 * 8) / M
SUPPORT_MINI = 4 * (2_000 * Decimal("0.15") + 1_000 * Decimal("0.075") + 400 * Decimal("0.60")) / M
SUPPORT_FLASH = 4 * (2_000 * Decimal("0.30") + 1_000 * Decimal("0.03") + 400 * Decimal("2.50")) / M
# copilot: 3 gpt-4o-mini calls of 5,000, 5,200 and 6,000 uncached input tokens, 100 out; 5,000 are shared
COPILOT_NOW = ((5_000 + 5_200 + 6_000) * Decimal("0.15") + 300 * Decimal("0.60")) / M
COPILOT_TRIMMED = ((0 + 200 + 1_000) * Decimal("0.15") + 300 * Decimal("0.60")) / M


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    calls = [
        *(
            Spend(
                day,
                "concierge",
                "claude-sonnet-4-6",
                10_000,
                500,
                "anthropic",
                cache_read=6_000,
                cache_write=2_000,
            )
            for day in (0, 1, 2)
        ),
        *(Spend(day, "support", "gpt-4.1", 3_000, 400, cache_read=1_000) for day in (0, 2, 4, 6)),
        *(
            Spend(day, "copilot", "gpt-4o-mini", tokens, 100)
            for day, tokens in ((1, 5_000), (3, 5_200), (5, 6_000))
        ),
    ]
    return build_ledger(tmp_path_factory.mktemp("whatif") / "ledger.sqlite3", single(calls))


def _rows(ledger: Path, *args: str) -> list[dict[str, object]]:
    data = json.loads(costline_report("--ledger", str(ledger), *WINDOW, "--format", "json", *args).stdout)
    assert data["what_if"]["note"].startswith("The saving is exact")
    rows = data["what_if"]["rows"]
    assert isinstance(rows, list)
    return rows


def _money(row: dict[str, object]) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    return tuple(
        Decimal(str(row[name]))
        for name in ("current_cost_usd", "repriced_cost_usd", "saving_usd", "monthly_saving_usd")
    )


def test_best_candidates_reprice_the_same_tokens_at_list_prices(ledger: Path) -> None:
    rows = {(r[WORKFLOW_ID], r["scope"]): r for r in _rows(ledger)}
    assert set(rows) == {
        ("concierge", "same provider"),
        ("concierge", "other provider"),
        ("support", "same provider"),
        ("support", "other provider"),
        ("copilot", "prompt"),  # gpt-4o-mini is the cheapest candidate: only the trim would save
    }
    expected = {
        ("concierge", "same provider"): ("claude-haiku-4-5", CONCIERGE_NOW, CONCIERGE_HAIKU),
        ("concierge", "other provider"): ("gpt-4o-mini", CONCIERGE_NOW, CONCIERGE_MINI),
        ("support", "same provider"): ("gpt-4o-mini", SUPPORT_NOW, SUPPORT_MINI),
        ("support", "other provider"): ("gemini-2.5-flash", SUPPORT_NOW, SUPPORT_FLASH),
    }
    for key, (model, now, instead) in expected.items():
        row = rows[key]
        assert row["model"] == model, key
        assert _money(row) == (now, instead, now - instead, per_month(now - instead)), key
    assert Decimal("0.0684") == CONCIERGE_NOW
    assert Decimal("0.0228") == CONCIERGE_HAIKU


def test_trimming_the_prompt_every_call_shares_is_priced_exactly(ledger: Path) -> None:
    trim = next(r for r in _rows(ledger) if r["scope"] == "prompt")
    assert trim["change"] == "trim the 5,000-token shared prompt"
    assert _money(trim) == (
        COPILOT_NOW,
        COPILOT_TRIMMED,
        COPILOT_NOW - COPILOT_TRIMMED,
        per_month(COPILOT_NOW - COPILOT_TRIMMED),
    )


def test_an_asked_model_is_repriced_even_when_it_costs_more(ledger: Path) -> None:
    rows = _rows(ledger, "--what-if", "copilot=claude-haiku-4-5", "--what-if", "support=gpt-4o-mini")
    asked = {r[WORKFLOW_ID]: r for r in rows if r["scope"] == "asked"}
    haiku = ((5_000 + 5_200 + 6_000) * 1 + 300 * 5) / M  # $0.0177 against $0.00261 now: a rise
    assert _money(asked["copilot"]) == (
        COPILOT_NOW,
        haiku,
        COPILOT_NOW - haiku,
        per_month(COPILOT_NOW - haiku),
    )
    assert asked["support"]["change"] == "gpt-4o-mini (openai)"
    assert _money(asked["support"])[1] == SUPPORT_MINI


def test_csv_is_the_what_if_table_when_asked(ledger: Path) -> None:
    text = costline_report(
        "--ledger", str(ledger), *WINDOW, "--what-if", "support=gpt-4o-mini", "--format", "csv"
    ).stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    first = rows[0]
    assert (first[WORKFLOW_ID], first["scope"], first["model"]) == ("support", "asked", "gpt-4o-mini")
    assert Decimal(first["saving_usd"]) == SUPPORT_NOW - SUPPORT_MINI
    assert first["saving_pct"] == f"{(SUPPORT_NOW - SUPPORT_MINI) / SUPPORT_NOW * 100:.2f}"


def test_table_and_html_say_that_quality_is_the_users_call(ledger: Path, tmp_path: Path) -> None:
    text = costline_report("--ledger", str(ledger), *WINDOW).stdout
    assert "What a cheaper model (or a shorter prompt) would save" in text
    assert "whether the cheaper model does the job well enough is your call" in " ".join(text.split())
    what_if = text[text.index("What a cheaper model") :]
    concierge = [line for line in what_if.splitlines() if line.startswith("│ concierge")]
    assert "claude-haiku-4-5 (anthropic)" in concierge[0]
    out = tmp_path / "report.html"
    costline_report("--ledger", str(ledger), *WINDOW, "--format", "html", "--output", str(out))
    page = Page(out.read_text(encoding="utf-8"))
    table = page.table("what-if-table")
    assert table[0][:4] == [WORKFLOW_ID, "now", "instead", "scope"]
    assert table[1][:4] == ["concierge", "claude-sonnet-4-6", "claude-haiku-4-5 (anthropic)", "same provider"]
    assert "your call" in page.text("what-if-note")


@pytest.mark.parametrize(
    ("what_if", "message"),
    [
        ("support", "--what-if must be WORKFLOW=MODEL"),
        (
            "nobody=gpt-4o-mini",
            "no priced call of 'nobody' in the window (workflows: concierge, copilot, support)",
        ),
        ("support=no-such-model-9", "costline has no price for 'no-such-model-9'"),
    ],
)
def test_a_bad_what_if_is_one_clear_error(ledger: Path, what_if: str, message: str) -> None:
    result = costline_report("--ledger", str(ledger), *WINDOW, "--what-if", what_if, expect=2)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
