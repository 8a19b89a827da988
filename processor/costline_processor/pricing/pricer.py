"""Price one normalised call: a cached plan per (provider, model, tier, day) applied with exact Decimals."""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from costline import attributes as attr
from costline._safety import report_internal_error
from costline_processor.metric_names import REASON_INVALID_USAGE, REASON_NO_USAGE, REASON_UNKNOWN_MODEL
from costline_processor.model import Cost, LlmCall, Unpriced, Usage
from costline_processor.pricing.catalog import DATA_VERSION, Catalog, Resolved, Unresolved
from costline_processor.pricing.overrides import Overrides, day_number, load_overrides
from costline_processor.pricing.plan import PricePlan, Rates, Tier
from costline_processor.pricing.service_tiers import TIER_BATCH, effective_tier

MAX_TOKENS = 10_000_000  # per token type and call: above this a count is corrupt, not a real request
PLAN_CACHE_SIZE = 4096  # bounded: hostile model names cannot grow memory
_NS_PER_DAY = 86_400 * 1_000_000_000
_NS_PER_SECOND = 1_000_000_000
_NO_SECOND = -1


@dataclass(frozen=True, slots=True)
class _TimeOfDay:
    """Marker plan: this model's price depends on the time of day; look it up again per segment of the day."""

    boundaries: tuple[int, ...]  # UTC seconds of day, starting with 0

    def segment_start(self, second_of_day: int) -> int:
        return self.boundaries[bisect.bisect_right(self.boundaries, second_of_day) - 1]


@dataclass(frozen=True, slots=True)
class RateCard:
    """The resolved rates for one model (what `costline prices show` prints)."""

    provider: str  # as normalised on a span
    model: str
    model_id: str
    at: datetime
    service_tier: str | None
    source: str
    base: Rates
    tiers: tuple[Tier, ...]
    notes: tuple[str, ...]


_Plan = PricePlan | Unpriced | _TimeOfDay


