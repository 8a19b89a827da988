"""Opening a test's ledger the way `costline serve` does, on either backend (fixture `ledger_url`)."""

from __future__ import annotations

import psycopg

from costline_processor.ledger import LedgerStore, open_ledger, parse_ledger_url
from costline_processor.ledger.store import Ledger

BACKENDS = ("sqlite", "postgresql")
REPLICA = "test-replica"


def open_writer(url: str, *, retention_days: int = 400, replica_id: str = REPLICA) -> LedgerStore:
    """The ledger at `url` as a writer (replica `replica_id` of a PostgreSQL ledger)."""
    return open_ledger(url, retention_days=retention_days, read_only=False, replica_id=replica_id)


def is_postgres(url: str) -> bool:
    return parse_ledger_url(url).kind == "postgresql"


def execute_raw(ledger: LedgerStore, url: str, sql: str) -> None:
    """Change the stored rows behind the ledger's back (to prove a check notices)."""
    if isinstance(ledger, Ledger):
        ledger.conn.execute(sql)
        return
    with psycopg.connect(parse_ledger_url(url).target, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[call-overload]


def fetch_raw(ledger: LedgerStore, url: str, sql: str) -> list[tuple[object, ...]]:
    """Rows of the backend's own tables, read behind the ledger's interface."""
    if isinstance(ledger, Ledger):
        return list(ledger.conn.execute(sql).fetchall())
    with psycopg.connect(parse_ledger_url(url).target, autocommit=True) as conn:
        return list(conn.execute(sql).fetchall())  # type: ignore[call-overload]


def back_to_version(url: str, version: int) -> None:
    """Make a current ledger what an earlier release left (its calls as that release stored them)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE daily_spend")  # version 3
        if version < 2:  # version 1's span keys: trace id || span id
            conn.execute("UPDATE calls SET span_key = substr(span_key, 9)")
        conn.execute("UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(version),))
