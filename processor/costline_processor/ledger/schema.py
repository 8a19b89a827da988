"""The ledger's SQLite schema, its connection settings and its migrations.

One row per LLM call (`calls`) and per business outcome (`outcomes`), plus cumulative totals per metric
label set (`call_totals`, `outcome_totals`) updated in the same transaction as the rows. Retention deletes
rows by the time they were last received (`received_ns`, the ledger's clock, never the sender's) but never
touches the cumulative totals, so counters seeded from them never go backwards; what a purge removed is
rolled into `purged_*` so `Ledger.verify()` can prove totals == purged + remaining rows.

Migrations only ever append: `MIGRATIONS[n]` turns a version n-1 ledger into version n, and a new ledger is
created by running them all, so an upgraded ledger and a new one have the same schema.

Money is stored as exact decimal strings (never REAL); sums are done with Decimal, in Python or through the
`dec_add`/`dec_sum` SQL functions the connection registers.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Final

from costline_processor.ledger.errors import LedgerLockedError, LedgerSchemaError
from costline_processor.ledger.rows import (
    MAX_START_AHEAD_NS,
    MONEY_CONTEXT,
    SPAN_ID_SQL,
    TRACE_ID_SQL,
    ZERO,
    money,
    time_prefixed,
)

__all__ = ["LedgerLockedError", "LedgerSchemaError", "connect", "migrate", "read_meta", "version_of"]

SCHEMA_VERSION: Final = 3
CACHE_KIB: Final = 64 * 1024  # SQLite page cache per connection (default 2 MiB)
WAL_CHECKPOINT_PAGES: Final = 10_000  # ~40 MiB of WAL between automatic checkpoints (default 1000 pages)

# Order matters: rows.call_row() produces values in this order.
CALL_COLUMNS: Final = (
    "seq", "time_ns", "end_time_ns", "span_key", "call_key",
    "workflow_id", "feature_id", "tenant_id", "service_name", "provider", "model",
    "user_id", "service_instance_id", "request_model", "operation", "service_tier", "batch", "status",
    "tokens_input", "tokens_cache_read", "tokens_cache_write", "tokens_cache_write_1h", "tokens_output",
    "tokens_reasoning",
    "cost_input", "cost_cache_read", "cost_cache_write", "cost_output", "cost_total", "pricing_source",
    "unpriced_reason", "unpriced_detail", "usage_error", "estimated", "error_type", "source",
    "received_ns", "shared_call_key",
)  # fmt: skip
# What reports read: the ids split out of the keys (rows.span_key_of, trace_id || response_id).
CALL_VIEW_COLUMNS: Final = (
    f"{TRACE_ID_SQL} AS trace_id", f"{SPAN_ID_SQL} AS span_id",
    "CAST(substr(COALESCE(call_key, shared_call_key), 17) AS TEXT) AS response_id",
)  # fmt: skip

TOTALS_KEY: Final = (
    "workflow_id", "feature_id", "tenant_id", "service_name", "provider", "model", "status", "reason",
)  # fmt: skip
TOTALS_VALUES: Final = (
    "requests", "tokens_input", "tokens_cache_read", "tokens_cache_write", "tokens_output",
    "cost_input", "cost_cache_read", "cost_cache_write", "cost_output",
)  # fmt: skip
OUTCOME_COLUMNS: Final = (
    "seq", "time_ns", "span_key", "trace_id", "span_id", "workflow_id", "outcome", "count", "service_name",
    "received_ns",
)  # fmt: skip

_TOTALS_BODY: Final = """(
    workflow_id TEXT NOT NULL, feature_id TEXT NOT NULL, tenant_id TEXT NOT NULL,
    service_name TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT NOT NULL,
    requests INTEGER NOT NULL,
    tokens_input INTEGER NOT NULL, tokens_cache_read INTEGER NOT NULL,
    tokens_cache_write INTEGER NOT NULL, tokens_output INTEGER NOT NULL,
    cost_input TEXT NOT NULL, cost_cache_read TEXT NOT NULL, cost_cache_write TEXT NOT NULL,
    cost_output TEXT NOT NULL,
    first_seq INTEGER NOT NULL, first_time_ns INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, feature_id, tenant_id, service_name, provider, model, status, reason)
)"""

_OUTCOME_TOTALS_BODY: Final = """(
    workflow_id TEXT NOT NULL, outcome TEXT NOT NULL, count INTEGER NOT NULL,
    first_seq INTEGER NOT NULL, first_time_ns INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, outcome)
)"""

_V1: Final = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE calls (
    seq INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL, end_time_ns INTEGER NOT NULL,
    span_key BLOB NOT NULL UNIQUE,  -- trace_id || span_id: a redelivered span
    call_key BLOB UNIQUE,           -- trace_id || response_id (UTF-8): the same call on a second span
    workflow_id TEXT NOT NULL, feature_id TEXT NOT NULL, tenant_id TEXT NOT NULL,
    service_name TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
    user_id TEXT, service_instance_id TEXT, request_model TEXT, operation TEXT, service_tier TEXT,
    batch INTEGER NOT NULL, status TEXT NOT NULL,
    tokens_input INTEGER, tokens_cache_read INTEGER, tokens_cache_write INTEGER,
    tokens_cache_write_1h INTEGER, tokens_output INTEGER, tokens_reasoning INTEGER,
    cost_input TEXT, cost_cache_read TEXT, cost_cache_write TEXT, cost_output TEXT, cost_total TEXT,
    pricing_source TEXT, unpriced_reason TEXT, unpriced_detail TEXT, usage_error TEXT,
    estimated INTEGER NOT NULL, error_type TEXT, source TEXT NOT NULL
);
CREATE INDEX calls_time ON calls (time_ns);
CREATE TABLE outcomes (
    seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, span_key BLOB NOT NULL UNIQUE,
    trace_id BLOB NOT NULL, span_id BLOB NOT NULL,
    workflow_id TEXT NOT NULL, outcome TEXT NOT NULL, count INTEGER NOT NULL, service_name TEXT NOT NULL
);
CREATE INDEX outcomes_time ON outcomes (time_ns);
CREATE TABLE call_totals {_TOTALS_BODY};
CREATE TABLE purged_call_totals {_TOTALS_BODY};
CREATE TABLE outcome_totals {_OUTCOME_TOTALS_BODY};
CREATE TABLE purged_outcome_totals {_OUTCOME_TOTALS_BODY};
"""

