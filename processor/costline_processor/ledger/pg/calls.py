"""Insert one export request's calls and outcomes into a shared PostgreSQL ledger, each call once.

The hot path is one statement (sql.INSERT_CALLS): every call goes in, the UNIQUE keys refuse the ones some
replica holds already. The refused ones take the careful path, which is the SQLite ledger's (calls.py)
with the same rules (same_call.py), made safe against other replicas:

- A refused span was refused by a committed row (an insert waits for a conflicting one in progress), so a
  span key found is a redelivered span (a redelivered batch takes no lock).
- Whether a span with a taken (trace, response id) is the same call as one stored or a different call is
  read, then written: under READ COMMITTED two replicas could each read "not there yet" and each insert
  the second span of one new call. So the careful path first locks the row that holds the id
  (`SELECT ... FOR UPDATE`, in key order, so two replicas never wait on each other in a cycle); every
  decision about an id is then made by one transaction at a time, reading what the previous one
  committed. A row lock lives in the row, not in the shared lock table, so a request of thousands of spans
  needs no lock-table space.
- A row the careful path inserts that is refused all the same (another replica inserted that span, or
  retention moved the id, in between) raises `Conflict`: the store rolls the transaction back and runs it
  again, and the next run finds the other replica's committed row.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from costline_processor.ledger.pg.connection import Connection
from costline_processor.ledger.pg.schema import CALL_COLUMN_TYPES
from costline_processor.ledger.pg.sql import INSERT_CALLS, INSERT_OUTCOMES, MARK_RECEIVED, SUPPLIED_COLUMNS
from costline_processor.ledger.results import (
    STATUS_DUPLICATE_CALL,
    STATUS_NEW,
    STATUS_REDELIVERED,
    RecordedItem,
    RecordStatus,
)
from costline_processor.ledger.rows import MONEY_CONTEXT, Arrival, call_row, label_key, span_key_of, status_of
from costline_processor.ledger.same_call import (
    SHAPE_COLUMNS,
    CallShape,
    models_of,
    same_call,
    shape_of_row,
    usage_key,
)
from costline_processor.ledger.schema import CALL_COLUMNS as SQLITE_CALL_COLUMNS
from costline_processor.ledger.sql import NULLIF_ZERO_COLUMNS
from costline_processor.model import Outcome, PricedCall

# PostgreSQL text cannot hold NUL: it is stored as U+001A SUBSTITUTE. Both are control characters, which
# metric labels show as `_`, so a counter seeded from the ledger has the label the live one had.
NUL: Final = "\x00"
SUBSTITUTE: Final = "\x1a"

if SQLITE_CALL_COLUMNS[1:] != SUPPLIED_COLUMNS:  # rows.call_row() builds the values in this order
    raise RuntimeError("the PostgreSQL calls columns differ from rows.call_row()'s")
_NULLABLE: Final = tuple(i for i, c in enumerate(SUPPLIED_COLUMNS) if c in NULLIF_ZERO_COLUMNS)
_TEXT: Final = tuple(i for i, c in enumerate(SUPPLIED_COLUMNS) if CALL_COLUMN_TYPES[c].startswith("TEXT"))


class Conflict(Exception):
    """Another replica changed what this transaction read; roll back and run it again."""


def clean(text: str | None) -> str | None:
    return text.replace(NUL, SUBSTITUTE) if text is not None and NUL in text else text


def _columns(rows: Sequence[tuple[object, ...]]) -> dict[str, list[object]]:
    """call_row() rows (seq dropped) as one array per column, NULL markers as NULL, NUL substituted."""
    columns = [list(column) for column in zip(*rows, strict=True)]
    for index in _NULLABLE:
        columns[index] = [None if type(value) is int else value for value in columns[index]]
    for index in _TEXT:
        values = columns[index]
        if any(type(value) is str and NUL in value for value in values):
            columns[index] = [clean(value) if type(value) is str else value for value in values]
    return dict(zip(SUPPLIED_COLUMNS, columns, strict=True))


def _insert(conn: Connection, rows: Sequence[tuple[object, ...]], replica: str) -> set[bytes]:
    """Insert `rows` and add them to `replica`'s totals; returns the span keys actually inserted."""
    params: dict[str, object] = {"replica": replica, **_columns(rows)}
    return {bytes(row[0]) for row in conn.execute(INSERT_CALLS, params).fetchall()}  # type: ignore[call-overload]


