"""Calls whose span names no catalogue provider (a gateway, a proxy, a local server) are priced at the list
price of the model's maker, inferred from the model id; `llm.pricing.source` says how.

Expected costs are computed by hand from the makers' published list prices, USD per million tokens:
- OpenAI, https://openai.com/api/pricing (2025-11): gpt-4o-mini input $0.15, cached input $0.075, output
  $0.60; gpt-4.1 input $2, cached $0.50, output $8; gpt-4o input $2.50, output $10; o1 input $15, output $60;
  o3 (from 2025-06-10) input $2, output $8; o3-mini and o4-mini input $1.10, output $4.40;
  text-embedding-3-small $0.02.
- Anthropic, https://www.anthropic.com/pricing: Claude Sonnet 4.5 and Claude 3.5 Sonnet input $3, 5-minute
  cache write $3.75, cache read $0.30, output $15; Claude Haiku 4.5 input $1, output $5.
- Google, https://ai.google.dev/gemini-api/docs/pricing: Gemini 2.5 Flash input $0.30, output $2.50.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from _llm_calls import call

from costline import attributes as attr
from costline_processor.metric_names import REASON_UNKNOWN_MODEL
from costline_processor.model import Cost, LlmCall, Unpriced, Usage
from costline_processor.pricing import Pricer
from costline_processor.pricing.catalog import DATA_VERSION

M = Decimal(1_000_000)
GATEWAY = attr.PROVIDER_SELF_HOSTED  # what the OpenAI SDK on an unknown host reports
# 100K input tokens of which 20K cache reads, 10K output (under every long-context threshold)
USAGE = Usage(input_tokens=100_000, output_tokens=10_000, cache_read_tokens=20_000)


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer()


def priced(pricer: Pricer, llm_call: LlmCall) -> Cost:
    result = pricer.price(llm_call)
    assert isinstance(result, Cost), result
    return result


def cost(input_rate: str, cached_rate: str, output_rate: str, usage: Usage = USAGE) -> Decimal:
    uncached = usage.input_tokens - usage.cache_read_tokens
    return (
        uncached * Decimal(input_rate)
        + usage.cache_read_tokens * Decimal(cached_rate)
        + usage.output_tokens * Decimal(output_rate)
    ) / M


def inferred(provider: str, how: str = "the model name") -> str:
    return f"{DATA_VERSION} + provider {provider} inferred from {how}"


@pytest.mark.parametrize(
    ("model", "expected", "source"),
    [
        # github-copilot lists gpt-4o-mini first (without prices): the maker's listing is the one
        ("gpt-4o-mini", cost("0.15", "0.075", "0.60"), inferred("openai")),
        ("gpt-4.1", cost("2", "0.50", "8"), inferred("openai")),
        ("gpt-4o-2024-08-06", cost("2.50", "1.25", "10"), inferred("openai")),  # a dated snapshot
        ("o1", cost("15", "7.50", "60"), inferred("openai")),  # Azure lists the o-series too
        ("o3", cost("2", "0.50", "8"), inferred("openai")),
        ("o3-mini-2025-01-31", cost("1.10", "0.55", "4.40"), inferred("openai")),
        ("o4-mini", cost("1.10", "0.275", "4.40"), inferred("openai")),
        ("claude-sonnet-4-5-20250929", cost("3", "0.30", "15"), inferred("anthropic")),
        # QuickSilver Pro resells Claude Haiku 4.5 at $0.80/$4: Anthropic's own price is the one
        ("claude-haiku-4-5", cost("1", "0.10", "5"), inferred("anthropic")),
        ("gemini-2.5-flash", cost("0.30", "0.03", "2.50"), inferred("google")),
        ("models/gemini-2.5-flash", cost("0.30", "0.03", "2.50"), inferred("google")),  # Gemini API name
        # as OpenRouter and LiteLLM send ids
        ("openai/gpt-4o", cost("2.50", "1.25", "10"), inferred("openai", "the model prefix")),
        (
            "anthropic/claude-sonnet-4.5",
            cost("3", "0.30", "15"),
            inferred("anthropic", "the model prefix"),
        ),
        # Bedrock ids: the vendor prefix, a cross-region prefix, a version suffix
        (
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            cost("3", "0.30", "15"),
            inferred("anthropic", "the Bedrock model id"),
        ),
        (
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            cost("3", "0.30", "15"),
            inferred("anthropic", "the Bedrock model id"),
        ),
    ],
)  # fmt: skip
def test_a_catalogue_model_behind_a_gateway_is_priced_at_its_makers_list_price(
    pricer: Pricer, model: str, expected: Decimal, source: str
) -> None:
    result = priced(pricer, call(GATEWAY, model, USAGE))
    assert result.total == expected
    assert result.source == source


def test_an_embedding_model_listed_by_its_maker_and_a_reseller_is_the_makers(pricer: Pricer) -> None:
    # Azure resells OpenAI's models (its listing falls back to OpenAI's): OpenAI is the one listing left
    result = priced(pricer, call(GATEWAY, "text-embedding-3-small", Usage(1_000_000, 0)))
    assert result.total == Decimal("0.02")
    assert result.source == inferred("openai", "the only catalogue listing")


@pytest.mark.parametrize("provider", [attr.PROVIDER_UNKNOWN, "litellm", "my-gateway"])
def test_any_provider_the_catalogue_does_not_list_is_inferred_the_same_way(
    pricer: Pricer, provider: str
) -> None:
    result = priced(pricer, call(provider, "gpt-4o-mini", USAGE))
    assert result.total == cost("0.15", "0.075", "0.60")
    assert result.source == inferred("openai")


def test_a_known_provider_is_priced_from_its_own_listing_without_inference(pricer: Pricer) -> None:
    result = priced(pricer, call(attr.PROVIDER_OPENAI, "gpt-4o-mini", USAGE))
    assert result.total == cost("0.15", "0.075", "0.60")
    assert result.source == DATA_VERSION


@pytest.mark.parametrize(
    ("model", "named"),
    [
        ("llama-3.1-70b-instruct", ["no catalogue provider lists it"]),  # a self-hosted model
        ("olmo-2-13b", ["no catalogue provider lists it"]),  # starts with "o", is not OpenAI's o-series
        ("o1x", ["openai (whose ids it looks like) does not list it"]),
        ("gpt-4o-mini-my-finetune", ["openai (whose ids it looks like) does not list it"]),
        # two resellers, no maker in the id: ambiguous, the candidates are named
        ("meta-llama/llama-3.1-70b-instruct", ["listed by novita, openrouter", "does not say whose it is"]),
    ],
)
def test_an_unknown_or_ambiguous_id_is_unpriced_naming_the_candidates(
    pricer: Pricer, model: str, named: list[str]
) -> None:
    result = pricer.price(call(GATEWAY, model, USAGE))
    assert isinstance(result, Unpriced)
    assert result.reason == REASON_UNKNOWN_MODEL  # a bounded metric label; the names are in the detail
    assert result.detail.startswith(f"no price for model {model!r} (provider {GATEWAY!r}): ")
    for words in named:
        assert words in result.detail


def test_an_override_for_the_gateway_provider_wins_over_the_inference(tmp_path: Path) -> None:
    overrides = tmp_path / "prices.yaml"
    overrides.write_text(
        "models:\n"
        "  - {id: gw-mini, provider: openai_compatible, model: gpt-4o-mini,\n"
        "     rates: {input: 0.1, output: 0.2}}\n"
        "discounts:\n"
        "  - {id: gw-deal, provider: openai_compatible, multiplier: 0.5}\n"
    )
    pricer = Pricer.load(overrides)
    mini = priced(pricer, call(GATEWAY, "gpt-4o-mini", Usage(1_000_000, 1_000_000)))
    assert (mini.total, mini.source) == (Decimal("0.3"), "override:gw-mini")
    discounted = priced(pricer, call(GATEWAY, "gpt-4.1", Usage(1_000_000, 0)))
    assert discounted.total == Decimal(1)  # half of $2
    assert discounted.source == f"{inferred('openai')} + discount:gw-deal"  # the inference is still named