# Version 2: retention by receive time, and calls that share a (trace, response id).
# - `received_ns`: when the span last arrived; retention purges by it (a sender's start time of 0 once made
#   a row, and so its dedupe key, vanish within the hour). Rows of an older ledger get their start time,
#   kept between the ledger's creation and now: the closest estimate of when they arrived.
# - `time_ns` is never more than MAX_START_AHEAD_NS after `received_ns` (rows.Arrival), so the purge finds
#   its rows through the `*_time` indexes and needs no index of its own on the hot path; an older row
#   further ahead is placed at its estimated arrival, as a new one would be.
# - `shared_call_key`: a different call with a (trace, response id) another row already holds (servers
#   that repeat ids); `call_key` stays UNIQUE, so an all-new request still needs no lookup.
_RECEIVED_ESTIMATE: Final = (
    "MIN(MAX(time_ns, COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'created_ns'), 0)),"
    " CAST(strftime('%s', 'now') AS INTEGER) * 1000000000)"
)
_V2: Final = f"""
ALTER TABLE calls ADD COLUMN received_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN shared_call_key BLOB;
UPDATE calls SET received_ns = {_RECEIVED_ESTIMATE};
UPDATE calls SET time_ns = received_ns, end_time_ns = received_ns
    WHERE time_ns > received_ns + {MAX_START_AHEAD_NS};
CREATE INDEX calls_shared_call_key ON calls (shared_call_key) WHERE shared_call_key IS NOT NULL;
ALTER TABLE outcomes ADD COLUMN received_ns INTEGER NOT NULL DEFAULT 0;
UPDATE outcomes SET received_ns = {_RECEIVED_ESTIMATE};
UPDATE outcomes SET time_ns = received_ns WHERE time_ns > received_ns + {MAX_START_AHEAD_NS};
"""

# Version 3: a call's span_key starts with its span's start time (rows.span_key_of), so that inserts land
# at the end of its UNIQUE index instead of all over it. A stored row's start time as sent is its `time_ns`
# unless that was out of range (then `time_ns` is its arrival): such a span, if redelivered after the
# upgrade, is not recognised by its span_key; its call_key (response id) still recognises it when it has one.
_V3: Final = "UPDATE calls SET span_key = time_prefixed(time_ns, span_key)"

MIGRATIONS: Final = {1: _V1, 2: _V2, 3: _V3}


def _dec_add(left: str, right: str) -> str:
    return money(MONEY_CONTEXT.add(Decimal(left), Decimal(right)))


class _DecSum:
    """SQL aggregate `dec_sum(text)`: the exact Decimal sum of decimal strings (NULL counts as 0)."""

    def __init__(self) -> None:
        self.total = ZERO

    def step(self, value: str | None) -> None:
        if value is not None:
            self.total = MONEY_CONTEXT.add(self.total, Decimal(value))

    def finalize(self) -> str:
        return money(self.total)


def connect(path: str, *, synchronous: str) -> sqlite3.Connection:
    """Open the ledger in WAL mode with explicit transactions (autocommit off at the sqlite3 level)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=256)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=10000")
    # Dedupe keys (trace ids) are random: every request's rows land on ~1000 different index pages. A
    # larger page cache keeps the indexes' upper levels and hot leaves in memory instead of re-reading them,
    # and checkpointing the WAL less often writes a page touched by many commits to the file once.
    # Durability is unchanged: each commit still fsyncs the WAL (synchronous=FULL).
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.create_function("dec_add", 2, _dec_add, deterministic=True)
    conn.create_aggregate("dec_sum", 1, _DecSum)  # type: ignore[arg-type]  # typeshed wants a protocol
    conn.create_function("time_prefixed", 2, time_prefixed, deterministic=True)  # migration 3
    return conn


def read_meta(conn: sqlite3.Connection, path: object) -> dict[str, str]:
    """The ledger's identity and checkpoint (what a read-only opener needs); its schema must be current."""
    version = _version(conn)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.OperationalError as exc:
        raise LedgerSchemaError(f"{path} is not a costline ledger ({exc})") from exc
    if version < SCHEMA_VERSION:
        raise LedgerSchemaError(
            f"{path} has ledger schema version {version}; this costline reads version {SCHEMA_VERSION}."
            " A writer upgrades it when it opens it: stop the older costline writing it and start this one"
        )
    return meta


def version_of(conn: sqlite3.Connection) -> int:
    """The file's schema version (0: not a ledger yet); raises LedgerSchemaError for a newer one."""
    return _version(conn)


def _version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise LedgerSchemaError(
            f"ledger schema version {version} is newer than this costline supports ({SCHEMA_VERSION})"
        )
    return version


def migrate(conn: sqlite3.Connection) -> tuple[int, int]:
    """Create or upgrade the schema to SCHEMA_VERSION in one transaction; returns (from, to) versions."""
    version = _version(conn)
    if version == SCHEMA_VERSION:
        return version, version
    conn.execute("BEGIN IMMEDIATE")
    try:
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target].split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return version, SCHEMA_VERSION
