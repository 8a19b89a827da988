"""The advisory locks of a PostgreSQL ledger: 64-bit keys, one per purpose, and the replica lease.

A replica's counters are seeded from the rows and totals that carry its id, so two live processes with one
id would each count the other's calls again after a restart and push clashing series. Each writer holds a
session-level advisory lock on its id for as long as it is connected: the database releases it when the
session ends (the process exited or was killed, its connection closed), so a restarted replica takes its
id back within moments, and a second process given the same id is refused with the holder named.
"""

from __future__ import annotations

import hashlib
import time
from typing import Final

import psycopg

from costline_processor.ledger.errors import LedgerLockedError

# A restarted replica may find its old session still there: for a moment when the old process died (the
# server notices the closed socket), for up to ~25 s when its host died (the server-side keepalives that
# connection.py sets). Wait this long for the id before refusing it.
REPLICA_LEASE_WAIT_S: Final = 30.0
_POLL_S: Final = 0.2


def lock_key(purpose: str) -> int:
    """A stable signed 64-bit advisory lock key for `purpose` (the same in every process and version)."""
    return int.from_bytes(hashlib.sha256(f"costline:{purpose}".encode()).digest()[:8], "big", signed=True)


MIGRATE_LOCK: Final = lock_key("migrate")
PURGE_LOCK: Final = lock_key("purge")


def take_replica_lease(
    conn: psycopg.Connection[tuple[object, ...]], replica: str, *, wait_s: float = REPLICA_LEASE_WAIT_S
) -> None:
    """Hold the replica's id for this session, or raise LedgerLockedError naming who holds it."""
    key = lock_key(f"replica:{replica}")
    deadline = time.monotonic() + wait_s
    while True:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if row is not None and row[0]:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(_POLL_S)
    raise LedgerLockedError(
        f"the replica id {replica!r} is in use by {_holder(conn, key)} on this ledger; every replica sharing"
        " a PostgreSQL ledger needs its own --service-instance-id"
    )


def _lock_ids(key: int) -> tuple[int, int]:
    """(classid, objid): how `pg_locks` shows the advisory lock of a 64-bit key."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


def _holder(conn: psycopg.Connection[tuple[object, ...]], key: int) -> str:
    """The session holding advisory lock `key`, as `pg_stat_activity` names it (its application_name)."""
    row = conn.execute(
        "SELECT a.application_name, host(a.client_addr) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
        " WHERE l.locktype = 'advisory' AND l.classid = %s::oid AND l.objid = %s::oid AND l.objsubid = 1"
        " AND l.granted",
        _lock_ids(key),
    ).fetchone()
    if row is None:
        return "another session"
    name, address = row
    return f"{name or 'another session'} (from {address or 'a local socket'})"


def live_replicas(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    """The ids of the ledger's replicas whose lease another session holds now (sorted)."""
    held = {
        (int(str(classid)), int(str(objid)))
        for classid, objid in conn.execute(
            "SELECT classid, objid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
    }
    replicas = conn.execute("SELECT replica FROM replicas ORDER BY replica").fetchall()
    return [str(replica) for (replica,) in replicas if _lock_ids(lock_key(f"replica:{replica}")) in held]
