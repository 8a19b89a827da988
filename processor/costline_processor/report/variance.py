"""Why the bill changed: each group's change between two windows split into three drivers, exactly.

A chain of three counterfactual totals leads from the earlier window's actual cost to the later one's:

    before         the earlier window's actual cost (priced calls)
    at_volume      before x (later requests / earlier requests): the old cost per request, new volume
    at_old_prices  the later window's usage per request, priced at the earlier window's prices and model mix
    after          the later window's actual cost

and the drivers are the steps: volume = at_volume - before, usage per request = at_old_prices - at_volume,
price/mix = after - at_old_prices. They add up to after - before by construction, to the last digit.

`at_old_prices` reprices the later window's calls with the same pricer as `costline serve`: for each model
(with its service tier) of the earlier window, in its earlier share of requests, the later calls to that model
are repriced at their time shifted back into the earlier window (the later calls as a whole when the model was
dropped). A new model, a price change or a different tier therefore lands in price/mix; more tokens per call,
longer prompts or lost caching land in usage per request. The two points that are averages (`at_volume`,
`at_old_prices`) are rounded to 10^-12 USD; the drivers are exact differences of the points.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import Final

from costline_processor.pricing import Pricer
from costline_processor.report.calls import (
    NO_MONEY,
    NS,
    ZERO,
    CallRecord,
    ModelKey,
    Money4,
    ns_of,
    reprice,
    sum4,
)
from costline_processor.report.facts import GroupKey
from costline_processor.report.periods import Window

POINT_QUANTUM: Final = Decimal("1e-12")  # the averaged points of the chain are rounded to this (USD)


@dataclass(slots=True)
class Side:
    """One group's calls in one window."""

    calls: list[CallRecord] = field(default_factory=list)  # priced only
    unpriced: int = 0

    @property
    def requests(self) -> int:
        return len(self.calls)

    @property
    def cost_by_type(self) -> Money4:
        return sum4(call.cost for call in self.calls if call.cost is not None)

    @property
    def cost(self) -> Decimal:
        return sum(self.cost_by_type, ZERO)

    def models(self) -> Counter[ModelKey]:
        return Counter(call.model for call in self.calls)


@dataclass(frozen=True, slots=True)
class VarianceRow:
    key: GroupKey
    before: Side
    after: Side
    at_volume: Money4
    at_old_prices: Money4
    not_repriced: int  # later calls the pricer had no earlier price for: counted at their own cost

    @property
    def change(self) -> Decimal:
        return self.after.cost - self.before.cost

    @property
    def volume(self) -> Decimal:
        return sum(self.at_volume, ZERO) - self.before.cost

    @property
    def usage_by_type(self) -> Money4:
        old, vol = self.at_old_prices, self.at_volume
        return (old[0] - vol[0], old[1] - vol[1], old[2] - vol[2], old[3] - vol[3])

    @property
    def usage_per_request(self) -> Decimal:
        return sum(self.at_old_prices, ZERO) - sum(self.at_volume, ZERO)

    @property
    def price_mix(self) -> Decimal:
        return self.after.cost - sum(self.at_old_prices, ZERO)

    @property
    def change_share(self) -> Decimal | None:
        """The change as a share of the earlier cost (None when there was none)."""
        return self.change / self.before.cost if self.before.cost else None


@dataclass(frozen=True, slots=True)
class Variance:
    by: tuple[str, ...]
    before: Window
    after: Window
    rows: tuple[VarianceRow, ...]  # biggest rise first

    @property
    def before_cost(self) -> Decimal:
        return sum((row.before.cost for row in self.rows), ZERO)

    @property
    def after_cost(self) -> Decimal:
        return sum((row.after.cost for row in self.rows), ZERO)

    @property
    def change(self) -> Decimal:
        return self.after_cost - self.before_cost

    @property
    def change_share(self) -> Decimal | None:
        return self.change / self.before_cost if self.before_cost else None

    def total(self, driver: str) -> Decimal:
        """The sum of one driver over the groups: `volume`, `usage_per_request` or `price_mix`."""
        return sum((getattr(row, driver) for row in self.rows), ZERO)

    def usage_by_type(self) -> Money4:
        return sum4(row.usage_by_type for row in self.rows)

    @property
    def not_repriced(self) -> int:
        return sum(row.not_repriced for row in self.rows)

    def row(self, key: GroupKey) -> VarianceRow | None:
        return next((row for row in self.rows if row.key == key), None)


def sides(calls: Iterable[CallRecord], by: tuple[str, ...]) -> dict[GroupKey, Side]:
    found: dict[GroupKey, Side] = defaultdict(Side)
    for call in calls:
        side = found[call.key(by)]
        if call.cost is None:
            side.unpriced += 1
        else:
            side.calls.append(call)
    return found


def compare(
    pricer: Pricer,
    by: tuple[str, ...],
    earlier: tuple[Window, Sequence[CallRecord]],
    later: tuple[Window, Sequence[CallRecord]],
) -> Variance:
    (before_window, before_calls), (after_window, after_calls) = earlier, later
    before, after = sides(before_calls, by), sides(after_calls, by)
    shift = after_window.since - before_window.since
    last_before = before_window.until - timedelta(microseconds=1)
    rows = [
        _row(pricer, key, before.get(key, Side()), after.get(key, Side()), shift, last_before)
        for key in {*before, *after}
    ]
    rows.sort(key=lambda row: (-row.change, row.key))
    return Variance(by, before_window, after_window, tuple(rows))


def _row(  # noqa: PLR0917 - one group's inputs
    pricer: Pricer, key: GroupKey, before: Side, after: Side, shift: timedelta, last_before: datetime
) -> VarianceRow:
    if not before.requests or not after.requests:
        # New (no earlier price to compare with) or gone: the whole change is volume.
        ends = after.cost_by_type if not before.requests else NO_MONEY
        return VarianceRow(key, before, after, ends, ends, 0)
    ratio = Fraction(after.requests, before.requests)
    volume = [_point(Fraction(amount) * ratio) for amount in before.cost_by_type]
    at_old_prices, missing = _at_old_prices(pricer, before, after, shift, last_before)
    return VarianceRow(
        key, before, after, (volume[0], volume[1], volume[2], volume[3]), at_old_prices, missing
    )


def _at_old_prices(
    pricer: Pricer, before: Side, after: Side, shift: timedelta, last_before: datetime
) -> tuple[Money4, int]:
    """The later calls' usage per request at the earlier prices and model mix, times the later requests."""
    later_by_model: dict[ModelKey, list[CallRecord]] = defaultdict(list)
    for call in after.calls:
        later_by_model[call.model].append(call)
    totals = [Fraction(0)] * 4
    missing = 0
    limit_ns = ns_of(last_before)
    for model, count in before.models().items():
        comparable = later_by_model.get(model) or after.calls
        weight = Fraction(count * after.requests, before.requests * len(comparable))
        for call in comparable:
            cost = reprice(pricer, call, model, min(call.time_ns - _ns(shift), limit_ns))
            if cost is None:
                missing += 1
                cost = call.cost or NO_MONEY
            for i, amount in enumerate(cost):
                totals[i] += Fraction(amount) * weight
    return (_point(totals[0]), _point(totals[1]), _point(totals[2]), _point(totals[3])), missing


def _ns(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1000


def _point(value: Fraction) -> Decimal:
    with localcontext() as context:
        context.prec = 60
        exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(POINT_QUANTUM, ROUND_HALF_EVEN)
