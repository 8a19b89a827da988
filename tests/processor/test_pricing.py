"""Pricing against published list prices, computed by hand in each test (never by our code or genai-prices).

Rates are USD per million tokens ("/M"), quoted from the providers' pricing pages:
- Anthropic, https://www.anthropic.com/pricing and docs "Pricing" (Claude Sonnet 4.5, 2025-09-29): input $3/M,
  5-minute cache write $3.75/M, 1-hour cache write $6/M, cache read $0.30/M, output $15/M; prompts over 200K
  input tokens: input $6/M, 5m write $7.50/M, 1h write $12/M, cache read $0.60/M, output $22.50/M.
  Message Batches: 50% of all of those.
- OpenAI, https://openai.com/api/pricing (2025-11): gpt-4o input $2.50/M, cached $1.25/M, output $10/M;
  gpt-4o-mini input $0.15/M, output $0.60/M; gpt-5 input $1.25/M, cached $0.125/M, output $10/M (reasoning
  tokens billed as output); gpt-5 flex input $0.625/M, cached $0.0625/M, output $5/M; gpt-5 priority input
  $2.50/M, cached $0.25/M, output $20/M; o3 before 2025-06-10 input $10/M, output $40/M, from 2025-06-10
  input $2/M, output $8/M (OpenAI's 80% o3 price cut).
- Google, https://ai.google.dev/gemini-api/docs/pricing (Gemini 2.5 Pro): prompts <= 200K tokens input
  $1.25/M, output $10/M; prompts > 200K tokens input $2.50/M, output $15/M.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from _llm_calls import NOV_2025, call

from costline import attributes as attr
from costline_processor.metric_names import REASON_INVALID_USAGE, REASON_NO_USAGE, REASON_UNKNOWN_MODEL
from costline_processor.model import Cost, LlmCall, Unpriced, Usage
from costline_processor.pricing import Pricer

TESTDATA = Path(__file__).parent / "testdata" / "overrides"
M = Decimal(1_000_000)


def priced(pricer: Pricer, llm_call: LlmCall) -> Cost:
    result = pricer.price(llm_call)
    assert isinstance(result, Cost), result
    assert result.total == result.input + result.cache_read + result.cache_write + result.output
    return result


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer.load()


def test_claude_sonnet_cache_read_and_5m_and_1h_writes(pricer: Pricer) -> None:
    # 100k input (inclusive) = 10k uncached + 60k cache read + 30k cache write (20k 5-minute, 10k 1-hour)
    usage = Usage(
        100_000, 2_000, cache_read_tokens=60_000, cache_write_tokens=30_000, cache_write_1h_tokens=10_000
    )
    cost = priced(pricer, call(attr.PROVIDER_ANTHROPIC, "claude-sonnet-4-5-20250929", usage))
    assert cost.input == 10_000 * Decimal("3") / M  # 0.03
    assert cost.cache_read == 60_000 * Decimal("0.30") / M  # 0.018
    assert cost.cache_write == 20_000 * Decimal("3.75") / M + 10_000 * Decimal("6") / M  # 0.075 + 0.06
    assert cost.output == 2_000 * Decimal("15") / M  # 0.03
    assert cost.total == Decimal("0.213")
    assert cost.source == pricer.data_version == "genai-prices 0.2.3"


def test_gpt_4o_cached_input(pricer: Pricer) -> None:
    cost = priced(
        pricer, call(attr.PROVIDER_OPENAI, "gpt-4o-2024-08-06", Usage(10_000, 1_000, cache_read_tokens=4_000))
    )
    assert (cost.input, cost.cache_read, cost.cache_write, cost.output) == (
        6_000 * Decimal("2.50") / M,
        4_000 * Decimal("1.25") / M,
        Decimal(0),
        1_000 * Decimal("10") / M,
    )
    assert cost.total == Decimal("0.03")


def test_gpt_5_reasoning_tokens_are_billed_inside_output(pricer: Pricer) -> None:
    usage = Usage(20_000, 5_000, cache_read_tokens=8_000, reasoning_tokens=3_000)
    cost = priced(pricer, call(attr.PROVIDER_OPENAI, "gpt-5", usage))
    assert cost.input == 12_000 * Decimal("1.25") / M
    assert cost.cache_read == 8_000 * Decimal("0.125") / M
    assert cost.output == 5_000 * Decimal("10") / M  # 3k reasoning are part of the 5k output, not extra
    assert cost.total == Decimal("0.066")


def test_long_context_tier_reprices_the_whole_request(pricer: Pricer) -> None:
    at_threshold = priced(pricer, call(attr.PROVIDER_GEMINI, "gemini-2.5-pro", Usage(200_000, 4_000)))
    assert at_threshold.total == 200_000 * Decimal("1.25") / M + 4_000 * Decimal("10") / M  # 0.29
    above = priced(pricer, call(attr.PROVIDER_GEMINI, "gemini-2.5-pro", Usage(250_000, 4_000)))
    # ALL 250k input tokens and the output at the >200K rates, not just the part above 200K
    assert above.input == 250_000 * Decimal("2.50") / M
    assert above.output == 4_000 * Decimal("15") / M
    assert above.total == Decimal("0.685")


def test_claude_long_context_tier_covers_cache_tokens_too(pricer: Pricer) -> None:
    usage = Usage(
        300_000, 10_000, cache_read_tokens=100_000, cache_write_tokens=50_000, cache_write_1h_tokens=20_000
    )
    cost = priced(pricer, call(attr.PROVIDER_ANTHROPIC, "claude-sonnet-4-5", usage))
    assert cost.input == 150_000 * Decimal("6") / M
    assert cost.cache_read == 100_000 * Decimal("0.60") / M
    assert cost.cache_write == 30_000 * Decimal("7.50") / M + 20_000 * Decimal("12") / M
    assert cost.output == 10_000 * Decimal("22.50") / M
    assert cost.total == Decimal("1.65")


@pytest.mark.parametrize("how", ["batch_flag", "service_tier"])
def test_anthropic_batch_is_half_price(pricer: Pricer, how: str) -> None:
    kwargs: dict[str, object] = {"batch": True} if how == "batch_flag" else {"service_tier": "batch"}
    usage = Usage(10_000, 1_000, cache_read_tokens=2_000)
    cost = priced(pricer, call(attr.PROVIDER_ANTHROPIC, "claude-sonnet-4-5", usage, **kwargs))  # type: ignore[arg-type]
    assert cost.input == 8_000 * Decimal("1.50") / M
    assert cost.cache_read == 2_000 * Decimal("0.15") / M
    assert cost.output == 1_000 * Decimal("7.50") / M


def test_batch_rule_applies_when_the_data_has_no_batch_price(pricer: Pricer) -> None:
    # Claude Sonnet 4 ($3/$15 like 4.5) has no batch prices in the data: Anthropic's documented 50% applies.
    cost = priced(
        pricer, call(attr.PROVIDER_ANTHROPIC, "claude-sonnet-4-20250514", Usage(10_000, 1_000), batch=True)
    )
    assert cost.total == 10_000 * Decimal("1.50") / M + 1_000 * Decimal("7.50") / M


def test_openai_flex_and_priority_tiers(pricer: Pricer) -> None:
    usage = Usage(10_000, 1_000, cache_read_tokens=2_000)
    flex = priced(pricer, call(attr.PROVIDER_OPENAI, "gpt-5", usage, service_tier="flex"))
    assert flex.total == 8_000 * Decimal("0.625") / M + 2_000 * Decimal("0.0625") / M + 1_000 * Decimal(5) / M
    priority = priced(pricer, call(attr.PROVIDER_OPENAI, "gpt-5", usage, service_tier="priority"))
    assert (
        priority.total == 8_000 * Decimal("2.50") / M + 2_000 * Decimal("0.25") / M + 1_000 * Decimal(20) / M
    )
    default = priced(pricer, call(attr.PROVIDER_OPENAI, "gpt-5", usage, service_tier="default"))
    assert (
        default.total == 8_000 * Decimal("1.25") / M + 2_000 * Decimal("0.125") / M + 1_000 * Decimal(10) / M
    )


def test_dated_price_change_uses_the_span_start_time(pricer: Pricer) -> None:
    usage = Usage(1_000, 1_000)
    before = priced(
        pricer, call(attr.PROVIDER_OPENAI, "o3", usage, at=datetime(2025, 6, 9, 23, 59, tzinfo=UTC))
    )
    after = priced(
        pricer, call(attr.PROVIDER_OPENAI, "o3", usage, at=datetime(2025, 6, 10, 0, 1, tzinfo=UTC))
    )
    assert before.total == 1_000 * Decimal(10) / M + 1_000 * Decimal(40) / M  # 0.05
    assert after.total == 1_000 * Decimal(2) / M + 1_000 * Decimal(8) / M  # 0.01


def test_response_model_is_priced_over_request_model(pricer: Pricer) -> None:
    llm_call = call(
        attr.PROVIDER_OPENAI, "gpt-4o-mini-2024-07-18", Usage(1_000_000, 1_000_000), request_model="gpt-4o"
    )
    assert priced(pricer, llm_call).total == Decimal("0.15") + Decimal("0.60")


def test_unknown_response_model_falls_back_to_the_request_model(pricer: Pricer) -> None:
    llm_call = call(
        attr.PROVIDER_OPENAI, "gpt-4o-mystery-snapshot-x", Usage(1_000_000, 0), request_model="gpt-4o"
    )
    assert priced(pricer, llm_call).total == Decimal("2.50")


def test_unknown_model_is_unpriced_never_zero(pricer: Pricer) -> None:
    result = pricer.price(call(attr.PROVIDER_OPENAI, "definitely-not-a-model", Usage(10, 10)))
    assert isinstance(result, Unpriced)
    assert result.reason == REASON_UNKNOWN_MODEL
    self_hosted = pricer.price(call(attr.PROVIDER_SELF_HOSTED, "llama-3.1-70b-instruct", Usage(10, 10)))
    assert isinstance(self_hosted, Unpriced)  # no catalogue lists it: a self-hosted model needs an override
    assert self_hosted.reason == REASON_UNKNOWN_MODEL


def test_missing_usage_is_unpriced_no_usage(pricer: Pricer) -> None:
    assert pricer.price(call(attr.PROVIDER_OPENAI, "gpt-4o", None)) == Unpriced(
        REASON_NO_USAGE, "the span reports no token usage"
    )
    flagged = pricer.price(call(attr.PROVIDER_OPENAI, "gpt-4o", None, usage_error="x is negative"))
    assert flagged == Unpriced(REASON_INVALID_USAGE, "x is negative")


@pytest.mark.parametrize(
    ("usage", "why"),
    [
        (Usage(-1, 10), "outside"),
        (Usage(10, -5), "outside"),
        (Usage(10, 10, cache_read_tokens=8, cache_write_tokens=5), "exceed the (inclusive) input"),
        (Usage(10, 10, cache_write_tokens=2, cache_write_1h_tokens=3), "1-hour"),
        (Usage(10, 10, reasoning_tokens=11), "reasoning"),
        (Usage(20_000_000, 10), "outside"),
        (Usage(float("nan"), 10), "not an integer"),  # type: ignore[arg-type]
        (Usage(10.5, 10), "not an integer"),  # type: ignore[arg-type]
    ],
)
def test_impossible_usage_is_unpriced_invalid(pricer: Pricer, usage: Usage, why: str) -> None:
    result = pricer.price(call(attr.PROVIDER_OPENAI, "gpt-4o", usage))
    assert isinstance(result, Unpriced)
    assert result.reason == REASON_INVALID_USAGE
    assert why in result.detail


def test_a_call_without_any_model_is_unknown_model(pricer: Pricer) -> None:
    llm_call = call(attr.PROVIDER_OPENAI, "", Usage(1, 1))
    llm_call = dataclasses.replace(llm_call, request_model=None)
    result = pricer.price(llm_call)
    assert isinstance(result, Unpriced)
    assert result.reason == REASON_UNKNOWN_MODEL


def test_describe_lists_rates_tiers_and_source(pricer: Pricer) -> None:
    card = pricer.describe("claude-sonnet-4-5", attr.PROVIDER_ANTHROPIC, NOV_2025)
    assert card.model_id == "claude-sonnet-4-5"
    assert (card.base.input, card.base.cache_write, card.base.cache_write_1h, card.base.output) == (
        Decimal(3),
        Decimal("3.75"),
        Decimal(6),
        Decimal(15),
    )
    assert [(tier.above, tier.rates.input, tier.rates.output) for tier in card.tiers] == [
        (200_000, Decimal(6), Decimal("22.5"))
    ]
    assert card.source == "genai-prices 0.2.3"
    with pytest.raises(LookupError):
        pricer.describe("definitely-not-a-model", attr.PROVIDER_OPENAI)


def test_derived_1h_cache_rate_for_claude_when_the_data_lacks_it(pricer: Pricer) -> None:
    # Google's Vertex listing of Claude Opus 4.6 had no 1h write price before 2026-03-13: Anthropic's rule, 2x
    # the $5/M input, applies ($10/M).
    card = pricer.describe("claude-opus-4-6", attr.PROVIDER_GCP_VERTEX_AI, datetime(2026, 3, 1, tzinfo=UTC))
    assert card.base.cache_write_1h == 2 * Decimal(5)
    assert any("2x input" in note for note in card.notes)


@pytest.mark.parametrize(
    ("hour", "minute", "second", "off_peak"),
    [
        (12, 0, 0, False),
        (16, 29, 59, False),
        (16, 30, 0, True),
        (20, 0, 0, True),
        (0, 29, 59, True),
        (0, 30, 0, False),
    ],
)
def test_time_of_day_prices_switch_at_the_published_hours(
    pricer: Pricer, hour: int, minute: int, second: int, off_peak: bool
) -> None:
    # DeepSeek (api-docs.deepseek.com pricing, 2025): deepseek-chat $0.27/M input (cache miss), $0.07/M cache
    # hit, $1.10/M output; 50% off during the off-peak window 16:30-00:30 UTC.
    at = datetime(2025, 7, 1, hour, minute, second, tzinfo=UTC)
    cost = priced(
        pricer, call(attr.PROVIDER_DEEPSEEK, "deepseek-chat", Usage(1_000_000, 1_000_000, 200_000), at=at)
    )
    full = 800_000 * Decimal("0.27") / M + 200_000 * Decimal("0.07") / M + Decimal("1.10")
    assert cost.total == (full / 2 if off_peak else full)


def test_plans_are_cached_per_day_segment_not_per_span(pricer: Pricer) -> None:
    fresh = Pricer.load()
    for second in range(0, 86_400, 60):  # one span per minute of a day
        at = datetime.fromtimestamp(1_751_328_000 + second, UTC)
        fresh.price(call(attr.PROVIDER_DEEPSEEK, "deepseek-chat", Usage(10, 10), at=at))
    # one marker plan + one plan per segment (00:00-00:30, 00:30-16:30, 16:30-24:00)
    assert fresh.cache_info()["misses"] == 4


def test_openai_fast_tier(pricer: Pricer) -> None:
    # OpenAI's "fast" service tier bills the priority rates: gpt-5 $2.50/M input, $20/M output
    usage = Usage(10_000, 1_000)
    at = datetime(2026, 11, 1, tzinfo=UTC)
    cost = priced(pricer, call(attr.PROVIDER_OPENAI, "gpt-5", usage, service_tier="fast", at=at))
    assert cost.total == 10_000 * Decimal("2.50") / M + 1_000 * Decimal(20) / M
