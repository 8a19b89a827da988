"""What one priced call contributes: its ledger row, its metric label values, its counted tokens.

The ledger's cumulative totals and the live metrics both derive from these functions, so a counter seeded
from the ledger after a restart equals the counter the live process had built call by call.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from costline.attributes import FEATURE_ID, TENANT_ID, UNATTRIBUTED, USER_ID, WORKFLOW_ID
from costline_processor import metric_names as names
from costline_processor.model import Cost, LlmCall, PricedCall, Unpriced, Usage

# Money is summed in a context wide enough for any realistic total; Inexact is trapped so a sum that
# would round raises instead of silently losing a fraction of a cent.
MONEY_CONTEXT: Final = decimal.Context(prec=60, traps=[decimal.Inexact, decimal.InvalidOperation])
ZERO: Final = Decimal(0)
NS_PER_DAY: Final = 86_400 * 1_000_000_000
# A span may start at most this far after it arrived (clocks disagree by seconds, not a day).
MAX_START_AHEAD_NS: Final = NS_PER_DAY
SQL_NULL: Final = 0  # NULL in a NULLIF(?, 0) column of sql.INSERT_CALL: binds faster than None
SpendRow = tuple[int, str, str, str, Decimal]  # day number, workflow_id, feature_id, tenant_id, cost

# A span's dedupe key: its start time as sent (8 bytes, big-endian), trace id, span id; a redelivered span
# repeats all three. Time first puts each new key at the end of the UNIQUE index (spans arrive roughly in
# start order): with the random trace id first, every insert landed on its own page of an index that
# outgrows the page cache as the ledger grows, and the insert cost grew with it (bench_processor.py
# --ledger-rows: docs/serve.md, Performance).
SPAN_KEY_TIME_BYTES: Final = 8
_U64: Final = (1 << 64) - 1
TRACE_ID_SQL: Final = f"substr(span_key, {SPAN_KEY_TIME_BYTES + 1}, 16)"  # trace ids are 16 bytes
SPAN_ID_SQL: Final = f"substr(span_key, {SPAN_KEY_TIME_BYTES + 17})"

# (workflow_id, feature_id, tenant_id, service_name, provider, model): the labels every call metric shares.
LabelKey = tuple[str, str, str, str, str, str]


def label_key(priced: PricedCall) -> LabelKey:
    """The raw (unguarded) metric label values of a call; a missing attribution key is `unattributed`."""
    call = priced.call
    attribution = call.attribution
    return (
        attribution.get(WORKFLOW_ID) or UNATTRIBUTED,
        attribution.get(FEATURE_ID) or UNATTRIBUTED,
        attribution.get(TENANT_ID) or UNATTRIBUTED,
        call.service_name or "unknown_service",
        call.provider or "unknown",
        call.model or names.UNKNOWN_MODEL,
    )


def span_key_of(call: LlmCall) -> bytes:
    """The call's span's dedupe key (see SPAN_KEY_TIME_BYTES)."""
    return time_prefixed(call.start_time_ns, call.trace_id + call.span_id)


def time_prefixed(start_ns: int, trace_and_span_id: bytes) -> bytes:
    # a fixed64 on the wire: the mask only keeps a value no decoder produces from failing the batch
    return (start_ns & _U64).to_bytes(SPAN_KEY_TIME_BYTES, "big") + trace_and_span_id


def status_of(priced: PricedCall) -> str:
    return names.STATUS_ERROR if priced.call.error_type else names.STATUS_OK


def reason_of(priced: PricedCall) -> str:
    """The unpriced reason, or "" for a priced call (the ledger's key column is never NULL)."""
    result = priced.result
    return result.reason if isinstance(result, Unpriced) else ""


def counted_usage(priced: PricedCall) -> Usage | None:
    """The usage that `llm_tokens_total` counts.

    Priced calls and calls of a model without a price (`unknown_model`) count their provider-reported
    tokens: the tokens are facts even when their price is not known, and they size the missing cost.
    A call with `invalid_usage` counts none (its numbers are not trustworthy).
    """
    usage = priced.call.usage
    if usage is None:
        return None
    result = priced.result
    if isinstance(result, Unpriced) and result.reason != names.REASON_UNKNOWN_MODEL:
        return None
    return usage


def money(value: Decimal) -> str:
    """An exact decimal string (`str()`: fast; small amounts use exponent notation, e.g. `7.5E-8`)."""
    if not value.is_finite():
        raise ValueError(f"cost must be a finite Decimal, got {value!r}")
    return str(value)


# The same rule as counted_usage(), for SQL over stored rows (purge roll-ups, verify, reports).
COUNTED_TOKENS_SQL: Final = f"(unpriced_reason IS NULL OR unpriced_reason = '{names.REASON_UNKNOWN_MODEL}')"


@dataclass(frozen=True, slots=True)
class Arrival:
    """When an export request arrived, and which span start times the ledger takes as they are.

    A call is placed (reports, windows) at its span's start time, a time the sender chooses. A start time
    before `earliest_ns` (older than anything retention keeps; 0 is "unset") or after `latest_ns` (the
    sender's clock is ahead by more than a day) is out of range: the call is placed at its arrival.
    Retention uses only `received_ns`, never a time the sender chose.
    """

    received_ns: int
    earliest_ns: int
    latest_ns: int

    @classmethod
    def at(cls, received_ns: int, retention_days: int) -> Arrival:
        earliest = max(1, received_ns - retention_days * NS_PER_DAY)  # 0 is unset, whatever the retention
        return cls(received_ns, earliest, received_ns + MAX_START_AHEAD_NS)

    def place(self, start_ns: int, end_ns: int) -> tuple[int, int] | None:
        """The (start, end) a span is recorded at, or None when its start time is out of range.

        An end before the start or after `latest_ns` is the start (the duration is unknown).
        """
        latest = self.latest_ns
        if not self.earliest_ns <= start_ns <= latest:
            return None
        return start_ns, end_ns if start_ns <= end_ns <= latest else start_ns


@dataclass(slots=True)
class Aggregate:
    """Cumulative totals of every call with the same label key, status and unpriced reason."""

    labels: LabelKey
    status: str
    reason: str
    requests: int = 0
    tokens: list[int] = field(default_factory=lambda: [0, 0, 0, 0])  # input, cache_read, cache_write, output
    cost: list[Decimal] = field(default_factory=lambda: [ZERO, ZERO, ZERO, ZERO])  # same order
    first_seq: int = 0
    first_time_ns: int = 0

    def merge(self, other: Aggregate) -> None:
        """Add another aggregate of the same key (a later one: the first appearance stays)."""
        self.requests += other.requests
        add = MONEY_CONTEXT.add
        for i in range(4):
            self.tokens[i] += other.tokens[i]
            self.cost[i] = add(self.cost[i], other.cost[i])
        if other.first_seq < self.first_seq:
            self.first_seq, self.first_time_ns = other.first_seq, other.first_time_ns

    def add(self, priced: PricedCall) -> None:
        """Add one call (hot path: the caller runs it under `decimal.localcontext(MONEY_CONTEXT)`)."""
        self.requests += 1
        result = priced.result
        usage = priced.call.usage
        if isinstance(result, Cost):
            cost = self.cost
            cost[0] += result.input
            cost[1] += result.cache_read
            cost[2] += result.cache_write
            cost[3] += result.output
        elif result.reason != names.REASON_UNKNOWN_MODEL:
            usage = None  # the counted_usage() rule, inlined
        if usage is not None:
            tokens = self.tokens
            tokens[0] += usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
            tokens[1] += usage.cache_read_tokens
            tokens[2] += usage.cache_write_tokens
            tokens[3] += usage.output_tokens


@dataclass(slots=True)
class OutcomeAggregate:
    workflow_id: str
    outcome: str
    count: int = 0
    first_seq: int = 0
    first_time_ns: int = 0


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over a set of calls; `cost` and `tokens` are keyed by token_type (metric_names.TOKEN_TYPES)."""

    requests: int
    unpriced: int
    tokens: dict[str, int]
    cost: dict[str, Decimal]

    @property
    def cost_total(self) -> Decimal:
        return MONEY_CONTEXT.add(
            MONEY_CONTEXT.add(self.cost[names.TOKEN_INPUT], self.cost[names.TOKEN_CACHE_READ]),
            MONEY_CONTEXT.add(self.cost[names.TOKEN_CACHE_WRITE], self.cost[names.TOKEN_OUTPUT]),
        )


def totals_of(aggregates: Iterable[Aggregate]) -> Totals:
    requests = unpriced = 0
    tokens = [0, 0, 0, 0]
    cost = [ZERO, ZERO, ZERO, ZERO]
    for agg in aggregates:
        requests += agg.requests
        if agg.reason:
            unpriced += agg.requests
        for i in range(4):
            tokens[i] += agg.tokens[i]
            cost[i] = MONEY_CONTEXT.add(cost[i], agg.cost[i])
    return Totals(
        requests=requests,
        unpriced=unpriced,
        tokens=dict(zip(names.TOKEN_TYPES, tokens, strict=True)),
        cost=dict(zip(names.TOKEN_TYPES, cost, strict=True)),
    )


def call_row(
    seq: int,
    priced: PricedCall,
    labels: LabelKey,
    *,
    status: str,
    span_key: bytes,
    call_key: bytes | None,
    shared_call_key: bytes | None = None,
    times: tuple[int, int, int],
) -> tuple[object, ...]:
    """The `calls` row of one new call, in schema.CALL_COLUMNS order (hot path: one tuple, few calls).

    `times` is (start, end, received) as the ledger records them (see `Arrival.place`).
    """
    call = priced.call
    result = priced.result
    usage = call.usage
    if usage is None:
        tokens: tuple[int | None, ...] = (None, None, None, None, None, None)
    else:
        tokens = (
            usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens,
            usage.cache_read_tokens, usage.cache_write_tokens, usage.cache_write_1h_tokens,
            usage.output_tokens, usage.reasoning_tokens,
        )  # fmt: skip
    if isinstance(result, Cost):
        add = MONEY_CONTEXT.add
        total = add(add(result.input, result.cache_read), add(result.cache_write, result.output))
        if not total.is_finite():
            raise ValueError(f"cost must be a finite Decimal, got {result!r}")
        costs: tuple[str | int, ...] = (
            str(result.input), str(result.cache_read), str(result.cache_write), str(result.output),
            str(total), result.source, SQL_NULL, SQL_NULL,
        )  # fmt: skip
    else:
        costs = (SQL_NULL, SQL_NULL, SQL_NULL, SQL_NULL, SQL_NULL, SQL_NULL, result.reason, result.detail)
    # bytearray, unlike bytes, binds without sqlite3's adaptation lookups; both are stored as the same BLOB
    return (
        seq, times[0], times[1], bytearray(span_key),
        bytearray(call_key) if call_key is not None else None, *labels,
        call.attribution.get(USER_ID), _text(call.service_instance_id), call.request_model, call.operation,
        _text(call.service_tier), int(call.batch), status, *tokens, *costs,
        _text(call.usage_error), int(call.estimated), _text(call.error_type), call.source,
        times[2], SQL_NULL if shared_call_key is None else bytearray(shared_call_key),
    )  # fmt: skip


def _text(value: str | None) -> str | int:
    """A nullable TEXT value of a call row (usually NULL): SQL_NULL for NULL, see sql.NULLIF_ZERO_COLUMNS."""
    return SQL_NULL if value is None else value


def spend_rows(rows: Iterable[Sequence[object]]) -> list[SpendRow]:
    """A spend-by-day query's rows as SpendRows, each cost exactly as stored (SQLite text, PostgreSQL
    NUMERIC)."""
    return [
        (int(day), str(wf), str(feat), str(tenant), Decimal(str(cost)))  # type: ignore[call-overload]
        for day, wf, feat, tenant, cost in rows
    ]
