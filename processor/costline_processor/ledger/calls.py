"""Insert the calls (and outcomes) of one export request, each once: the hot path of `Ledger.record()`.

Almost every request carries only calls the ledger has never seen, so they are inserted first without
looking anything up; the UNIQUE keys (span_key, call_key) are the check. Only when one of them refuses a
row (a redelivered batch, a call seen on two spans, a response id seen before) is the optimistic insert
rolled back to its savepoint and the request recorded the careful way: look the keys up, insert only the
calls the ledger does not hold. A span seen again refreshes its row's `received_ns`, so retention keeps a
dedupe key as long as the span keeps being redelivered.
"""

from __future__ import annotations

import decimal
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from costline_processor.ledger.results import (
    STATUS_DUPLICATE_CALL,
    STATUS_NEW,
    STATUS_REDELIVERED,
    RecordedItem,
)
from costline_processor.ledger.rows import (
    MONEY_CONTEXT,
    Aggregate,
    Arrival,
    LabelKey,
    call_row,
    label_key,
    reason_of,
    span_key_of,
    status_of,
)
from costline_processor.ledger.same_call import (
    SHAPE_COLUMNS,
    CallShape,
    models_of,
    same_call,
    shape_of_row,
    usage_key,
)
from costline_processor.ledger.sql import INSERT_CALL, INSERT_OUTCOME, lookup, mark_received, outcome_upsert
from costline_processor.model import Outcome, PricedCall

TotalsKey: TypeAlias = tuple[LabelKey, str, str]  # labels, status, unpriced reason ("" when priced)
Pending: TypeAlias = dict[TotalsKey, Aggregate]
Times: TypeAlias = tuple[int, int, int]  # start, end, received: as recorded (rows.Arrival)


@dataclass(frozen=True, slots=True)
class Prepared:
    """The per-call values the hot loop computed once, for the careful path to reuse."""

    span_keys: list[bytes]
    call_keys: list[bytes | None]
    keys: list[TotalsKey]
    times: list[Times]
    out_of_range: set[int]  # indices of the calls whose start time was not used (rare)


def record_calls(
    conn: sqlite3.Connection, priced: Sequence[PricedCall], next_seq: int, pending: Pending, arrival: Arrival
) -> tuple[list[RecordedItem], int, int]:
    """Insert the new calls (seq from `next_seq` on) and add them to `pending`.

    Returns the items, the next seq and how many new calls share a (trace, response id) with another call.
    Runs inside the caller's transaction; if it raises, the caller rolls back and drops `pending`.
    """
    if not priced:
        return [], next_seq, 0
    prepared = Prepared([], [], [], [], set())
    rows: list[tuple[object, ...]] = []
    received = arrival.received_ns
    place = arrival.place
    seq = next_seq
    for p in priced:  # one pass, no helper lists: this loop runs for every LLM span received
        call = p.call
        span_key = span_key_of(call)
        call_key = call.trace_id + call.response_id.encode() if call.response_id else None
        key = (label_key(p), status_of(p), reason_of(p))
        placed = place(call.start_time_ns, call.end_time_ns)
        if placed is None:
            prepared.out_of_range.add(len(rows))
            times = (received, received, received)
        else:
            times = (placed[0], placed[1], received)
        prepared.span_keys.append(span_key)
        prepared.call_keys.append(call_key)
        prepared.keys.append(key)
        prepared.times.append(times)
        rows.append(call_row(seq, p, key[0], status=key[1], span_key=span_key, call_key=call_key,
                             times=times))  # fmt: skip
        seq += 1
    conn.execute("SAVEPOINT all_new")
    try:
        conn.executemany(INSERT_CALL, rows)
    except sqlite3.IntegrityError:  # some call is known already: undo, then do it the careful way
        conn.execute("ROLLBACK TO all_new")
        conn.execute("RELEASE all_new")
        return _record_known(conn, priced, prepared, next_seq, pending)
    conn.execute("RELEASE all_new")
    end_seq = seq
    with decimal.localcontext(MONEY_CONTEXT):  # exact sums: Inexact raises
        seqs = range(next_seq, end_seq)
        for seq, p, key, times in zip(seqs, priced, prepared.keys, prepared.times, strict=True):
            _add(pending, key, seq, p, times[0])
    items = [RecordedItem(p, STATUS_NEW, p.call.span_id) for p in priced]
    for index in prepared.out_of_range:
        items[index] = RecordedItem(priced[index], STATUS_NEW, priced[index].call.span_id, True)
    return items, end_seq, 0


def _add(pending: Pending, key: TotalsKey, seq: int, priced: PricedCall, time_ns: int) -> None:
    agg = pending.get(key)
    if agg is None:
        agg = pending[key] = Aggregate(*key, first_seq=seq, first_time_ns=time_ns)
    agg.add(priced)


