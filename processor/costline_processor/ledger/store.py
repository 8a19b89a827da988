"""The ledger: every priced LLM call once, durably, with exact cumulative totals.

`record()` is one SQLite transaction per export request, committed (WAL, synchronous=FULL by default)
before it returns, so an acknowledged batch survives a crash or `kill -9`. Two keys make a retried batch
and a doubly-instrumented call count once: (trace_id, span_id), and (trace_id, response_id) when the spans
also describe the same call (same_call.py). Retention purges by the time a span last arrived, never by a
time the sender chose. Writes are serialised by a lock; SQLite has one writer anyway.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final, Literal

from costline_processor.ledger import schema
from costline_processor.ledger.calls import TotalsKey, record_calls, record_outcomes
from costline_processor.ledger.locking import describe_holder, take_writer_lock
from costline_processor.ledger.maintenance import (
    aggregates_with_uncheckpointed,
    purge_chunk,
    replay_after,
    verify,
)
from costline_processor.ledger.results import (
    PurgeResult,
    RecordedItem,
    RecordResult,
)
from costline_processor.ledger.rows import (
    NS_PER_DAY,
    Aggregate,
    Arrival,
    OutcomeAggregate,
    SpendRow,
    Totals,
    spend_rows,
    totals_of,
)
from costline_processor.ledger.schema import LedgerLockedError
from costline_processor.ledger.sql import (
    ROLLUP_SELECT,
    SPEND_BY_DAY,
    TOTALS_COLUMNS,
    aggregate_from_row,
    aggregate_row,
    totals_upsert,
)
from costline_processor.model import Outcome, PricedCall

# The cumulative totals are brought up to date (checkpointed) at most this often or when this many label
# sets are pending; rows written since the last checkpoint are replayed into them after a crash.
CHECKPOINT_INTERVAL_S: Final = 5.0
CHECKPOINT_MAX_KEYS: Final = 4096
# After the writer opens the ledger, retention deletes nothing for this long: a batch committed just before
# a crash (or a stop) but never acknowledged is resent by the collector within its retry interval (30 s in
# collector-config/) once costline is back, however long it was down, and must still be recognised.
REDELIVERY_GRACE_NS: Final = 3_600 * 1_000_000_000

__all__ = ["NS_PER_DAY", "REDELIVERY_GRACE_NS", "Ledger"]


class Ledger:
    """The durable, deduplicated record of every LLM call and business outcome (thread-safe)."""

    def __init__(
        self,
        path: Path,
        *,
        retention_days: int = 400,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        read_only: bool | None = None,
    ) -> None:
        """Open (creating if needed) the ledger.

        `read_only=False`: as the writer, or raise `LedgerLockedError` if another process writes it (what
        `costline serve` wants); `True`: read-only; `None`: the writer if free, else read-only (reports).
        """
        if retention_days < 1:
            raise ValueError(f"retention_days must be >= 1 (got {retention_days})")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL (got {synchronous!r})")
        self.path = Path(path)
        self.retention_days = retention_days
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._pending: dict[TotalsKey, Aggregate] = {}  # committed calls not yet in call_totals
        # After a failed transaction `_pending` may hold calls that were rolled back: it is dropped and the
        # next checkpoint rebuilds from the committed rows instead.
        self._replay_needed = False
        self._next_seq = self._checkpoint_seq = 0  # set by _open() for the writer
        self._last_checkpoint = time.monotonic()
        self._opened_ns = time.time_ns()
        self._owner = None if read_only else take_writer_lock(self.path)
        if self._owner is None and read_only is False:
            holder = describe_holder(self.path)
            raise LedgerLockedError(f"the ledger {self.path} is in use by {holder}; a ledger has one writer")
        self.read_only = self._owner is None
        self._conn: sqlite3.Connection | None = None
        try:
            self._conn = schema.connect(os.fspath(self.path), synchronous=synchronous)
            if self.read_only:
                self._meta = schema.read_meta(self._conn, self.path)
            else:
                schema.migrate(self._conn)
                with self._lock, self._transaction() as conn:
                    self._meta = self._open(conn)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._owner is not None:
            self._owner.close()  # releases the writer lock
            self._owner = None

    # --- lifecycle -------------------------------------------------------------------------------------
    def close(self) -> None:
        """Checkpoint the totals and close the file."""
        if self._conn is None:
            return
        try:
            if not self.read_only:
                self.checkpoint()  # if this fails, the next open replays the rows instead
        finally:
            with self._lock:
                self._release()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the ledger is closed")
        return self._conn

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def instance_id(self) -> str:
        """A stable id for this ledger (the default `service.instance.id` of its cumulative metrics)."""
        return str(self._meta["instance_id"])

    @property
    def created_ns(self) -> int:
        """When the ledger file was created: the start time of its cumulative metrics (never changes)."""
        return int(self._meta["created_ns"])

    @property
    def first_record_ns(self) -> int | None:
        """Wall-clock time of the first committed record: the start time of the cumulative counters."""
        value = self._meta.get("first_record_ns")
        return int(value) if value is not None else None

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction (the caller holds the lock); writing needs the writer lock."""
        if write and self.read_only:
            raise LedgerLockedError(f"{self.path} is open read-only (another process is writing it)")
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _open(self, conn: sqlite3.Connection) -> dict[str, str]:
        """Create the ledger's identity once; replay rows written after the last checkpoint."""
        meta: dict[str, str] = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if "instance_id" not in meta:
            meta["instance_id"] = uuid.uuid4().hex
            meta["created_ns"] = str(time.time_ns())
        checkpoint_seq = int(meta.get("checkpoint_seq", 0))
        replay_after(conn, checkpoint_seq)
        last_seq = conn.execute(
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM calls), 0),"
            " COALESCE((SELECT MAX(seq) FROM outcomes), 0),"
            " COALESCE((SELECT MAX(first_seq) FROM call_totals), 0), ?)",
            (checkpoint_seq,),
        ).fetchone()[0]
        meta["checkpoint_seq"] = str(last_seq)
        self._checkpoint_seq = int(last_seq)
        conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(meta.items()))
        self._next_seq = int(last_seq) + 1
        return meta

    # --- writing -----------------------------------------------------------------------------------------
    def record(
        self,
        priced: Sequence[PricedCall],
        outcomes: Sequence[Outcome] = (),
        *,
        received_ns: int | None = None,
    ) -> RecordResult:
        """Store the new calls and outcomes of one export request in one durable transaction.

        `received_ns` is when the request arrived (default: now, on the ledger's clock).
        """
        if not priced and not outcomes:
            return RecordResult([], [], 0)
        with self._lock:
            start_seq = self._next_seq
            first_record = "first_record_ns" not in self._meta
            now = str(time.time_ns())
            arrival = Arrival.at(int(now) if received_ns is None else received_ns, self.retention_days)
            try:
                with self._transaction() as conn:
                    items, shared_ids = self._record_calls(conn, priced, arrival)
                    new_outcomes, self._next_seq = record_outcomes(conn, outcomes, arrival, self._next_seq)
                    if first_record and self._next_seq != start_seq:
                        conn.execute("INSERT INTO meta VALUES ('first_record_ns', ?)", (now,))
                    flushed = self._checkpoint_due() and self._flush(conn)
            except BaseException:
                self._next_seq = start_seq
                self._pending, self._replay_needed = {}, True
                raise
            if flushed:
                self._checkpointed()
            if first_record and self._next_seq != start_seq:
                self._meta["first_record_ns"] = now
        return RecordResult(
            items, new_outcomes, len(outcomes) - len(new_outcomes), shared_ids, arrival.received_ns
        )

    def _record_calls(
        self, conn: sqlite3.Connection, priced: Sequence[PricedCall], arrival: Arrival
    ) -> tuple[list[RecordedItem], int]:
        """Insert the new calls and add them to `_pending` (dropped by `record()` if this fails)."""
        items, self._next_seq, shared_ids = record_calls(conn, priced, self._next_seq, self._pending, arrival)
        return items, shared_ids

    def take_resync(self) -> bool:
        """Never: a SQLite COMMIT that raises did not happen."""
        return False

    def problem(self) -> str | None:
        return "the ledger is closed" if self._conn is None else None

    # --- checkpoints ---------------------------------------------------------------------------------------
    def _checkpoint_due(self) -> bool:
        if self._replay_needed or len(self._pending) >= CHECKPOINT_MAX_KEYS:
            return True
        return time.monotonic() - self._last_checkpoint >= CHECKPOINT_INTERVAL_S

    def _flush(self, conn: sqlite3.Connection) -> bool:
        """Bring call_totals up to date inside the caller's transaction (`_checkpointed()` after commit)."""
        if self._replay_needed:
            replay_after(conn, self._checkpoint_seq)  # the committed rows are the truth
        else:
            conn.executemany(totals_upsert("call_totals"), [aggregate_row(a) for a in self._pending.values()])
        conn.execute("UPDATE meta SET value = ? WHERE key = 'checkpoint_seq'", (str(self._next_seq - 1),))
        return True

    def _checkpointed(self) -> None:
        self._pending, self._replay_needed = {}, False
        self._checkpoint_seq = self._next_seq - 1
        self._last_checkpoint = time.monotonic()

    def checkpoint(self) -> None:
        """Bring the cumulative totals up to date with every recorded call."""
        with self._lock:
            self._checkpoint_locked()

    def _checkpoint_locked(self) -> None:
        if self.read_only:
            raise LedgerLockedError(f"{self.path} is open read-only (another process is writing it)")
        if self._pending or self._replay_needed:
            with self._transaction() as conn:
                self._flush(conn)
            self._checkpointed()

    # --- retention -----------------------------------------------------------------------------------------
    def purge_older_than(self, cutoff_ns: int | None = None, *, now_ns: int | None = None) -> PurgeResult:
        """Delete call and outcome rows last received before `cutoff_ns`.

        The default cutoff is `now_ns` (default: the clock) - retention_days, and nothing during the first
        REDELIVERY_GRACE_NS after the ledger was opened. The cumulative totals are untouched (counters never
        go backwards); the deleted rows roll into the `purged_*` tables in the same transaction, chunk by
        chunk.
        """
        if cutoff_ns is None:
            now_ns = time.time_ns() if now_ns is None else now_ns
            if now_ns < self._opened_ns + REDELIVERY_GRACE_NS:
                return PurgeResult(0, 0)
            cutoff_ns = now_ns - self.retention_days * NS_PER_DAY
        calls = outcomes = 0
        while True:
            with self._lock:
                self._checkpoint_locked()  # only checkpointed rows may be deleted
                with self._transaction() as conn:
                    done = purge_chunk(conn, cutoff_ns)
            if done == (0, 0):
                return PurgeResult(calls, outcomes)
            calls, outcomes = calls + done[0], outcomes + done[1]

    # --- reading -------------------------------------------------------------------------------------------
    def _read(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return list(self.conn.execute(sql, params).fetchall())

    def iter_aggregates(self) -> Iterator[Aggregate]:
        """Cumulative totals per label set, first appearance first (what `CostMetrics.seed_from` reads)."""
        columns = ", ".join(TOTALS_COLUMNS)
        with self._lock:  # rows are fetched under the lock, yielded after it (never hold it across a yield)
            if self.read_only:
                with self._transaction(write=False) as conn:  # one consistent snapshot
                    aggregates = aggregates_with_uncheckpointed(conn)
            else:
                self._checkpoint_locked()
                rows = self.conn.execute(f"SELECT {columns} FROM call_totals ORDER BY first_seq").fetchall()
                aggregates = [aggregate_from_row(row) for row in rows]
        yield from aggregates

    def iter_outcome_aggregates(self) -> Iterator[OutcomeAggregate]:
        sql = "SELECT workflow_id, outcome, count, first_seq, first_time_ns FROM outcome_totals"
        for row in self._read(sql + " ORDER BY first_seq"):
            count, first_seq, first_time_ns = (int(v) for v in row[2:5])  # type: ignore[call-overload]
            yield OutcomeAggregate(str(row[0]), str(row[1]), count, first_seq, first_time_ns)

    def totals(
        self, *, workflow_id: str | None = None, since_ns: int | None = None, until_ns: int | None = None
    ) -> Totals:
        """Exact sums. Without a time range: cumulative (purged rows included); with one: the stored rows."""
        if since_ns is None and until_ns is None:
            aggregates = list(self.iter_aggregates())
        else:
            where, params = ["time_ns >= ?", "time_ns < ?"], [since_ns or 0, until_ns or 2**63 - 1]
            sql = ROLLUP_SELECT.format(where=" AND ".join(where))
            aggregates = [aggregate_from_row(row) for row in self._read(sql, params)]
        if workflow_id is not None:
            aggregates = [a for a in aggregates if a.labels[0] == workflow_id]
        return totals_of(aggregates)

    def iter_calls(self, *, since_ns: int = 0, until_ns: int = 2**63 - 1) -> Iterator[dict[str, object]]:
        """The stored call rows with trace_id, span_id and response_id split out (reports, tests)."""
        columns = [*schema.CALL_COLUMNS, *(c.rsplit(" AS ", 1)[1] for c in schema.CALL_VIEW_COLUMNS)]
        select = ", ".join([*schema.CALL_COLUMNS, *schema.CALL_VIEW_COLUMNS])
        sql = f"SELECT {select} FROM calls WHERE time_ns >= ? AND time_ns < ? ORDER BY seq"
        for row in self._read(sql, (since_ns, until_ns)):
            yield dict(zip(columns, row, strict=True))

    def iter_outcomes(self, *, since_ns: int, until_ns: int) -> Iterator[tuple[str, str, int]]:
        sql = (
            "SELECT workflow_id, outcome, count FROM outcomes WHERE time_ns >= ? AND time_ns < ? ORDER BY seq"
        )
        for workflow, outcome, count in self._read(sql, (since_ns, until_ns)):
            yield str(workflow), str(outcome), int(count)  # type: ignore[call-overload]

    def time_range(self) -> tuple[int, int] | None:
        first, last = self._read("SELECT min(time_ns), max(time_ns) FROM calls")[0]
        return None if first is None else (int(str(first)), int(str(last)))

    def call_count(self) -> int:
        return int(str(self._read("SELECT count(*) FROM calls")[0][0]))

    def spend_by_day(self, since_ns: int, until_ns: int) -> list[SpendRow]:
        """Exact priced spend of the stored calls in [since_ns, until_ns) per UTC day and attribution:
        (day number, workflow_id, feature_id, tenant_id, cost) rows (what budgets are seeded from)."""
        return spend_rows(self._read(SPEND_BY_DAY, (NS_PER_DAY, since_ns, until_ns)))

    def others_spend_by_day(self, first_day: int, end_day: int) -> list[SpendRow]:
        """A SQLite ledger has one writer: no other replica spends into it."""
        return []

    def verify(self) -> list[str]:
        """Check that every cumulative total equals purged + stored rows exactly; return the mismatches."""
        with self._lock:
            self._checkpoint_locked()
            return verify(self.conn)
