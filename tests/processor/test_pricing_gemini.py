"""Gemini pricing (Gemini API `gcp.gemini`, Vertex AI `gcp.vertex_ai`) against Google's list prices, by hand.

Rates are USD per million tokens ("/M"), from https://ai.google.dev/gemini-api/docs/pricing and
https://cloud.google.com/vertex-ai/generative-ai/pricing (standard, paid tier, text):
- Gemini 2.5 Pro: prompts <= 200K tokens input $1.25/M, context-cache read $0.125/M, output $10/M (thinking
  included); prompts > 200K: input $2.50/M, cache read $0.25/M, output $15/M.
- Gemini 2.5 Flash: input $0.30/M, cache read $0.03/M, output $2.50/M (thinking included).
- Gemini 3 Pro Preview: <= 200K input $2/M, cache read $0.20/M, output $12/M; > 200K input $4/M, cache read
  $0.40/M, output $18/M.
- gemini-embedding-001: input $0.15/M.
The usage is what costline's google-genai instrumentation writes: input = prompt (cached content inside) +
tool-use prompt tokens, output = candidates + thoughts.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from _normalize_spans import normalized
from test_pricing import call, priced

from costline import attributes as attr
from costline_processor.model import Usage
from costline_processor.pricing import Pricer

M = Decimal(1_000_000)
GOOGLE = (attr.PROVIDER_GEMINI, attr.PROVIDER_GCP_VERTEX_AI)


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer.load()


@pytest.mark.parametrize("provider", GOOGLE)
def test_flash_thinking_and_tool_use_tokens(pricer: Pricer, provider: str) -> None:
    # usage_metadata: prompt 10,000 (4,000 cached) + tool-use prompt 1,000; candidates 800 + thoughts 1,200.
    usage = Usage(11_000, 2_000, cache_read_tokens=4_000, reasoning_tokens=1_200)
    cost = priced(pricer, call(provider, "gemini-2.5-flash", usage))
    assert cost.input == 7_000 * Decimal("0.30") / M  # 0.0021: 10,000 - 4,000 cached + 1,000 tool-use
    assert cost.cache_read == 4_000 * Decimal("0.03") / M  # 0.00012
    assert cost.output == 2_000 * Decimal("2.50") / M  # 0.005: the 1,200 thoughts are billed output
    assert cost.total == Decimal("0.00722")
    # Priced from candidates_token_count alone (800 output), the call would cost 0.00422: 41.6% too little.
    assert cost.total - 1_200 * Decimal("2.50") / M == Decimal("0.00422")


@pytest.mark.parametrize("provider", GOOGLE)
def test_pro_below_and_above_the_200k_tier(pricer: Pricer, provider: str) -> None:
    below = priced(pricer, call(provider, "gemini-2.5-pro", Usage(150_000, 6_000, cache_read_tokens=50_000)))
    assert below.input == 100_000 * Decimal("1.25") / M  # 0.125
    assert below.cache_read == 50_000 * Decimal("0.125") / M  # 0.00625
    assert below.output == 6_000 * Decimal("10") / M  # 0.06
    assert below.total == Decimal("0.19125")

    at = priced(pricer, call(provider, "gemini-2.5-pro", Usage(200_000, 1_000)))
    assert at.total == (200_000 * Decimal("1.25") + 1_000 * Decimal("10")) / M  # 0.26: "<= 200K" is the base

    above = priced(pricer, call(provider, "gemini-2.5-pro", Usage(250_000, 6_000, cache_read_tokens=100_000)))
    # the whole request at the > 200K rates, cached tokens and output included
    assert above.input == 150_000 * Decimal("2.50") / M  # 0.375
    assert above.cache_read == 100_000 * Decimal("0.25") / M  # 0.025
    assert above.output == 6_000 * Decimal("15") / M  # 0.09
    assert above.total == Decimal("0.49")


def test_tool_use_prompt_tokens_count_toward_the_long_context_tier(pricer: Pricer) -> None:
    # prompt 199,500 + tool-use prompt 1,000 = 200,500 input tokens: above 200K, as the price data's own
    # Google usage extractor counts them (toolUsePromptTokenCount is input).
    cost = priced(pricer, call(attr.PROVIDER_GEMINI, "gemini-2.5-pro", Usage(200_500, 2_000)))
    assert cost.total == (200_500 * Decimal("2.50") + 2_000 * Decimal("15")) / M  # 0.53125


@pytest.mark.parametrize("provider", GOOGLE)
def test_gemini_3_pro_preview_tiers(pricer: Pricer, provider: str) -> None:
    below = priced(
        pricer, call(provider, "gemini-3-pro-preview", Usage(40_000, 5_000, cache_read_tokens=30_000))
    )
    assert below.total == (10_000 * Decimal(2) + 30_000 * Decimal("0.20") + 5_000 * Decimal(12)) / M  # 0.086
    above = priced(
        pricer, call(provider, "gemini-3-pro-preview", Usage(300_000, 10_000, cache_read_tokens=200_000))
    )
    assert above.input == 100_000 * Decimal(4) / M  # 0.4
    assert above.cache_read == 200_000 * Decimal("0.40") / M  # 0.08
    assert above.output == 10_000 * Decimal(18) / M  # 0.18
    assert above.total == Decimal("0.66")


@pytest.mark.parametrize("provider", GOOGLE)
def test_embeddings(pricer: Pricer, provider: str) -> None:
    cost = priced(pricer, call(provider, "gemini-embedding-001", Usage(10_000, 0)))
    assert cost.total == 10_000 * Decimal("0.15") / M == Decimal("0.0015")


@pytest.mark.parametrize(
    "model",
    [
        "models/gemini-2.5-flash",
        "publishers/google/models/gemini-2.5-flash",
        "projects/my-project/locations/us-central1/publishers/google/models/gemini-2.5-flash",
        "google/gemini-2.5-flash",
    ],
)
def test_resource_names_are_priced_as_the_model(pricer: Pricer, model: str) -> None:
    llm_call = normalized(
        {
            attr.GEN_AI_PROVIDER_NAME: attr.PROVIDER_GCP_VERTEX_AI,
            attr.GEN_AI_OPERATION_NAME: attr.OPERATION_GENERATE_CONTENT,
            attr.GEN_AI_REQUEST_MODEL: model,
            attr.GEN_AI_USAGE_INPUT_TOKENS: 1_000,
            attr.GEN_AI_USAGE_OUTPUT_TOKENS: 100,
        },
        scope=attr.INSTRUMENTATION_SCOPE,
    )
    assert llm_call.request_model == "gemini-2.5-flash"
    cost = pricer.price(llm_call)
    assert cost == priced(pricer, call(attr.PROVIDER_GEMINI, "gemini-2.5-flash", Usage(1_000, 100)))
    assert priced(pricer, llm_call).total == (1_000 * Decimal("0.30") + 100 * Decimal("2.50")) / M


def test_openrouter_model_names_keep_their_prefix() -> None:
    """`google/...` is only Vertex AI's shorthand on a Google-served span; OpenRouter's ids keep it."""
    llm_call = normalized(
        {
            attr.GEN_AI_PROVIDER_NAME: attr.PROVIDER_OPENROUTER,
            attr.GEN_AI_REQUEST_MODEL: "google/gemini-2.5-flash",
            attr.GEN_AI_USAGE_INPUT_TOKENS: 10,
            attr.GEN_AI_USAGE_OUTPUT_TOKENS: 1,
        }
    )
    assert llm_call.request_model == "google/gemini-2.5-flash"


def _openllmetry(total: int | str) -> dict[str, int | str]:
    """The usage OpenLLMetry's google_generativeai instrumentation writes (prompt and candidates counts)."""
    return {
        attr.GEN_AI_PROVIDER_NAME: "gcp.gen_ai",
        attr.GEN_AI_OPERATION_NAME: attr.OPERATION_GENERATE_CONTENT,
        attr.GEN_AI_REQUEST_MODEL: "gemini-2.5-flash",
        attr.GEN_AI_USAGE_INPUT_TOKENS: 10_000,
        attr.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 4_000,
        attr.GEN_AI_USAGE_OUTPUT_TOKENS: 800,
        "gen_ai.usage.total_tokens": total,
    }


def test_thinking_tokens_a_peer_leaves_out_are_restored_from_the_total(pricer: Pricer) -> None:
    scope = "opentelemetry.instrumentation.google_generativeai"
    llm_call = normalized(_openllmetry(12_000), scope=scope)
    assert llm_call.provider == attr.PROVIDER_GEMINI
    assert llm_call.usage == Usage(10_000, 2_000, cache_read_tokens=4_000, reasoning_tokens=1_200)
    assert (
        priced(pricer, llm_call).total
        == (6_000 * Decimal("0.30") + 4_000 * Decimal("0.03") + 2_000 * Decimal("2.50")) / M
    )  # 0.00692
    assert normalized(_openllmetry(10_800), scope=scope).usage == Usage(10_000, 800, cache_read_tokens=4_000)
    # a total below the parts, or one that is no token count, changes nothing
    for total in (9_000, "lots", -5):
        assert normalized(_openllmetry(total), scope=scope).usage == Usage(
            10_000, 800, cache_read_tokens=4_000
        )
