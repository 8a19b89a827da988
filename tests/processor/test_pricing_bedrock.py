"""AWS Bedrock pricing (`aws.bedrock`) against the AWS on-demand rates in the pinned price data, by hand.

Rates are USD per million tokens ("/M"), as genai-prices lists AWS Bedrock (on-demand, text):
- Claude Sonnet 4.5, geographic cross-region profiles (`us.`, `eu.`, `apac.`, `jp.`, ...) and in-region ids:
  input $3.30/M, cache read $0.33/M, 5-minute cache write $4.125/M, 1-hour cache write $6.60/M, output
  $16.50/M;
  the `global.` profile: $3, $0.30, $3.75, $6, $15 (AWS bills global routing 10 % below the geographic).
- Claude Haiku 4.5 regional: input $1.10/M, cache read $0.11/M, cache write $1.375/M, output $5.50/M.
- Amazon Nova Pro: input $0.80/M, cache read $0.20/M, output $3.20/M (no cache-write rate: billed as input).
- Amazon Nova 2 Lite: regional input $0.33/M, output $2.75/M; global input $0.30/M, output $2.50/M.
- Meta Llama 3.3 70B Instruct: $0.72/M input and output. Mistral Large (24.02): $4/M input, $12/M output.
The usage is what costline's Bedrock instrumentation writes: input INCLUSIVE of the cache tokens.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from _llm_calls import call
from _normalize_spans import normalized
from test_pricing import priced

from costline import attributes as attr
from costline_processor.metric_names import REASON_UNKNOWN_MODEL
from costline_processor.model import Unpriced, Usage
from costline_processor.pricing import Pricer
from costline_processor.pricing.catalog import DATA_VERSION

M = Decimal(1_000_000)
BEDROCK = attr.PROVIDER_AWS_BEDROCK
SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
# 20,000 input: 8,000 read from the cache, 2,000 written (500 of them for 1 hour), 10,000 uncached.
CACHED = Usage(20_000, 1_000, cache_read_tokens=8_000, cache_write_tokens=2_000, cache_write_1h_tokens=500)


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer.load()


@pytest.mark.parametrize("profile", ["us.", "eu.", "apac.", "jp.", ""])
def test_sonnet_geographic_and_in_region_ids_bill_the_regional_rate(pricer: Pricer, profile: str) -> None:
    cost = priced(pricer, call(BEDROCK, profile + SONNET, CACHED))
    assert cost.input == 10_000 * Decimal("3.3") / M  # 0.033
    assert cost.cache_read == 8_000 * Decimal("0.33") / M  # 0.00264
    assert cost.cache_write == (1_500 * Decimal("4.125") + 500 * Decimal("6.6")) / M  # 0.0094875
    assert cost.output == 1_000 * Decimal("16.5") / M  # 0.0165
    assert cost.total == Decimal("0.0616275")


def test_sonnet_global_profile_bills_the_global_rate(pricer: Pricer) -> None:
    cost = priced(pricer, call(BEDROCK, "global." + SONNET, CACHED))
    expected = (10_000 * 3 + 8_000 * Decimal("0.3") + 1_500 * Decimal("3.75") + 500 * 6 + 1_000 * 15) / M
    assert cost.total == expected == Decimal("0.056025")
    regional = priced(pricer, call(BEDROCK, "us." + SONNET, CACHED))
    assert regional.total == cost.total * Decimal("1.1")  # the geographic profile costs exactly 10 % more


def test_haiku_and_nova_and_open_weight_models(pricer: Pricer) -> None:
    haiku = priced(pricer, call(BEDROCK, "us.anthropic.claude-haiku-4-5-20251001-v1:0", Usage(5_000, 500)))
    assert haiku.total == (5_000 * Decimal("1.1") + 500 * Decimal("5.5")) / M  # 0.00825

    nova = priced(pricer, call(BEDROCK, "us.amazon.nova-pro-v1:0", Usage(10_000, 600, 4_000, 1_000)))
    assert nova.cache_write == 1_000 * Decimal("0.8") / M  # no write rate in the data: billed as input
    assert (
        nova.total
        == (5_000 * Decimal("0.8") + 4_000 * Decimal("0.2") + 1_000 * Decimal("0.8") + 600 * Decimal("3.2"))
        / M
    )

    lite = Usage(10_000, 1_000)
    assert priced(pricer, call(BEDROCK, "us.amazon.nova-2-lite-v1:0", lite)).total == Decimal("0.00605")
    assert priced(pricer, call(BEDROCK, "global.amazon.nova-2-lite-v1:0", lite)).total == Decimal("0.0055")

    llama = priced(pricer, call(BEDROCK, "us.meta.llama3-3-70b-instruct-v1:0", Usage(3_000, 400)))
    assert llama.total == 3_400 * Decimal("0.72") / M  # 0.002448
    mistral = priced(pricer, call(BEDROCK, "mistral.mistral-large-2402-v1:0", Usage(3_000, 400)))
    assert mistral.total == (3_000 * 4 + 400 * 12) / M  # 0.0168


def _bedrock_span(model: str, **extra: str | int) -> dict[str, str | int]:
    return {
        attr.GEN_AI_PROVIDER_NAME: BEDROCK,
        attr.GEN_AI_OPERATION_NAME: attr.OPERATION_CHAT,
        attr.GEN_AI_REQUEST_MODEL: model,
        attr.GEN_AI_USAGE_INPUT_TOKENS: 20_000,
        attr.GEN_AI_USAGE_OUTPUT_TOKENS: 1_000,
        attr.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 8_000,
        attr.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: 2_000,
        attr.LLM_USAGE_CACHE_WRITE_1H_INPUT_TOKENS: 500,
        **extra,
    }


@pytest.mark.parametrize(
    ("arn", "model"),
    [
        (f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET}", SONNET),
        (f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{SONNET}", f"us.{SONNET}"),
        (f"arn:aws:bedrock:eu-west-1:123456789012:inference-profile/global.{SONNET}", f"global.{SONNET}"),
        (f"arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/{SONNET}", SONNET),
    ],
)
def test_model_arns_are_priced_as_the_model_id_they_name(pricer: Pricer, arn: str, model: str) -> None:
    llm_call = normalized(_bedrock_span(arn), scope=attr.INSTRUMENTATION_SCOPE)
    assert llm_call.request_model == model  # no account id in the ledger or the metric labels
    assert pricer.price(llm_call) == pricer.price(call(BEDROCK, model, CACHED))


def test_an_application_inference_profile_names_no_model(pricer: Pricer) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5"
    llm_call = normalized(_bedrock_span(arn), scope=attr.INSTRUMENTATION_SCOPE)
    assert llm_call.request_model == arn
    result = pricer.price(llm_call)
    assert isinstance(result, Unpriced)
    assert result.reason == REASON_UNKNOWN_MODEL  # a pricing override can name its price


def test_an_id_aws_does_not_list_falls_back_to_the_maker_s_listing(pricer: Pricer) -> None:
    cost = priced(pricer, call(BEDROCK, "cohere.command-r-plus-v1:0", Usage(10_000, 1_000)))
    assert cost.total == (10_000 * Decimal("2.5") + 1_000 * 10) / M  # Cohere's list price for command-r-plus
    assert cost.source == f"{DATA_VERSION} + provider cohere inferred from the Bedrock model id"
    listed = priced(pricer, call(BEDROCK, "us." + SONNET, CACHED))
    assert listed.source == DATA_VERSION  # AWS's own listing: nothing inferred


def test_the_aws_request_id_is_the_response_id_of_a_bedrock_span() -> None:
    botocore = normalized(
        _bedrock_span("us." + SONNET, **{attr.AWS_REQUEST_ID: "5d0c-req"}),
        scope="opentelemetry.instrumentation.botocore.bedrock-runtime",
    )
    assert botocore.response_id == "5d0c-req"
    own = normalized(
        _bedrock_span("us." + SONNET, **{attr.GEN_AI_RESPONSE_ID: "msg_1", attr.AWS_REQUEST_ID: "r"})
    )
    assert own.response_id == "msg_1"
    other = normalized(
        {**_bedrock_span("gpt-4o"), attr.GEN_AI_PROVIDER_NAME: "openai", attr.AWS_REQUEST_ID: "r"}
    )
    assert other.response_id is None  # only Bedrock's spans use it


def _exclusive(scope: str) -> dict[str, str | int]:
    """What the botocore extension and OpenLLMetry write for a Converse call: Bedrock's exclusive input."""
    return {**_bedrock_span("us." + SONNET), attr.GEN_AI_USAGE_INPUT_TOKENS: 10_000}