@dataclass(slots=True)
class _Batch:
    """One request's calls as the insert saw them: `rows[i]` is `priced[i]`'s row, `items[i]` its fate."""

    priced: Sequence[PricedCall]
    rows: list[tuple[object, ...]]
    items: list[RecordedItem]
    replica: str
    received_ns: int

    def span_key(self, index: int) -> bytes:
        key: bytes = bytes(self.rows[index][2])  # type: ignore[call-overload]
        return key

    def call_key(self, index: int) -> bytes | None:
        key = self.rows[index][3]
        return None if key is None else bytes(key)  # type: ignore[call-overload]

    def shape(self, index: int) -> CallShape:
        """The call's shape as the ledger stores it (a model name with NUL substituted)."""
        row, call = self.rows[index], self.priced[index].call
        models = models_of(str(clean(str(row[9]))), clean(call.request_model))
        return CallShape(0, call.span_id, int(str(row[0])), int(str(row[1])), models, usage_key(call))

    def settle(self, index: int, status: RecordStatus, canonical_span_id: bytes) -> None:
        item = self.items[index]
        self.items[index] = RecordedItem(item.priced, status, canonical_span_id, item.start_time_out_of_range)


def record_calls(
    conn: Connection, priced: Sequence[PricedCall], arrival: Arrival, replica: str
) -> tuple[list[RecordedItem], int]:
    """Record the new calls for `replica`; returns the items and the response id collisions."""
    if not priced:
        return [], 0
    received = arrival.received_ns
    batch = _Batch(priced, [], [], replica, received)
    for p in priced:
        call = p.call
        span_key = span_key_of(call)
        call_key = call.trace_id + call.response_id.encode() if call.response_id else None
        placed = arrival.place(call.start_time_ns, call.end_time_ns)
        times = (received, received, received) if placed is None else (placed[0], placed[1], received)
        row = call_row(0, p, label_key(p), status=status_of(p), span_key=span_key, call_key=call_key,
                       times=times)  # fmt: skip
        batch.rows.append(row[1:])
        batch.items.append(RecordedItem(p, STATUS_NEW, call.span_id, placed is None))
    inserted = _insert(conn, batch.rows, replica)
    refused = []  # a span repeated within the request: the insert took its first row (rows go in in order)
    for index in range(len(priced)):
        key = batch.span_key(index)
        if key in inserted:
            inserted.discard(key)
        else:
            refused.append(index)
    return batch.items, _record_refused(conn, batch, refused) if refused else 0


