"""The price-overrides file: custom and zero-cost models, dated rates, discounts, whole-file validation.

Expected costs are computed by hand from the rates written in the fixture files (tests/processor/testdata/
overrides/) and, for discounts, Anthropic's list price for Claude Sonnet 4.5 ($3/M input, $15/M output).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from costline import attributes as attr
from costline_processor.model import Cost, LlmCall, Unpriced, Usage
from costline_processor.pricing import Pricer, PricingConfigError

TESTDATA = Path(__file__).parent / "testdata" / "overrides"
EXAMPLE = (
    Path(__file__).parents[2] / "processor" / "costline_processor" / "pricing" / "example-overrides.yaml"
)
M = Decimal(1_000_000)


def call(provider: str, model: str, usage: Usage, at: datetime) -> LlmCall:
    start = int(at.timestamp()) * 1_000_000_000
    return LlmCall(
        b"\x01" * 16, b"\x02" * 8, start, start, "costline", provider, "chat", model, model, None, usage
    )


def cost_of(pricer: Pricer, llm_call: LlmCall) -> Cost:
    result = pricer.price(llm_call)
    assert isinstance(result, Cost), result
    return result


@pytest.fixture(scope="module")
def full() -> Pricer:
    return Pricer.load(TESTDATA / "valid-full.yaml")


def test_self_hosted_model_priced_by_override(full: Pricer) -> None:
    usage = Usage(1_000_000, 500_000)
    cost = cost_of(
        full,
        call(attr.PROVIDER_SELF_HOSTED, "llama-3.1-70b-instruct", usage, datetime(2026, 2, 1, tzinfo=UTC)),
    )
    assert cost.input == Decimal("0.40")
    assert cost.output == 500_000 * Decimal("0.80") / M
    assert cost.source == "override:vllm-llama-70b"


def test_zero_cost_local_model_is_priced_at_exactly_zero(full: Pricer) -> None:
    cost = cost_of(full, call(attr.PROVIDER_SELF_HOSTED, "llama3.2:3b", Usage(5_000, 300), datetime.now(UTC)))
    assert cost.total == 0
    assert cost.source == "override:ollama-local"


def test_override_only_matches_its_provider(full: Pricer) -> None:
    result = full.price(call(attr.PROVIDER_OPENAI, "llama3.2:3b", Usage(5_000, 300), datetime.now(UTC)))
    assert isinstance(result, Unpriced)


def test_fine_tune_rates_switch_on_their_effective_dates(full: Pricer) -> None:
    model = "ft:gpt-4.1-mini-2025-04-14:acme:support:abc123"
    usage = Usage(1_000_000, 1_000_000, cache_read_tokens=400_000, reasoning_tokens=250_000)
    late_2025 = cost_of(
        full, call(attr.PROVIDER_OPENAI, model, usage, datetime(2025, 12, 31, 23, 59, tzinfo=UTC))
    )
    # 600k uncached at $0.80, 400k cached at $0.20, 750k plain output at $3.20 + 250k reasoning at $6.40
    assert late_2025.input == Decimal("0.48")
    assert late_2025.cache_read == Decimal("0.08")
    assert late_2025.output == Decimal("2.40") + Decimal("1.60")
    assert late_2025.source == "override:acme-finetune-2025"
    in_2026 = cost_of(full, call(attr.PROVIDER_OPENAI, model, usage, datetime(2026, 1, 1, 0, 1, tzinfo=UTC)))
    # no cache_read or reasoning rate: cached input bills as input ($0.60), reasoning as output ($2.40);
    # plus $0.001 per request
    assert in_2026.input == Decimal("0.36") + Decimal("0.001")
    assert in_2026.cache_read == Decimal("0.24")
    assert in_2026.output == Decimal("2.40")
    assert in_2026.source == "override:acme-finetune-2026"


def test_discount_multiplier_applies_inside_its_window(full: Pricer) -> None:
    usage = Usage(10_000, 1_000)
    list_price = 10_000 * Decimal(3) / M + 1_000 * Decimal(15) / M  # 0.045
    during = cost_of(
        full, call(attr.PROVIDER_ANTHROPIC, "claude-sonnet-4-5", usage, datetime(2026, 6, 1, tzinfo=UTC))
    )
    assert during.total == list_price * Decimal("0.85")  # 0.03825
    assert during.source == "genai-prices 0.2.3 + discount:acme-anthropic-2026"
    before = cost_of(
        full, call(attr.PROVIDER_ANTHROPIC, "claude-sonnet-4-5", usage, datetime(2025, 12, 1, tzinfo=UTC))
    )
    assert before.total == list_price


def test_model_scoped_discount(full: Pricer) -> None:
    # gpt-4o-mini list price $0.15/M input, $0.60/M output; the fixture gives 10% off
    cost = cost_of(
        full,
        call(
            attr.PROVIDER_OPENAI,
            "gpt-4o-mini",
            Usage(1_000_000, 1_000_000),
            datetime(2025, 11, 1, tzinfo=UTC),
        ),
    )
    assert cost.total == (Decimal("0.15") + Decimal("0.60")) * Decimal("0.9")
    other = cost_of(
        full, call(attr.PROVIDER_OPENAI, "gpt-4o", Usage(1_000_000, 0), datetime(2025, 11, 1, tzinfo=UTC))
    )
    assert other.total == Decimal("2.50")


def test_describe_shows_the_override_source(full: Pricer) -> None:
    card = full.describe("llama-3.1-70b-instruct", attr.PROVIDER_SELF_HOSTED)
    assert (card.base.input, card.base.output, card.source) == (
        Decimal("0.40"),
        Decimal("0.80"),
        "override:vllm-llama-70b",
    )


@pytest.mark.parametrize("name", ["valid-full.yaml", "valid-empty.yaml", "valid-discounts-only.yaml"])
def test_valid_files_load(name: str) -> None:
    Pricer.load(TESTDATA / name)


def test_the_documented_example_file_is_valid() -> None:
    Pricer.load(EXAMPLE)


INVALID = {
    "invalid-unknown-keys.yaml": [
        ":2: model: unknown key (allowed: version, models, discounts)",
        ":7: models[0].price: unknown key",
        ":11: models[0].rates.cached: unknown key",
    ],
    "invalid-values.yaml": [
        ":1: version: must be 1, got 2",
        ":6: models[0].rates.input: must be >= 0, got -1",
        ":11: models[1].rates.output: missing rate",
        ":15: models[2].effective_from: must be a date YYYY-MM-DD, got '2026-13-01'",
        ":18: models[3].rates.input: must be a number, got 'cheap'",
        ":18: models[3].rates.output: must be a finite number, got nan",
        ":19: models[4].id: missing (required)",
        ":21: models[5].id: duplicate id 'negative'",
        ":25: models[5].effective_until: must be after effective_from",
        ":27: discounts[0]: needs `provider` and/or `model`",
        ":31: discounts[1].multiplier: must be >= 0, got -0.1",
        ":32: discounts[2].multiplier: missing (required)",
    ],
    "invalid-shape.yaml": [":1: models: must be a list", ":4: discounts[0]: must be a mapping"],
    "invalid-syntax.yaml": [":4:1: invalid YAML:"],
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_files_report_every_problem_one_line_each(name: str) -> None:
    path = TESTDATA / name
    with pytest.raises(PricingConfigError) as caught:
        Pricer.load(path)
    problems = caught.value.problems
    assert len(problems) == len(INVALID[name]), "\n".join(problems)
    for problem, expected in zip(problems, INVALID[name], strict=True):
        assert problem.startswith(str(path) + expected), problem
        assert "\n" not in problem
    assert str(caught.value).count("\n") == len(problems)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(PricingConfigError, match="cannot read"):
        Pricer.load(tmp_path / "nope.yaml")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(PricingConfigError, match=r"list.yaml:1: \(top level\): must be a mapping"):
        Pricer.load(path)


def test_rates_are_read_as_exact_decimals(tmp_path: Path) -> None:
    path = tmp_path / "exact.yaml"
    shutil.copy(TESTDATA / "valid-empty.yaml", path)
    path.write_text("models:\n  - id: x\n    model: m\n    rates: {input: 0.1, output: 0.7}\n")
    card = Pricer.load(path).describe("m", "p")
    assert (card.base.input, card.base.output) == (
        Decimal("0.1"),
        Decimal("0.7"),
    )  # not 0.1000000000000000055...
