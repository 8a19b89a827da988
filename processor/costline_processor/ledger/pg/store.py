"""A ledger in PostgreSQL, shared by every `costline serve` replica (`--ledger-url postgresql://...`).

`record()` is one transaction per export request, committed (the commit waits for the WAL flush) before it
returns. Every replica writes its calls with its own id (`replica`), and its cumulative totals in the same
transaction, keyed by that id: its counters are its share, the shares sum to the ledger, and a restarted
replica (or one killed with `kill -9`) seeds them from its own totals. Deduplication is the database's
UNIQUE keys (calls.py), so it holds across replicas however the collector routes spans.

The database going away fails the request (the pipeline answers UNAVAILABLE / 503 with a retry delay) and
drops the connection; the next request, or `/readyz`, reconnects, at most every RECONNECT_INTERVAL_S. A
COMMIT cut off by the failure may have happened: `take_resync()` then tells the metrics to rebuild from
the totals, which are the truth.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Final, TypeVar

import psycopg

from costline_processor.ledger.errors import LedgerLockedError, LedgerUnavailableError
from costline_processor.ledger.pg import maintenance
from costline_processor.ledger.pg.calls import Conflict, record_calls, record_outcomes
from costline_processor.ledger.pg.connection import (
    Connection,
    connect,
    describe,
    is_connection_lost,
    is_retryable,
)
from costline_processor.ledger.pg.locks import REPLICA_LEASE_WAIT_S, take_replica_lease
from costline_processor.ledger.pg.reads import LedgerReads
from costline_processor.ledger.pg.schema import migrate, require_current
from costline_processor.ledger.results import PurgeResult, RecordResult
from costline_processor.ledger.rows import NS_PER_DAY, Arrival
from costline_processor.ledger.store import REDELIVERY_GRACE_NS
from costline_processor.model import Outcome, PricedCall

RECONNECT_INTERVAL_S: Final = 1.0
PING_INTERVAL_S: Final = 2.0
RECORD_ATTEMPTS: Final = 5  # runs of one request's transaction when replicas' writes conflict
T = TypeVar("T")


class PostgresLedger(LedgerReads):
    """One replica's view of a shared PostgreSQL ledger (thread-safe; one connection, one writer at a time).

    `read_only=False`: a writer for `replica_id` (default: the host name), migrating the schema first;
    `None` or `True`: a reader of every replica's rows (reports).
    """

    def __init__(
        self,
        url: str,
        *,
        retention_days: int = 400,
        read_only: bool | None = None,
        replica_id: str | None = None,
        lease_wait_s: float = REPLICA_LEASE_WAIT_S,
    ) -> None:
        if retention_days < 1:
            raise ValueError(f"retention_days must be >= 1 (got {retention_days})")
        self._url = url
        self.retention_days = retention_days
        self.read_only = read_only is not False
        self.replica = replica_id or socket.gethostname()
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._problem: str | None = None
        self._next_attempt = 0.0
        self._last_ok = time.monotonic()
        self._resync = False
        self._closed = False
        self._opened_ns = time.time_ns()
        self._meta: dict[str, int | None] = {}
        with self._lock:
            self._connect(lease_wait_s=lease_wait_s, first=True)

    # --- connection ------------------------------------------------------------------------------------
    def _connect(self, *, lease_wait_s: float, first: bool = False) -> Connection:
        """Connect (the caller holds the lock): migrate, take the replica's lease and register it."""
        conn = connect(self._url, role="serve" if not self.read_only else "report")
        try:
            if self.read_only:
                require_current(conn, self.location)
                self._meta = self._ledger_meta(conn)
            else:
                if first:
                    migrate(conn)
                take_replica_lease(conn, self.replica, wait_s=lease_wait_s)
                self._meta = self._register(conn)
        except psycopg.Error as exc:
            conn.close()
            raise LedgerUnavailableError(describe(exc, self._url)) from None
        except BaseException:
            conn.close()
            raise
        self._conn, self._problem, self._last_ok = conn, None, time.monotonic()
        return conn

    def _register(self, conn: Connection) -> dict[str, int | None]:
        row = conn.execute(
            "INSERT INTO replicas VALUES (%s, %s, NULL, %s) ON CONFLICT (replica) DO UPDATE"
            " SET opened_ns = excluded.opened_ns RETURNING created_ns, first_record_ns",
            (self.replica, time.time_ns(), time.time_ns()),
        ).fetchone()
        assert row is not None
        return {"created_ns": int(row[0]), "first_record_ns": None if row[1] is None else int(row[1])}  # type: ignore[call-overload]

    def _ledger_meta(self, conn: Connection) -> dict[str, int | None]:
        row = conn.execute("SELECT value FROM meta WHERE key = 'created_ns'").fetchone()
        return {"created_ns": int(str(row[0])) if row else 0, "first_record_ns": None}

    def _connection(self) -> Connection:
        """The live connection; reconnects at most every RECONNECT_INTERVAL_S (the caller holds the lock)."""
        if self._closed:
            raise LedgerUnavailableError("the ledger is closed")
        if self._conn is not None and not self._conn.broken and not self._conn.closed:
            return self._conn
        if time.monotonic() < self._next_attempt:
            raise LedgerUnavailableError(self._problem or "reconnecting")
        self._next_attempt = time.monotonic() + RECONNECT_INTERVAL_S
        try:
            return self._connect(lease_wait_s=RECONNECT_INTERVAL_S)
        except (LedgerUnavailableError, LedgerLockedError) as exc:
            self._problem = str(exc)
            raise LedgerUnavailableError(str(exc)) from None

    def _lost(self, exc: BaseException) -> LedgerUnavailableError:
        """Drop a connection that failed; the next use reconnects."""
        self._problem = describe(exc, self._url)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        return LedgerUnavailableError(self._problem)

    def _run(self, work: Callable[[Connection], T], *, write: bool) -> T:
        """`work` in one transaction, run again on a conflict between replicas (the caller holds the lock)."""
        if write and self.read_only:
            raise LedgerLockedError(f"{self.location} is open read-only")
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            conn = self._connection()
            try:
                with conn.transaction():
                    result = work(conn)
                self._last_ok = time.monotonic()
                return result
            except Conflict:
                if attempt == RECORD_ATTEMPTS:
                    raise LedgerUnavailableError("replicas kept writing the same spans; retry") from None
            except psycopg.Error as exc:
                if is_retryable(exc):  # rolled back by the database: nothing happened
                    if attempt < RECORD_ATTEMPTS:
                        continue
                    raise LedgerUnavailableError(describe(exc, self._url)) from None
                if not is_connection_lost(exc, conn):
                    raise
                if write:
                    self._resync = True  # the COMMIT may have happened before the connection went
                raise self._lost(exc) from None
        raise AssertionError("unreachable")

    # --- lifecycle -------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (ending the session releases the replica's lease)."""
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> PostgresLedger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def instance_id(self) -> str:
        return self.replica

    @property
    def created_ns(self) -> int:
        return int(self._meta["created_ns"] or 0)

    @property
    def first_record_ns(self) -> int | None:
        return self._meta.get("first_record_ns")

    def take_resync(self) -> bool:
        with self._lock:
            resync, self._resync = self._resync, False
            return resync

    def problem(self) -> str | None:
        """None while the database answers; else why not. Pings (and reconnects) at most every few seconds."""
        if not self._lock.acquire(timeout=0.2):
            return self._problem  # a write is running: its outcome will tell
        try:
            if self._closed:
                return "the ledger is closed"
            if self._conn is not None and time.monotonic() - self._last_ok < PING_INTERVAL_S:
                return None
            try:
                self._run(lambda conn: conn.execute("SELECT 1"), write=False)
            except LedgerUnavailableError as exc:
                return str(exc)
            return None
        finally:
            self._lock.release()

    # --- writing ---------------------------------------------------------------------------------------
    def record(
        self,
        priced: Sequence[PricedCall],
        outcomes: Sequence[Outcome] = (),
        *,
        received_ns: int | None = None,
    ) -> RecordResult:
        """Store the new calls and outcomes of one export request in one transaction, committed on return."""
        if not priced and not outcomes:
            return RecordResult([], [], 0)
        with self._lock:
            now = time.time_ns()
            arrival = Arrival.at(now if received_ns is None else received_ns, self.retention_days)
            first = self._meta.get("first_record_ns") is None

            def work(conn: Connection) -> RecordResult:
                items, collisions = record_calls(conn, priced, arrival, self.replica)
                new_outcomes = record_outcomes(conn, outcomes, arrival, self.replica)
                if first and (new_outcomes or any(item.status == "new" for item in items)):
                    conn.execute(
                        "UPDATE replicas SET first_record_ns = COALESCE(first_record_ns, %s)"
                        " WHERE replica = %s",
                        (now, self.replica),
                    )
                return RecordResult(
                    items, new_outcomes, len(outcomes) - len(new_outcomes), collisions, arrival.received_ns
                )

            result = self._run(work, write=True)
            if first and (result.new_outcomes or any(item.status == "new" for item in result.items)):
                self._meta["first_record_ns"] = now
            return result

    def checkpoint(self) -> None:
        """Nothing to do: the totals are written in each request's transaction."""

    def purge_older_than(self, cutoff_ns: int | None = None, *, now_ns: int | None = None) -> PurgeResult:
        """Delete every replica's call and outcome rows last received before `cutoff_ns` (as `Ledger`'s)."""
        if cutoff_ns is None:
            now_ns = time.time_ns() if now_ns is None else now_ns
            if now_ns < self._opened_ns + REDELIVERY_GRACE_NS:
                return PurgeResult(0, 0)
            cutoff_ns = now_ns - self.retention_days * NS_PER_DAY
        calls = outcomes = 0
        cutoff = cutoff_ns
        while True:
            with self._lock:
                done = self._run(lambda conn: maintenance.purge_chunk(conn, cutoff), write=True)
            if done is None or done == (0, 0):
                return PurgeResult(calls, outcomes)
            calls, outcomes = calls + done[0], outcomes + done[1]

    # --- reading ---------------------------------------------------------------------------------------
    def _read(self, sql: str, params: Sequence[object] | dict[str, object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return self._run(lambda conn: conn.execute(sql, params).fetchall(), write=False)

    def _own(self) -> str | None:
        """The replica whose share a writer reads (its counters, its budget gauges); None: every replica."""
        return None if self.read_only else self.replica

    def verify(self) -> list[str]:
        with self._lock:
            return self._run(maintenance.verify, write=False)

    def iter_outcomes(self, *, since_ns: int, until_ns: int) -> Iterator[tuple[str, str, int]]:
        sql = "SELECT workflow_id, outcome, count FROM outcomes WHERE time_ns >= %s AND time_ns < %s"
        sql += " ORDER BY seq"
        for workflow, outcome, count in self._read(sql, (since_ns, until_ns)):
            yield str(workflow), str(outcome), int(count)  # type: ignore[call-overload]
