"""Insert the calls of one export request, each once: the hot path of `Ledger.record()`.

Almost every request carries only calls the ledger has never seen, so they are inserted first without
looking anything up; the UNIQUE keys (span_key, call_key) are the check. Only when one of them refuses a
row (a redelivered batch, a call seen on two spans) is the optimistic insert rolled back to its savepoint
and the request recorded the careful way: look the keys up, insert only the unknown calls.
"""

from __future__ import annotations

import decimal
import sqlite3
from collections.abc import Sequence
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
    LabelKey,
    call_row,
    label_key,
    reason_of,
    status_of,
)
from costline_processor.ledger.sql import INSERT_CALL, lookup
from costline_processor.model import PricedCall

TotalsKey: TypeAlias = tuple[LabelKey, str, str]  # labels, status, unpriced reason ("" when priced)
Pending: TypeAlias = dict[TotalsKey, Aggregate]


def record_calls(
    conn: sqlite3.Connection, priced: Sequence[PricedCall], next_seq: int, pending: Pending
) -> tuple[list[RecordedItem], int]:
    """Insert the new calls (seq from `next_seq` on) and add them to `pending`; return items, next seq.

    Runs inside the caller's transaction; if it raises, the caller rolls back and drops `pending`.
    """
    if not priced:
        return [], next_seq
    span_keys: list[bytes] = []
    call_keys: list[bytes | None] = []
    keys: list[TotalsKey] = []
    rows: list[tuple[object, ...]] = []
    seq = next_seq
    for p in priced:  # one pass, no helper lists: this loop runs for every LLM span received
        call = p.call
        span_key = call.trace_id + call.span_id
        call_key = call.trace_id + call.response_id.encode() if call.response_id else None
        key = (label_key(p), status_of(p), reason_of(p))
        span_keys.append(span_key)
        call_keys.append(call_key)
        keys.append(key)
        rows.append(call_row(seq, p, key[0], status=key[1], span_key=span_key, call_key=call_key))
        seq += 1
    conn.execute("SAVEPOINT all_new")
    try:
        conn.executemany(INSERT_CALL, rows)
    except sqlite3.IntegrityError:  # some call is known already: undo, then do it the careful way
        conn.execute("ROLLBACK TO all_new")
        conn.execute("RELEASE all_new")
        return _record_known(conn, priced, span_keys, call_keys, keys, next_seq, pending)
    conn.execute("RELEASE all_new")
    with decimal.localcontext(MONEY_CONTEXT):  # exact sums: Inexact raises
        for seq, p, key in zip(range(next_seq, next_seq + len(priced)), priced, keys, strict=True):
            _add(pending, key, seq, p)
    items = [RecordedItem(p, STATUS_NEW, p.call.span_id) for p in priced]
    return items, next_seq + len(priced)


def _add(pending: Pending, key: TotalsKey, seq: int, priced: PricedCall) -> None:
    agg = pending.get(key)
    if agg is None:
        agg = pending[key] = Aggregate(*key, first_seq=seq, first_time_ns=priced.call.start_time_ns)
    agg.add(priced)


def _record_known(  # noqa: PLR0917 - the hot path's precomputed per-call lists, passed on
    conn: sqlite3.Connection,
    priced: Sequence[PricedCall],
    span_keys: list[bytes],
    call_keys: list[bytes | None],
    keys: list[TotalsKey],
    next_seq: int,
    pending: Pending,
) -> tuple[list[RecordedItem], int]:
    """The careful path: skip the calls the ledger (or this request) already holds."""
    known_spans = {row[0] for row in lookup(conn, "SELECT span_key FROM calls", "span_key", span_keys)}
    wanted = [key for key in call_keys if key is not None]
    known_calls: dict[bytes, bytes] = {}
    if wanted:
        select = "SELECT call_key, substr(span_key, 17) FROM calls"
        known_calls.update((row[0], row[1]) for row in lookup(conn, select, "call_key", wanted))
    items: list[RecordedItem] = []
    rows: list[tuple[object, ...]] = []
    with decimal.localcontext(MONEY_CONTEXT):
        for p, span_key, call_key, key in zip(priced, span_keys, call_keys, keys, strict=True):
            if span_key in known_spans:
                items.append(RecordedItem(p, STATUS_REDELIVERED, p.call.span_id))
                continue
            if call_key is not None and call_key in known_calls:
                items.append(RecordedItem(p, STATUS_DUPLICATE_CALL, known_calls[call_key]))
                continue
            seq = next_seq
            next_seq += 1
            known_spans.add(span_key)
            if call_key is not None:
                known_calls[call_key] = p.call.span_id
            rows.append(call_row(seq, p, key[0], status=key[1], span_key=span_key, call_key=call_key))
            _add(pending, key, seq, p)
            items.append(RecordedItem(p, STATUS_NEW, p.call.span_id))
    if rows:
        conn.executemany(INSERT_CALL, rows)
    return items, next_seq