@pytest.mark.parametrize(
    "scope",
    ["opentelemetry.instrumentation.botocore.bedrock-runtime", "opentelemetry.instrumentation.bedrock"],
)
def test_peers_exclusive_input_gets_its_cache_tokens_back(scope: str) -> None:
    # 10,000 uncached > the 10,000 cache tokens: no "input smaller than its cache" hint, only the source tells
    llm_call = normalized(_exclusive(scope), scope=scope)
    assert llm_call.usage is not None
    assert llm_call.usage.input_tokens == 20_000


def test_openinference_nova_input_is_told_apart_by_aws_total() -> None:
    base = {
        "openinference.span.kind": "LLM",
        "llm.provider": "aws",
        "llm.model_name": "us.amazon.nova-pro-v1:0",
        "llm.token_count.completion": 600,
        "llm.token_count.prompt_details.cache_read": 4_000,
        "llm.token_count.prompt_details.cache_write": 1_000,
    }
    scope = "openinference.instrumentation.bedrock"
    nova = normalized({**base, "llm.token_count.prompt": 5_000, "llm.token_count.total": 10_600}, scope=scope)
    converse = normalized(
        {**base, "llm.token_count.prompt": 10_000, "llm.token_count.total": 10_600}, scope=scope
    )
    untotalled = normalized({**base, "llm.token_count.prompt": 10_000}, scope=scope)
    for llm_call in (nova, converse, untotalled):
        assert llm_call.usage == Usage(10_000, 600, cache_read_tokens=4_000, cache_write_tokens=1_000)


def test_the_botocore_extension_s_mistral_estimates_are_marked() -> None:
    scope = "opentelemetry.instrumentation.botocore.bedrock-runtime"
    span = {attr.GEN_AI_SYSTEM: BEDROCK, attr.GEN_AI_OPERATION_NAME: attr.OPERATION_CHAT,
            attr.GEN_AI_USAGE_INPUT_TOKENS: 4, attr.GEN_AI_USAGE_OUTPUT_TOKENS: 5}  # fmt: skip
    mistral = normalized({**span, attr.GEN_AI_REQUEST_MODEL: "mistral.mistral-large-2402-v1:0"}, scope=scope)
    llama = normalized({**span, attr.GEN_AI_REQUEST_MODEL: "meta.llama3-3-70b-instruct-v1:0"}, scope=scope)
    assert (mistral.estimated, llama.estimated) == (True, False)