def _record_refused(conn: Connection, batch: _Batch, refused: list[int]) -> int:
    """The careful path for the calls the insert refused: settles their items, returns the collisions."""
    span_keys = [batch.span_key(index) for index in refused]
    found = conn.execute("SELECT span_key, seq FROM calls WHERE span_key = ANY(%s)", (span_keys,)).fetchall()
    known_spans: dict[bytes, int] = {bytes(key): int(seq) for key, seq in found}  # type: ignore[call-overload]
    # A span found is redelivered, whatever else happens; the others met a taken (trace, response id).
    unknown = [index for index, key in zip(refused, span_keys, strict=True) if key not in known_spans]
    call_keys = sorted({key for key in map(batch.call_key, unknown) if key is not None})
    if call_keys:  # one decision per (trace, response id) at a time, across replicas
        conn.execute(
            "SELECT seq FROM calls WHERE call_key = ANY(%s) ORDER BY call_key FOR UPDATE", (call_keys,)
        )
    known_calls = _known_calls(conn, call_keys)
    new_rows: list[tuple[object, ...]] = []
    seen_again: set[int] = set()  # 0: a row this request inserts
    collisions = 0
    with decimal.localcontext(MONEY_CONTEXT):
        for index, span_key in zip(refused, span_keys, strict=True):
            span_id = batch.priced[index].call.span_id
            if span_key in known_spans:
                seen_again.add(known_spans[span_key])
                batch.settle(index, STATUS_REDELIVERED, span_id)
                continue
            call_key, shape = batch.call_key(index), batch.shape(index)
            others = known_calls.setdefault(call_key, []) if call_key is not None else []
            same = next((other for other in others if same_call(other, shape)), None)
            if same is not None:
                seen_again.add(same.seq)
                batch.settle(index, STATUS_DUPLICATE_CALL, same.span_id)
                continue
            shared = call_key if others else None  # the id is taken by a different call
            collisions += shared is not None
            others.append(shape)
            known_spans[span_key] = 0
            row = batch.rows[index]
            # A different call with a taken id is stored under shared_call_key: call_key stays UNIQUE.
            new_rows.append(row if shared is None else (*row[:3], None, *row[4:-1], bytearray(shared)))
    if new_rows and len(_insert(conn, new_rows, batch.replica)) < len(new_rows):
        raise Conflict("a span the careful path inserted was taken meanwhile")
    _mark_received(conn, "calls", batch.received_ns, seen_again - {0})
    return collisions


def _known_calls(conn: Connection, call_keys: list[bytes]) -> dict[bytes | None, list[CallShape]]:
    """The stored calls of each (trace, response id): the first (`call_key`) and later ones (`shared_`)."""
    known: dict[bytes | None, list[CallShape]] = {}
    if not call_keys:
        return known
    for column in ("call_key", "shared_call_key"):
        select = f"SELECT {column}, {SHAPE_COLUMNS} FROM calls WHERE {column} = ANY(%s) ORDER BY seq"
        for row in conn.execute(select, (call_keys,)):
            known.setdefault(bytes(row[0]), []).append(shape_of_row((row[1], bytes(row[2]), *row[3:])))  # type: ignore[call-overload]
    return known


def _mark_received(conn: Connection, table: str, received_ns: int, seqs: set[int]) -> None:
    if seqs:
        conn.execute(MARK_RECEIVED.format(table=table), (received_ns, sorted(seqs)))


def record_outcomes(
    conn: Connection, outcomes: Sequence[Outcome], arrival: Arrival, replica: str
) -> list[Outcome]:
    """Record the new outcomes for `replica` (their totals in the same statement); returns them."""
    if not outcomes:
        return []
    received = arrival.received_ns
    span_keys = [o.trace_id + o.span_id for o in outcomes]
    times = []
    for outcome in outcomes:
        placed = arrival.place(outcome.time_ns, outcome.time_ns)
        times.append(received if placed is None else placed[0])
    params: dict[str, object] = {
        "replica": replica, "time_ns": times, "span_key": span_keys,
        "trace_id": [o.trace_id for o in outcomes], "span_id": [o.span_id for o in outcomes],
        "workflow_id": [clean(o.workflow_id) for o in outcomes],
        "outcome": [clean(o.outcome) for o in outcomes],
        "count": [o.count for o in outcomes], "service_name": [clean(o.service_name) for o in outcomes],
        "received_ns": [received] * len(outcomes),
    }  # fmt: skip
    inserted = {bytes(row[0]) for row in conn.execute(INSERT_OUTCOMES, params).fetchall()}  # type: ignore[call-overload]
    new: list[Outcome] = []
    for outcome, span_key in zip(outcomes, span_keys, strict=True):
        if span_key in inserted:
            inserted.discard(span_key)  # a span repeated within the request is new once
            new.append(outcome)
    if len(new) < len(outcomes):
        again = sorted(set(span_keys) - {o.trace_id + o.span_id for o in new})
        found = conn.execute("SELECT seq FROM outcomes WHERE span_key = ANY(%s)", (again,)).fetchall()
        _mark_received(conn, "outcomes", received, {int(row[0]) for row in found})  # type: ignore[call-overload]
    return new