class Pricer:
    """Turns an `LlmCall` into a `Cost` or an `Unpriced`. Never fetches prices from the network."""

    def __init__(self, overrides: Overrides | None = None, catalog: Catalog | None = None) -> None:
        self._overrides = overrides or Overrides()
        self._catalog = catalog or Catalog()
        self._plan = functools.lru_cache(maxsize=PLAN_CACHE_SIZE)(self._compile_guarded)

    @classmethod
    def load(cls, overrides_path: Path | None = None) -> Pricer:
        """The pricer for the bundled price data plus `overrides_path` (raises PricingConfigError)."""
        return cls(load_overrides(overrides_path) if overrides_path is not None else None)

    @property
    def data_version(self) -> str:
        return DATA_VERSION

    def cache_info(self) -> dict[str, int]:
        """Plan-cache counters (hits, misses, size, maxsize): misses are the slow resolutions."""
        info = self._plan.cache_info()
        return {"hits": info.hits, "misses": info.misses, "size": info.currsize, "maxsize": info.maxsize or 0}

    def price(self, call: LlmCall) -> Cost | Unpriced:
        usage = call.usage
        if usage is None:
            if call.usage_error:
                return Unpriced(REASON_INVALID_USAGE, call.usage_error)
            return Unpriced(REASON_NO_USAGE, "the span reports no token usage")
        if not _plausible(usage):
            return Unpriced(REASON_INVALID_USAGE, usage_problem(usage) or "inconsistent usage")
        model = call.response_model or call.request_model
        if not model:
            return Unpriced(REASON_UNKNOWN_MODEL, "the span names no model")
        start = call.start_time_ns
        day = start // _NS_PER_DAY if start > 0 else _today()
        # the raw tier is part of the cache key; _compile normalises it
        tier = TIER_BATCH if call.batch else call.service_tier
        plan = self._plan(call.provider, model, call.request_model, tier, day, _NO_SECOND)
        if type(plan) is _TimeOfDay:
            second = plan.segment_start((start % _NS_PER_DAY) // _NS_PER_SECOND)
            plan = self._plan(call.provider, model, call.request_model, tier, day, second)
        if type(plan) is PricePlan:
            return plan.apply(usage)
        assert isinstance(plan, Unpriced)
        return plan

    def describe(
        self,
        model: str,
        provider: str | None = None,
        at: datetime | None = None,
        service_tier: str | None = None,
    ) -> RateCard:
        """The rates that would price a call to `model` at `at` (default: now); LookupError when unknown.

        `provider` is a normalised `gen_ai.provider.name` (none: `unknown`, as on a span naming none), so this
        resolves exactly what `price` resolves for a span of that provider and model.
        """
        provider = provider or attr.PROVIDER_UNKNOWN
        when = (
            (at or datetime.now(UTC)).astimezone(UTC)
            if (at and at.tzinfo) or at is None
            else at.replace(tzinfo=UTC)
        )
        day = day_number(when.date())
        second = when.hour * 3600 + when.minute * 60 + when.second
        plan = self._compile(provider, model, None, service_tier, day, second)
        if not isinstance(plan, PricePlan):
            raise LookupError(plan.detail if isinstance(plan, Unpriced) else f"no price for {model!r}")
        return RateCard(
            provider, model, plan.model_id, when, service_tier, plan.source, plan.base, plan.tiers, plan.notes
        )

    def knows_model(self, model: str) -> bool:
        """Whether calls to `model` can be priced for some provider: an override or a catalogue listing."""
        today = _today()
        lowered = model.lower()
        if any(rule.matches(rule.provider or "", lowered, today) for rule in self._overrides.models):
            return True
        return self._catalog.lists(model)

    def model_ids(self) -> list[str]:
        """The catalogue's model ids and the overrides' model names (without `*`): for suggestions."""
        overridden = [rule.model for rule in self._overrides.models if "*" not in rule.model]
        return sorted({*overridden, *self._catalog.model_ids()})

    def _compile_guarded(  # noqa: PLR0917 - positional: the lru_cache key on the hot path
        self, provider: str, model: str, request_model: str | None, tier: str | None, day: int, second: int
    ) -> _Plan:
        """`_compile`; a failure in one model's price data makes that model unknown, not the batch fail."""
        try:
            return self._compile(provider, model, request_model, tier, day, second)
        except Exception as exc:  # re-raised under pytest; logged once in production
            report_internal_error("pricing.compile", exc)
            return Unpriced(REASON_UNKNOWN_MODEL, f"price resolution failed for {model!r}: {exc}")

    def _compile(  # noqa: PLR0917 - positional like the cache key
        self, provider: str, model: str, request_model: str | None, tier: str | None, day: int, second: int
    ) -> _Plan:
        """Resolve a plan (slow path, cached): overrides first, then the catalogue with any discount."""
        tier = effective_tier(tier, batch=False)
        override = self._overrides.model_for(provider, model, day)
        if override is not None:
            return PricePlan.build(f"override:{override.id}", override.model, override.rates)
        resolved = self._catalog.find(provider, model)
        if isinstance(resolved, Unresolved) and request_model and request_model != model:
            by_request = self._catalog.find(provider, request_model)
            resolved = by_request if isinstance(by_request, Resolved) else resolved
        if isinstance(resolved, Unresolved):
            return Unpriced(REASON_UNKNOWN_MODEL, resolved.detail)
        if resolved.day_boundaries and second == _NO_SECOND:
            return _TimeOfDay(resolved.day_boundaries)
        at = datetime.fromtimestamp(day * 86_400 + max(second, 0), UTC)
        plan = self._catalog.plan(resolved, at, tier)
        if plan is None:
            return Unpriced(REASON_UNKNOWN_MODEL, f"model {resolved.model.id!r} has no token prices")
        discount = self._overrides.discount_for(provider, model, day)
        if discount is not None:
            plan = plan.scaled(
                discount.multiplier,
                f"{plan.source} + discount:{discount.id}",
                f"discount {discount.id}: {discount.multiplier}x",
            )
        return plan


def _plausible(usage: Usage) -> bool:
    """The hot-path check: integers, in range, parts within their totals (usage_problem says why not)."""
    input_tokens, output, read, write, write_1h, reasoning = (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.cache_write_1h_tokens,
        usage.reasoning_tokens,
    )
    return (
        type(input_tokens) is int
        and type(output) is int
        and type(read) is int
        and type(write) is int
        and type(write_1h) is int
        and type(reasoning) is int
        and read >= 0
        and 0 <= write_1h <= write
        and read + write <= input_tokens <= MAX_TOKENS
        and 0 <= reasoning <= output <= MAX_TOKENS
    )


def usage_problem(usage: Usage) -> str | None:
    """Why `usage` cannot be priced (None if consistent): negative, non-integer, absurd, overlapping."""
    values = (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.cache_write_1h_tokens,
        usage.reasoning_tokens,
    )
    for value in values:
        if type(value) is not int:
            return f"token count {value!r} is not an integer"
        if not 0 <= value <= MAX_TOKENS:
            return f"token count {value} is outside 0..{MAX_TOKENS}"
    if usage.cache_read_tokens + usage.cache_write_tokens > usage.input_tokens:
        return "cache read + cache write tokens exceed the (inclusive) input tokens"
    if usage.cache_write_1h_tokens > usage.cache_write_tokens:
        return "1-hour cache write tokens exceed all cache write tokens"
    if usage.reasoning_tokens > usage.output_tokens:
        return "reasoning tokens exceed the (inclusive) output tokens"
    return None


def _today() -> int:
    return day_number(datetime.now(UTC).date())
