"""Retention and the consistency check of a PostgreSQL ledger (inside a caller's transaction).

Any replica may purge, all replicas' rows: one at a time (a transaction-level advisory lock; a replica that
finds it taken leaves the purge to the other). Deleted rows roll into the `purged_*` totals of the replica
that recorded them, in the same statement as the delete, so `verify()` holds at every commit. The daily
spend of the days before the cutoff goes too.
"""

from __future__ import annotations

from typing import Final

from costline_processor.ledger.consistency import call_total_problems, outcome_total_problems
from costline_processor.ledger.pg.connection import Connection
from costline_processor.ledger.pg.locks import PURGE_LOCK
from costline_processor.ledger.pg.sql import ROLLUP_VALUES, TOTALS_COLUMNS, totals_upsert
from costline_processor.ledger.rows import MAX_START_AHEAD_NS, NS_PER_DAY, Aggregate
from costline_processor.ledger.sql import aggregate_from_row

PURGE_CHUNK: Final = 20_000
_KEY: Final = (
    "replica, workflow_id, feature_id, tenant_id, service_name, provider, model, status,"
    " COALESCE(unpriced_reason, '')"
)
# By the time a row's span last arrived, found through the time index (time_ns <= received_ns + a day).
_OLD: Final = (
    f"seq IN (SELECT seq FROM {{table}} WHERE time_ns < %(cutoff)s + {MAX_START_AHEAD_NS}"
    f" AND received_ns < %(cutoff)s ORDER BY time_ns LIMIT {PURGE_CHUNK})"
)
_PURGE_CALLS: Final = f"""
WITH gone AS (
    DELETE FROM calls WHERE {_OLD.format(table="calls")} RETURNING *
), rolled AS (
    INSERT INTO purged_call_totals (replica, {", ".join(TOTALS_COLUMNS)})
    SELECT {_KEY}, {ROLLUP_VALUES} FROM gone GROUP BY {_KEY}
    {totals_upsert("purged_call_totals")}
)
SELECT count(*), COALESCE(array_agg(call_key) FILTER (WHERE call_key IS NOT NULL), '{{}}') FROM gone
"""
# A purged call's (trace, response id) passes to the oldest remaining call that shares it, so the UNIQUE
# call_key keeps sending every later span with that id to the careful path.
_PROMOTE: Final = (
    "UPDATE calls SET call_key = shared_call_key, shared_call_key = NULL WHERE seq IN"
    " (SELECT min(seq) FROM calls WHERE shared_call_key = ANY(%s) GROUP BY shared_call_key)"
)
_PURGE_OUTCOMES: Final = f"""
WITH gone AS (
    DELETE FROM outcomes WHERE {_OLD.format(table="outcomes")} RETURNING *
), rolled AS (
    INSERT INTO purged_outcome_totals (replica, workflow_id, outcome, count, first_seq, first_time_ns)
    SELECT replica, workflow_id, outcome, sum(count), min(seq), min(time_ns) FROM gone
    GROUP BY replica, workflow_id, outcome
    ON CONFLICT (replica, workflow_id, outcome)
    DO UPDATE SET count = purged_outcome_totals.count + excluded.count
)
SELECT count(*) FROM gone
"""


def purge_chunk(conn: Connection, cutoff_ns: int) -> tuple[int, int] | None:
    """Delete up to PURGE_CHUNK old calls and outcomes; None when another replica is purging."""
    row = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (PURGE_LOCK,)).fetchone()
    if row is None or not row[0]:
        return None
    found = conn.execute(_PURGE_CALLS, {"cutoff": cutoff_ns}).fetchone()
    calls, call_keys = (int(found[0]), list(found[1])) if found is not None else (0, [])  # type: ignore[call-overload]
    if call_keys:
        conn.execute(_PROMOTE, (call_keys,))
    gone = conn.execute(_PURGE_OUTCOMES, {"cutoff": cutoff_ns}).fetchone()
    # Budgets read only their current period, which the retention keeps (budgets.retention_problem).
    conn.execute("DELETE FROM daily_spend WHERE day < %s", (cutoff_ns // NS_PER_DAY,))
    return calls, int(gone[0]) if gone is not None else 0  # type: ignore[call-overload]


def _keyed(rows: list[tuple[object, ...]]) -> list[tuple[tuple[object, ...], Aggregate]]:
    """(replica, label key, status, reason) and the aggregate of rows (replica, TOTALS_COLUMNS...)."""
    keyed: list[tuple[tuple[object, ...], Aggregate]] = []
    for row in rows:
        aggregate = aggregate_from_row(row[1:])
        keyed.append(((row[0], aggregate.labels, aggregate.status, aggregate.reason), aggregate))
    return keyed


def verify(conn: Connection) -> list[str]:
    """Every replica's cumulative totals equal its purged roll-ups plus its stored rows, exactly."""
    columns = f"replica, {', '.join(TOTALS_COLUMNS)}"
    totals = conn.execute(f"SELECT {columns} FROM call_totals").fetchall()
    purged = conn.execute(f"SELECT {columns} FROM purged_call_totals").fetchall()
    stored = conn.execute(f"SELECT {_KEY}, {ROLLUP_VALUES} FROM calls GROUP BY {_KEY}").fetchall()
    problems = call_total_problems(_keyed(totals), _keyed([*purged, *stored]))
    key = "replica || '/' || workflow_id || '/' || outcome"
    outcome_totals = conn.execute(f"SELECT {key}, count FROM outcome_totals").fetchall()
    outcome_parts = conn.execute(
        f"SELECT {key}, count FROM purged_outcome_totals UNION ALL SELECT {key}, count FROM outcomes"
    ).fetchall()
    return problems + outcome_total_problems(outcome_totals, outcome_parts)  # type: ignore[arg-type]
