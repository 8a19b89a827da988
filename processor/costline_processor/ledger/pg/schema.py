"""The PostgreSQL ledger's schema and its versioned migrations.

The tables mirror the SQLite ledger's (schema.py), with three differences:
- every call, outcome and cumulative total carries `replica`, the `service.instance.id` of the
  `costline serve` that recorded it: each replica's counters are its own share of the shared ledger;
- money is NUMERIC (exact decimal, summed exactly by the database), not decimal text;
- the totals are updated in the same transaction as the rows (no checkpoint to replay after a crash).

The UNIQUE keys `span_key` (start time || trace id || span id: rows.span_key_of) and `call_key` (trace id
|| response id) are what makes a redelivered span, or a call seen on two spans, count once across every
replica.

Migrations only ever append: `MIGRATIONS[n]` turns a version n-1 ledger into version n; a new ledger runs
them all. They run at start-up (or by `costline ledger migrate`) under a transaction-level advisory lock,
so replicas starting together migrate once; DDL is transactional, so a failed migration leaves no trace.
"""

from __future__ import annotations

import time
import uuid
from typing import Final

import psycopg

from costline_processor.ledger.errors import LedgerSchemaError
from costline_processor.ledger.pg.locks import MIGRATE_LOCK, live_replicas
from costline_processor.ledger.rows import NS_PER_DAY
from costline_processor.ledger.schema import TOTALS_KEY

SCHEMA_VERSION: Final = 3

CALL_COLUMN_TYPES: Final = {
    "seq": "BIGINT PRIMARY KEY",
    "time_ns": "BIGINT NOT NULL", "end_time_ns": "BIGINT NOT NULL",
    "span_key": "BYTEA NOT NULL UNIQUE", "call_key": "BYTEA UNIQUE",
    "workflow_id": "TEXT NOT NULL", "feature_id": "TEXT NOT NULL", "tenant_id": "TEXT NOT NULL",
    "service_name": "TEXT NOT NULL", "provider": "TEXT NOT NULL", "model": "TEXT NOT NULL",
    "user_id": "TEXT", "service_instance_id": "TEXT", "request_model": "TEXT", "operation": "TEXT",
    "service_tier": "TEXT", "batch": "SMALLINT NOT NULL", "status": "TEXT NOT NULL",
    "tokens_input": "BIGINT", "tokens_cache_read": "BIGINT", "tokens_cache_write": "BIGINT",
    "tokens_cache_write_1h": "BIGINT", "tokens_output": "BIGINT", "tokens_reasoning": "BIGINT",
    "cost_input": "NUMERIC", "cost_cache_read": "NUMERIC", "cost_cache_write": "NUMERIC",
    "cost_output": "NUMERIC", "cost_total": "NUMERIC", "pricing_source": "TEXT",
    "unpriced_reason": "TEXT", "unpriced_detail": "TEXT", "usage_error": "TEXT",
    "estimated": "SMALLINT NOT NULL", "error_type": "TEXT", "source": "TEXT NOT NULL",
    "received_ns": "BIGINT NOT NULL", "shared_call_key": "BYTEA",
    "replica": "TEXT NOT NULL",
}  # fmt: skip
CALL_COLUMNS: Final = tuple(CALL_COLUMN_TYPES)

_TOTALS_BODY: Final = f"""(
    replica TEXT NOT NULL,
    workflow_id TEXT NOT NULL, feature_id TEXT NOT NULL, tenant_id TEXT NOT NULL,
    service_name TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT NOT NULL,
    requests BIGINT NOT NULL,
    tokens_input BIGINT NOT NULL, tokens_cache_read BIGINT NOT NULL,
    tokens_cache_write BIGINT NOT NULL, tokens_output BIGINT NOT NULL,
    cost_input NUMERIC NOT NULL, cost_cache_read NUMERIC NOT NULL, cost_cache_write NUMERIC NOT NULL,
    cost_output NUMERIC NOT NULL,
    first_seq BIGINT NOT NULL, first_time_ns BIGINT NOT NULL,
    PRIMARY KEY (replica, {", ".join(TOTALS_KEY)})
)"""
_OUTCOME_TOTALS_BODY: Final = """(
    replica TEXT NOT NULL, workflow_id TEXT NOT NULL, outcome TEXT NOT NULL, count BIGINT NOT NULL,
    first_seq BIGINT NOT NULL, first_time_ns BIGINT NOT NULL,
    PRIMARY KEY (replica, workflow_id, outcome)
)"""

