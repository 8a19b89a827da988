"""The ledger's call rows as typed records, and repricing a recorded call's usage with the serve pricer.

The comparison, the what-if and the unit economics need each call's token counts, not only its cost, so
they read call rows; repricing goes through `Pricer.price` exactly as `costline serve` priced the call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Final

from costline.attributes import TENANT_ID, UNATTRIBUTED, USER_ID, WORKFLOW_ID
from costline_processor import metric_names as names
from costline_processor.model import Cost, LlmCall, Unpriced, Usage
from costline_processor.pricing import Pricer
from costline_processor.report.facts import GroupKey, reading
from costline_processor.report.periods import Window

ZERO: Final = Decimal(0)
NS: Final = 1_000_000_000
COST_COLUMNS: Final = (
    "cost_input",
    "cost_cache_read",
    "cost_cache_write",
    "cost_output",
)  # TOKEN_TYPES order
Money4 = tuple[Decimal, Decimal, Decimal, Decimal]  # one amount per token type (metric_names.TOKEN_TYPES)
NO_MONEY: Final[Money4] = (ZERO, ZERO, ZERO, ZERO)


@dataclass(frozen=True, slots=True)
class ModelKey:
    """What a call's price depends on besides its usage and its date."""

    provider: str
    model: str
    service_tier: str | None
    batch: bool

    def label(self) -> str:
        tier = " (batch)" if self.batch else f" ({self.service_tier})" if self.service_tier else ""
        return f"{self.model}{tier}"


@dataclass(frozen=True, slots=True)
class CallRecord:
    row: Mapping[str, object]
    time_ns: int
    model: ModelKey
    operation: str
    usage: Usage | None
    cost: Money4 | None  # None: the call could not be priced

    @property
    def total(self) -> Decimal:
        return sum(self.cost, ZERO) if self.cost is not None else ZERO

    @property
    def day(self) -> date:
        return datetime.fromtimestamp(self.time_ns // NS, tz=UTC).date()

    @property
    def workflow_id(self) -> str:
        return self.value(WORKFLOW_ID)

    @property
    def tenant_id(self) -> str:
        return self.value(TENANT_ID)

    @property
    def user_id(self) -> str | None:
        user = self.row.get(USER_ID)
        return str(user) if user else None

    @property
    def trace_id(self) -> object:
        return self.row.get("trace_id")

    def value(self, name: str) -> str:
        return str(self.row.get(name) or UNATTRIBUTED)

    def key(self, by: tuple[str, ...]) -> GroupKey:
        return tuple(self.value(name) for name in by)


def record_of(row: Mapping[str, object]) -> CallRecord:
    uncached = row.get("tokens_input")
    usage = None
    if uncached is not None:
        read, write = _int(row, "tokens_cache_read"), _int(row, "tokens_cache_write")
        usage = Usage(
            input_tokens=int(str(uncached)) + read + write,
            output_tokens=_int(row, "tokens_output"),
            cache_read_tokens=read,
            cache_write_tokens=write,
            cache_write_1h_tokens=_int(row, "tokens_cache_write_1h"),
            reasoning_tokens=_int(row, "tokens_reasoning"),
        )
    priced = not row.get("unpriced_reason") and row.get("cost_total") is not None
    cost: Money4 | None = None
    if priced:
        amounts = [Decimal(str(row.get(column) or 0)) for column in COST_COLUMNS]
        cost = (amounts[0], amounts[1], amounts[2], amounts[3])
    tier = row.get("service_tier")
    return CallRecord(
        row=row,
        time_ns=int(str(row["time_ns"])),
        model=ModelKey(
            str(row["provider"]), str(row["model"]), str(tier) if tier else None, bool(row["batch"])
        ),
        operation=str(row.get("operation") or ""),
        usage=usage,
        cost=cost,
    )


def _int(row: Mapping[str, object], column: str) -> int:
    value = row.get(column)
    return int(str(value)) if value is not None else 0


def read_calls(url: str | Path, window: Window) -> list[CallRecord]:
    with reading(url) as ledger:
        rows = ledger.iter_calls(since_ns=ns_of(window.since), until_ns=ns_of(window.until))
        return [record_of(row) for row in rows]


def ledger_span(url: str | Path) -> tuple[datetime, datetime] | None:
    """The times of the ledger's first and last call (None when it holds none), for error messages."""
    with reading(url) as ledger:
        span = ledger.time_range()
    if span is None:
        return None
    return datetime.fromtimestamp(span[0] // NS, tz=UTC), datetime.fromtimestamp(span[1] // NS, tz=UTC)


def ns_of(moment: datetime) -> int:
    """A moment as the ledger's integer nanoseconds (no float rounding)."""
    return int(moment.timestamp()) * NS + moment.microsecond * 1000


def reprice(pricer: Pricer, call: CallRecord, model: ModelKey, at_ns: int | None = None) -> Money4 | None:
    """The exact cost of `call`'s usage had it gone to `model` (at `at_ns`, default the call's own time);
    None when the pricer has no price for it."""
    return price_usage(pricer, call.usage, model, call.time_ns if at_ns is None else at_ns, call.operation)


def price_usage(
    pricer: Pricer, usage: Usage | None, model: ModelKey, at_ns: int, operation: str
) -> Money4 | None:
    if usage is None:
        return None
    probe = LlmCall(
        trace_id=b"\0" * 16,
        span_id=b"\0" * 8,
        start_time_ns=at_ns,
        end_time_ns=at_ns,
        source="costline",
        provider=model.provider,
        operation=operation,
        request_model=model.model,
        response_model=model.model,
        response_id=None,
        usage=usage,
        service_tier=model.service_tier,
        batch=model.batch,
    )
    result = pricer.price(probe)
    if isinstance(result, Unpriced):
        return None
    assert isinstance(result, Cost)
    return (result.input, result.cache_read, result.cache_write, result.output)


def add4(a: Money4, b: Money4) -> Money4:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3])


def sum4(amounts: Iterable[Money4]) -> Money4:
    total = NO_MONEY
    for amount in amounts:
        total = add4(total, amount)
    return total


def by_type(amounts: Money4) -> dict[str, Decimal]:
    return dict(zip(names.TOKEN_TYPES, amounts, strict=True))
