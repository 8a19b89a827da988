"""The price catalogue: genai-prices' BUNDLED data snapshot, resolved into `PricePlan`s.

genai-prices can also fetch fresh prices over HTTP (`UpdatePrices`) and lets any code in the process swap the
global snapshot (`set_custom_snapshot`). costline uses neither: it builds its own snapshot from the data
module shipped in the pinned wheel, so prices are reproducible and no network path exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from importlib.metadata import version
from typing import Any

from genai_prices.data_snapshot import DataSnapshot
from genai_prices.types import (
    ModelInfo,
    ModelPrice,
    PriceVariant,
    Provider,
    TieredPrices,
    TimeOfDateConstraint,
)

from costline_processor.pricing.inference import NotInferred, bedrock_maker_listing, catalogue_id, infer
from costline_processor.pricing.plan import PricePlan, Rates, Tier
from costline_processor.pricing.service_tiers import TierRule, tier_rule

DATA_VERSION = f"genai-prices {version('genai-prices')}"

# Anthropic bills 1-hour cache writes at 2x the base input rate (5-minute writes: 1.25x). Used only when the
# data has no 1h rate for a Claude model. https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching
_CLAUDE_1H_WRITE_MULTIPLIER = Decimal(2)
_AWS = "aws"  # genai-prices' id of AWS Bedrock's listing


@dataclass(frozen=True, slots=True)
class Resolved:
    """A catalogue model found for a (provider, model) pair."""

    provider: Provider
    model: ModelInfo
    day_boundaries: tuple[int, ...]  # UTC seconds of day where a time-of-day price starts or ends; () if none
    inferred_by: str | None = None  # how the provider was inferred from the model id, when it was

    @property
    def source(self) -> str:
        """`llm.pricing.source`: the price data, and how the provider was inferred when it was."""
        if self.inferred_by is None:
            return DATA_VERSION
        return f"{DATA_VERSION} + provider {self.provider.id} inferred from the {self.inferred_by}"


@dataclass(frozen=True, slots=True)
class Unresolved:
    """No catalogue model prices the pair; `detail` says why and names the candidates."""

    detail: str


def bundled_snapshot() -> DataSnapshot:
    """A snapshot of the data shipped in the genai-prices wheel (never auto-updated, never the global one)."""
    from genai_prices.data import providers  # noqa: PLC0415 - 1.5 MB of data: load only when pricing

    return DataSnapshot(providers=providers, from_auto_update=False)


class Catalog:
    """Looks models up in the bundled snapshot and compiles their prices at a date and service tier."""

    def __init__(self, snapshot: DataSnapshot | None = None) -> None:
        self._snapshot = snapshot or bundled_snapshot()

    def find(self, provider: str | None, model: str) -> Resolved | Unresolved:
        """The catalogue model for `model` served by `provider` (inferred when the provider is not listed)."""
        providers = self._snapshot.providers
        provider_id = catalogue_id(provider, providers)
        if provider_id is None:
            inference = infer(providers, model)
            if isinstance(inference, NotInferred):
                return Unresolved(f"no price for model {model!r} (provider {provider!r}): {inference.detail}")
            info = inference.model
            return Resolved(inference.provider, info, _day_boundaries(info), inference.how)
        try:
            found_provider, info = self._snapshot.find_provider_model(model, None, provider_id, None)
        except LookupError:
            maker = bedrock_maker_listing(providers, model) if provider_id == _AWS else None
            if maker is not None:
                return Resolved(maker.provider, maker.model, _day_boundaries(maker.model), maker.how)
            return Unresolved(f"no price for model {model!r} (provider {provider!r})")
        return Resolved(found_provider, info, _day_boundaries(info))

    def model_ids(self) -> list[str]:
        """Every model id the catalogue lists, each once (for suggestions)."""
        return sorted({info.id for provider in self._snapshot.providers for info in provider.models})

    def lists(self, model: str) -> bool:
        """Whether some catalogue provider lists `model` (its id or one of its match rules)."""
        return any(provider.find_model(model.lower()) is not None for provider in self._snapshot.providers)

    def plan(self, resolved: Resolved, at: datetime, service_tier: str | None) -> PricePlan | None:
        """The plan for `resolved` at `at` (UTC) and `service_tier`; None when it has no token prices."""
        info = resolved.model
        standard = info.get_prices(at)
        if standard.input_mtok is None and standard.output_mtok is None:
            return None
        notes: list[str] = []
        prices = standard
        rule = tier_rule(resolved.provider.id, service_tier)
        multiplier = Decimal(1)
        if rule is not None:
            prices, multiplier = _apply_tier(info, resolved.provider, standard, at, rule, notes=notes)
        base = _rates(prices, info, resolved.provider, None, notes).scaled(multiplier)
        tiers = tuple(
            Tier(above, _rates(prices, info, resolved.provider, above, notes).scaled(multiplier))
            for above in _thresholds(prices)
        )
        return PricePlan.build(resolved.source, info.id, base, tiers, tuple(dict.fromkeys(notes)))


def _apply_tier(
    info: ModelInfo,
    provider: Provider,
    standard: ModelPrice,
    at: datetime,
    rule: TierRule,
    *,
    notes: list[str],
) -> tuple[ModelPrice, Decimal]:
    """Prices for a service tier: the data's own variant if any, else the provider's documented rule."""
    own_model = any(info is model for model in provider.models)
    variants = (
        [v for v in (info.price_variants or ()) if v.when == rule.context and _has_prices(v)]
        if own_model
        else []
    )
    active = [v for v in variants if v.constraint is None or v.constraint.active(at)]
    if active:
        notes.append(f"{rule.name}: the data's {rule.name} prices")
        return info.get_prices(at, rule.context), Decimal(1)
    if variants:
        # The data records a tier rate only from the day it was added: before that, use its earliest rate.
        earliest = min(variants, key=_variant_start)
        notes.append(f"{rule.name}: the data's {rule.name} prices (recorded from {_variant_start(earliest)})")
        return _with_variant(standard, earliest), Decimal(1)
    notes.append(f"{rule.name}: {rule.multiplier}x standard ({rule.why})")
    return standard, rule.multiplier


def _has_prices(variant: PriceVariant) -> bool:
    return any(value is not None for value in variant.prices.__dict__.values())


def _variant_start(variant: PriceVariant) -> str:
    constraint = variant.constraint
    return str(getattr(constraint, "start_date", "")) if constraint is not None else ""


def _with_variant(standard: ModelPrice, variant: PriceVariant) -> ModelPrice:
    merged = ModelPrice(**standard.__dict__)
    merged.__dict__.update({k: v for k, v in variant.prices.__dict__.items() if v is not None})
    return merged


def _day_boundaries(info: ModelInfo) -> tuple[int, ...]:
    """Where off-peak (time-of-day) prices switch: plans are compiled per segment of a day, not per span."""
    constraints: list[Any] = [v.constraint for v in info.price_variants or ()]
    if not isinstance(info.prices, ModelPrice):
        constraints += [c.constraint for c in info.prices]
    times = [
        t for c in constraints if isinstance(c, TimeOfDateConstraint) for t in (c.start_time, c.end_time)
    ]
    if not times:
        return ()
    return tuple(sorted({0, *(_utc_second_of_day(t) for t in times)}))


def _utc_second_of_day(value: time) -> int:
    if value.tzinfo is not None:
        value = datetime.combine(date(1970, 1, 2), value).astimezone(UTC).time()
    return value.hour * 3600 + value.minute * 60 + value.second


def _thresholds(prices: ModelPrice) -> list[int]:
    starts = {
        tier.start
        for value in prices.__dict__.values()
        if isinstance(value, TieredPrices)
        for tier in value.tiers
    }
    return sorted(starts)


def _at(value: Decimal | TieredPrices | None, tier_above: int | None) -> Decimal | None:
    """The flat rate of `value` for a request above `tier_above` input tokens (None: below every tier)."""
    if value is None or isinstance(value, Decimal):
        return value
    rate = value.base
    if tier_above is not None:
        for tier in value.tiers:
            if tier.start <= tier_above:
                rate = tier.price
    return rate


def _rates(
    standard: ModelPrice, info: ModelInfo, provider: Provider, tier_above: int | None, notes: list[str]
) -> Rates:
    """Flat rates from genai-prices' price keys, with the documented fallbacks for the ones it lacks."""
    zero = Decimal(0)
    input_rate = _at(standard.input_mtok, tier_above) or zero
    output = _at(standard.output_mtok, tier_above) or zero
    # A token type without its own price is billed as plain input/output (what genai-prices does too).
    cache_read = _at(standard.cache_read_mtok, tier_above)
    cache_write = _at(standard.cache_write_mtok, tier_above)
    write_1h = _at(standard.cache_write_1h_mtok, tier_above)
    reasoning = _at(standard.output_reasoning_mtok, tier_above)
    if write_1h is None:
        if "claude" in info.id or provider.id == "anthropic":
            write_1h = input_rate * _CLAUDE_1H_WRITE_MULTIPLIER
            notes.append("cache_write_1h: derived as 2x input (Anthropic's published 1-hour cache rule)")
        else:
            write_1h = cache_write if cache_write is not None else input_rate
    requests_kusd = _at(standard.requests_kcount, tier_above)
    return Rates(
        input=input_rate,
        output=output,
        cache_read=input_rate if cache_read is None else cache_read,
        cache_write=input_rate if cache_write is None else cache_write,
        cache_write_1h=write_1h,
        reasoning=output if reasoning is None else reasoning,
        request=zero if requests_kusd is None else requests_kusd / 1000,
    )