_V1: Final = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE replicas (
    replica TEXT PRIMARY KEY, created_ns BIGINT NOT NULL, first_record_ns BIGINT, opened_ns BIGINT NOT NULL
);
CREATE SEQUENCE ledger_seq;
CREATE TABLE calls ({", ".join(f"{name} {kind}" for name, kind in CALL_COLUMN_TYPES.items())});
CREATE INDEX calls_time ON calls (time_ns);
CREATE INDEX calls_shared_call_key ON calls (shared_call_key) WHERE shared_call_key IS NOT NULL;
CREATE TABLE outcomes (
    seq BIGINT PRIMARY KEY, time_ns BIGINT NOT NULL, span_key BYTEA NOT NULL UNIQUE,
    trace_id BYTEA NOT NULL, span_id BYTEA NOT NULL,
    workflow_id TEXT NOT NULL, outcome TEXT NOT NULL, count BIGINT NOT NULL, service_name TEXT NOT NULL,
    received_ns BIGINT NOT NULL, replica TEXT NOT NULL
);
CREATE INDEX outcomes_time ON outcomes (time_ns);
CREATE TABLE call_totals {_TOTALS_BODY};
CREATE TABLE purged_call_totals {_TOTALS_BODY};
CREATE TABLE outcome_totals {_OUTCOME_TOTALS_BODY};
CREATE TABLE purged_outcome_totals {_OUTCOME_TOTALS_BODY}
"""

# Version 2: a call's span_key starts with its span's start time, as on SQLite (schema.py, version 3).
_V2: Final = "UPDATE calls SET span_key = int8send(time_ns) || span_key"  # time_ns >= 0: unsigned bytes

# Version 3: each replica's priced spend per UTC day and attribution (what budgets count), kept by the
# statement that inserts the calls (sql.INSERT_CALLS), so a replica reads the other replicas' spend for
# `GET /v1/budgets` from a table of (days x scopes) rows instead of scanning the month's calls.
_V3: Final = f"""
CREATE TABLE daily_spend (
    replica TEXT NOT NULL, day BIGINT NOT NULL,
    workflow_id TEXT NOT NULL, feature_id TEXT NOT NULL, tenant_id TEXT NOT NULL, cost NUMERIC NOT NULL,
    PRIMARY KEY (replica, day, workflow_id, feature_id, tenant_id)
);
INSERT INTO daily_spend
SELECT replica, time_ns / {NS_PER_DAY}, workflow_id, feature_id, tenant_id, sum(cost_total) FROM calls
WHERE cost_total IS NOT NULL GROUP BY 1, 2, 3, 4, 5
"""

MIGRATIONS: Final = {1: _V1, 2: _V2, 3: _V3}
# Upgrades to these versions change how a call is recorded: a replica of the previous release still writing
# would record its calls the old way (2: keyed so that this release would not recognise its spans, nor it
# this release's; 3: without their daily spend). They run only while no other replica is connected.
NEEDS_WRITERS_STOPPED: Final = frozenset({2, 3})


def schema_version(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """The ledger's schema version: 0 for an empty database; raises for a newer or a foreign schema."""
    found = conn.execute(
        "SELECT to_regclass('meta') IS NOT NULL, to_regclass('calls') IS NOT NULL"
    ).fetchone()
    has_meta, has_calls = found if found is not None else (False, False)
    if not has_meta:
        if has_calls:
            raise LedgerSchemaError("the database has a `calls` table that is not a costline ledger's")
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise LedgerSchemaError("the database has a `meta` table that is not a costline ledger's")
    version = int(str(row[0]))
    if version > SCHEMA_VERSION:
        raise LedgerSchemaError(
            f"ledger schema version {version} is newer than this costline supports ({SCHEMA_VERSION})"
        )
    return version


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> tuple[int, int]:
    """Create or upgrade the schema to SCHEMA_VERSION in one transaction; returns (from, to) versions."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))  # one migrator at a time
        version = schema_version(conn)  # read under the lock: another replica may have just migrated
        if version and NEEDS_WRITERS_STOPPED.intersection(range(version + 1, SCHEMA_VERSION + 1)):
            _refuse_while_replicas_write(conn, version)
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target].split(";"):
                if statement.strip():
                    conn.execute(statement.encode())
        if version == 0:
            identity = {"instance_id": uuid.uuid4().hex, "created_ns": str(time.time_ns())}
            for key, value in identity.items():
                conn.execute("INSERT INTO meta VALUES (%s, %s)", (key, value))
        conn.execute(
            "INSERT INTO meta VALUES ('schema_version', %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )
    return version, SCHEMA_VERSION


def _refuse_while_replicas_write(conn: psycopg.Connection[tuple[object, ...]], version: int) -> None:
    live = live_replicas(conn)
    if live:
        raise LedgerSchemaError(
            f"upgrading the ledger from schema version {version} to {SCHEMA_VERSION} changes how calls are"
            f" recorded, and replicas are still writing it ({', '.join(live)}): stop every replica of the"
            " previous costline first, then start this one (or run `costline ledger migrate`)"
        )


def require_current(conn: psycopg.Connection[tuple[object, ...]], location: str) -> None:
    """A reader reads only a current schema (a writer or `costline ledger migrate` upgrades it)."""
    version = schema_version(conn)
    if version == 0:
        raise LedgerSchemaError(f"{location} holds no costline ledger yet (costline serve creates it)")
    if version < SCHEMA_VERSION:
        raise LedgerSchemaError(
            f"{location} has ledger schema version {version}; this costline reads version {SCHEMA_VERSION}."
            " Run `costline ledger migrate` or start this costline serve on it to upgrade it"
        )