def _known_calls(conn: sqlite3.Connection, call_keys: list[bytes | None]) -> dict[bytes, list[CallShape]]:
    """The stored calls of each (trace, response id): the first (`call_key`) and later ones (`shared_`)."""
    wanted = list({key for key in call_keys if key is not None})
    known: dict[bytes, list[CallShape]] = {}
    for column in ("call_key", "shared_call_key"):
        if wanted:
            for row in lookup(conn, f"SELECT {column}, {SHAPE_COLUMNS} FROM calls", column, wanted):
                known.setdefault(row[0], []).append(shape_of_row(row[1:]))
    return known


def _record_known(
    conn: sqlite3.Connection,
    priced: Sequence[PricedCall],
    prepared: Prepared,
    next_seq: int,
    pending: Pending,
) -> tuple[list[RecordedItem], int, int]:
    """The careful path: skip the calls the ledger (or this request) already holds."""
    select = "SELECT span_key, seq FROM calls"
    known_spans: dict[bytes, object] = {
        row[0]: row[1] for row in lookup(conn, select, "span_key", prepared.span_keys)
    }
    known_calls = _known_calls(conn, prepared.call_keys)
    items: list[RecordedItem] = []
    rows: list[tuple[object, ...]] = []
    seen_again: set[object] = set()  # seqs of the rows whose span (or call) arrived again
    collisions = 0
    columns = zip(priced, prepared.span_keys, prepared.call_keys, prepared.keys, prepared.times, strict=True)
    with decimal.localcontext(MONEY_CONTEXT):
        for index, (p, span_key, call_key, key, times) in enumerate(columns):
            call = p.call
            out_of_range = index in prepared.out_of_range
            if span_key in known_spans:
                seen_again.add(known_spans[span_key])
                items.append(RecordedItem(p, STATUS_REDELIVERED, call.span_id, out_of_range))
                continue
            seq = next_seq
            shape = CallShape(seq, call.span_id, times[0], times[1], models_of(key[0][5], call.request_model),
                              usage_key(call))  # fmt: skip
            others = known_calls.setdefault(call_key, []) if call_key is not None else []
            same = next((other for other in others if same_call(other, shape)), None)
            if same is not None:
                seen_again.add(same.seq)
                items.append(RecordedItem(p, STATUS_DUPLICATE_CALL, same.span_id, out_of_range))
                continue
            next_seq += 1
            known_spans[span_key] = seq
            shared = call_key if others else None  # the id is taken by a different call
            collisions += shared is not None
            others.append(shape)
            stored_key = None if shared else call_key
            row = call_row(seq, p, key[0], status=key[1], span_key=span_key, call_key=stored_key,
                           shared_call_key=shared, times=times)  # fmt: skip
            rows.append(row)
            _add(pending, key, seq, p, times[0])
            items.append(RecordedItem(p, STATUS_NEW, call.span_id, out_of_range))
    if rows:
        conn.executemany(INSERT_CALL, rows)
    mark_received(conn, "calls", prepared.times[0][2], seen_again)
    return items, next_seq, collisions


def record_outcomes(
    conn: sqlite3.Connection, outcomes: Sequence[Outcome], arrival: Arrival, next_seq: int
) -> tuple[list[Outcome], int]:
    """Insert the new outcomes (seq from `next_seq` on) and their totals; returns them and the next seq."""
    if not outcomes:
        return [], next_seq
    span_keys = [o.trace_id + o.span_id for o in outcomes]
    select = "SELECT span_key, seq FROM outcomes"
    known: dict[bytes, object] = {row[0]: row[1] for row in lookup(conn, select, "span_key", span_keys)}
    new: list[Outcome] = []
    rows: list[tuple[object, ...]] = []
    totals: list[tuple[object, ...]] = []
    received = arrival.received_ns
    for outcome, span_key in zip(outcomes, span_keys, strict=True):
        if span_key in known:
            continue
        seq = known[span_key] = next_seq
        next_seq += 1
        placed = arrival.place(outcome.time_ns, outcome.time_ns)
        time_ns = received if placed is None else placed[0]
        ids = (span_key, outcome.trace_id, outcome.span_id)
        rows.append((seq, time_ns, *ids, outcome.workflow_id, outcome.outcome, outcome.count,
                     outcome.service_name, received))  # fmt: skip
        totals.append((outcome.workflow_id, outcome.outcome, outcome.count, seq, time_ns))
        new.append(outcome)
    # Outcomes are few: their totals are updated in the same transaction, no checkpointing needed.
    conn.executemany(INSERT_OUTCOME, rows)
    conn.executemany(outcome_upsert("outcome_totals"), totals)
    if len(new) < len(outcomes):
        mark_received(
            conn, "outcomes", received, {known[key] for key in span_keys} - {row[0] for row in rows}
        )
    return new, next_seq
