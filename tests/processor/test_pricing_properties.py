"""Properties of pricing over generated usages: exact sums, never negative, monotone, known verdicts."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from costline_processor.metric_names import UNPRICED_REASONS
from costline_processor.model import Cost, LlmCall, Unpriced, Usage
from costline_processor.pricing import MAX_TOKENS, Pricer

PRICER = Pricer.load()
MODELS = [
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-3-5-haiku-latest"),
    ("openai", "gpt-4o"),
    ("openai", "gpt-5-mini"),
    ("gcp.gemini", "gemini-2.5-pro"),
    ("deepseek", "deepseek-chat"),
    ("openai", "no-such-model"),
]
TIERS = [None, "default", "batch", "flex", "priority"]
# 2024-01-01 .. 2027-01-01, so dated and time-of-day prices are exercised
starts = st.integers(min_value=1_704_067_200, max_value=1_798_761_600).map(lambda s: s * 1_000_000_000)


@st.composite
def valid_usages(draw: st.DrawFn) -> Usage:
    input_tokens = draw(st.integers(0, 1_000_000))
    cache_read = draw(st.integers(0, input_tokens))
    cache_write = draw(st.integers(0, input_tokens - cache_read))
    write_1h = draw(st.integers(0, cache_write))
    output = draw(st.integers(0, 200_000))
    reasoning = draw(st.integers(0, output))
    return Usage(input_tokens, output, cache_read, cache_write, write_1h, reasoning)


def make_call(model: tuple[str, str], usage: Usage | None, start: int, tier: str | None) -> LlmCall:
    provider, name = model
    return LlmCall(
        b"t", b"s", start, start, "costline", provider, "chat", name, name, None, usage, service_tier=tier
    )


@settings(max_examples=400, deadline=None, database=None)
@given(model=st.sampled_from(MODELS), usage=valid_usages(), start=starts, tier=st.sampled_from(TIERS))
def test_valid_usage_prices_exactly_and_never_negative(
    model: tuple[str, str], usage: Usage, start: int, tier: str | None
) -> None:
    result = PRICER.price(make_call(model, usage, start, tier))
    if model[1] == "no-such-model":
        assert isinstance(result, Unpriced)
        return
    assert isinstance(result, Cost)
    parts = (result.input, result.cache_read, result.cache_write, result.output)
    assert all(isinstance(part, Decimal) and part >= 0 for part in parts)
    assert result.total == sum(parts, Decimal(0))
    more_output = PRICER.price(
        make_call(model, Usage(**{**_fields(usage), "output_tokens": usage.output_tokens + 1}), start, tier)
    )
    assert isinstance(more_output, Cost)
    assert more_output.total >= result.total


def _fields(usage: Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "cache_write_1h_tokens": usage.cache_write_1h_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
    }


counts = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=300, deadline=None, database=None)
@given(values=st.tuples(counts, counts, counts, counts, counts, counts), start=starts)
def test_any_usage_is_either_a_cost_or_a_known_reason(values: tuple[int, ...], start: int) -> None:
    usage = Usage(*values)
    result = PRICER.price(make_call(("openai", "gpt-4o"), usage, start, None))
    if isinstance(result, Unpriced):
        assert result.reason in UNPRICED_REASONS
        return
    assert all(type(v) is int and 0 <= v <= MAX_TOKENS for v in values)
    assert result.total >= 0
