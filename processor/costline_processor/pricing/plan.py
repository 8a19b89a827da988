"""A compiled price plan: resolved once per (provider, model, tier, day), then applied per span with Decimals.

Resolving prices from the catalogue or the overrides is slow (~100 us); applying a plan is a handful of exact
Decimal multiplications. Rates are held per token (USD per million / 10^6, exact in Decimal).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from decimal import Decimal

from costline_processor.model import Cost, Usage

_ZERO = Decimal(0)
_PER_MTOK = 6  # rates are published per million tokens


_new = object.__new__
_set = object.__setattr__


def _cost(
    input_cost: Decimal, cache_read: Decimal, cache_write: Decimal, output: Decimal, source: str
) -> Cost:
    """Cost(...) without the frozen dataclass __init__, a third of the per-span time (Cost has no checks)."""
    cost = _new(Cost)
    _set(cost, "input", input_cost)
    _set(cost, "cache_read", cache_read)
    _set(cost, "cache_write", cache_write)
    _set(cost, "output", output)
    _set(cost, "source", source)
    return cost


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens for each token type, and a flat USD fee per request.

    `cache_write` is the default (5-minute TTL) cache-write rate; `cache_write_1h` the 1-hour one.
    `reasoning` prices the reasoning part of the output (equal to `output` unless the model prices it apart).
    """

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    cache_write_1h: Decimal
    reasoning: Decimal
    request: Decimal = _ZERO

    def scaled(self, multiplier: Decimal) -> Rates:
        """Every rate times `multiplier` (service-tier multipliers, negotiated discounts)."""
        return Rates(**{name: rate * multiplier for name, rate in self.as_dict().items()})

    def as_dict(self) -> dict[str, Decimal]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class _PerToken:
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    cache_write_1h: Decimal
    reasoning: Decimal
    request: Decimal
    reasoning_apart: bool

    @classmethod
    def of(cls, rates: Rates) -> _PerToken:
        return cls(
            input=rates.input.scaleb(-_PER_MTOK),
            output=rates.output.scaleb(-_PER_MTOK),
            cache_read=rates.cache_read.scaleb(-_PER_MTOK),
            cache_write=rates.cache_write.scaleb(-_PER_MTOK),
            cache_write_1h=rates.cache_write_1h.scaleb(-_PER_MTOK),
            reasoning=rates.reasoning.scaleb(-_PER_MTOK),
            request=rates.request,
            reasoning_apart=rates.reasoning != rates.output,
        )


@dataclass(frozen=True, slots=True)
class Tier:
    """Rates for a whole request whose (inclusive) input exceeds `above` tokens."""

    above: int
    rates: Rates


@dataclass(frozen=True, slots=True)
class PricePlan:
    """How to price one (provider, model, service tier, day); `apply` is the per-span hot path."""

    source: str
    model_id: str
    base: Rates
    tiers: tuple[Tier, ...] = ()
    notes: tuple[str, ...] = ()
    _base: _PerToken | None = None
    _tiers: tuple[tuple[int, _PerToken], ...] = ()

    @classmethod
    def build(
        cls,
        source: str,
        model_id: str,
        base: Rates,
        tiers: tuple[Tier, ...] = (),
        notes: tuple[str, ...] = (),
    ) -> PricePlan:
        ordered = tuple(sorted(tiers, key=lambda tier: tier.above))
        return cls(
            source=source,
            model_id=model_id,
            base=base,
            tiers=ordered,
            notes=notes,
            _base=_PerToken.of(base),
            # highest threshold first: the first one exceeded wins
            _tiers=tuple((tier.above, _PerToken.of(tier.rates)) for tier in reversed(ordered)),
        )

    def scaled(self, multiplier: Decimal, source: str, note: str) -> PricePlan:
        """This plan with every rate times `multiplier` (a discount), attributed to `source`."""
        tiers = tuple(replace(tier, rates=tier.rates.scaled(multiplier)) for tier in self.tiers)
        return PricePlan.build(
            source, self.model_id, self.base.scaled(multiplier), tiers, (*self.notes, note)
        )

    def apply(self, usage: Usage) -> Cost:
        """The exact cost of `usage` (already validated: inclusive, non-negative, consistent)."""
        rates = self._base
        assert rates is not None  # set by build()
        input_tokens = usage.input_tokens
        for above, tier_rates in self._tiers:
            # whole-request tiers: crossing the threshold reprices ALL tokens of the request
            if input_tokens > above:
                rates = tier_rates
                break
        cache_read = usage.cache_read_tokens
        cache_write = usage.cache_write_tokens
        output_tokens = usage.output_tokens
        if rates.reasoning_apart:
            reasoning = usage.reasoning_tokens
            output = rates.output * (output_tokens - reasoning) + rates.reasoning * reasoning
        else:
            output = rates.output * output_tokens
        if cache_write:
            write_1h = usage.cache_write_1h_tokens
            written = rates.cache_write * (cache_write - write_1h) + rates.cache_write_1h * write_1h
        else:
            written = _ZERO
        uncached = rates.input * (input_tokens - cache_read - cache_write)
        return _cost(
            uncached + rates.request if rates.request else uncached,
            rates.cache_read * cache_read if cache_read else _ZERO,
            written,
            output,
            self.source,
        )
