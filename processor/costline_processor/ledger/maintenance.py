"""Ledger work that runs inside a caller's transaction: crash replay, retention, consistency check."""

from __future__ import annotations

import sqlite3
from typing import Final

from costline_processor.ledger.consistency import call_total_problems, outcome_total_problems
from costline_processor.ledger.rows import MAX_START_AHEAD_NS, Aggregate, LabelKey
from costline_processor.ledger.sql import (
    LOOKUP_CHUNK,
    ROLLUP_SELECT,
    TOTALS_COLUMNS,
    aggregate_from_row,
    outcome_upsert,
    totals_upsert,
)

PURGE_CHUNK: Final = 20_000  # rows per purge transaction: keeps writers from waiting long
# By the time a row's span last arrived (the ledger's clock), never by the time the sender put on it. A row's
# time_ns is at most MAX_START_AHEAD_NS after its received_ns (rows.Arrival), so the rows to purge are found
# through the time index: no index on received_ns to update for every call inserted.
_CHUNK: Final = (
    f"seq IN (SELECT seq FROM {{table}} WHERE time_ns < ? + {MAX_START_AHEAD_NS} AND received_ns < ?"
    f" ORDER BY time_ns LIMIT {PURGE_CHUNK})"
)
# A purged call's (trace, response id) passes to the oldest remaining call that shares it, so the UNIQUE
# call_key keeps sending every later span with that id to the careful path (calls.py).
_PROMOTE: Final = (
    "UPDATE calls SET call_key = shared_call_key, shared_call_key = NULL WHERE seq IN"
    " (SELECT MIN(seq) FROM calls WHERE shared_call_key IN ({keys}) GROUP BY shared_call_key)"
)


def replay_after(conn: sqlite3.Connection, checkpoint_seq: int) -> None:
    """Roll the rows written after the last checkpoint into the totals (after a crash or kill -9)."""
    rows = conn.execute(ROLLUP_SELECT.format(where="seq > ?"), (checkpoint_seq,)).fetchall()
    conn.executemany(totals_upsert("call_totals"), rows)


def aggregates_with_uncheckpointed(conn: sqlite3.Connection) -> list[Aggregate]:
    """The totals plus the calls a live writer has not checkpointed yet (what a read-only Ledger sees)."""
    checkpoint = conn.execute("SELECT value FROM meta WHERE key = 'checkpoint_seq'").fetchone()
    totals = conn.execute(f"SELECT {', '.join(TOTALS_COLUMNS)} FROM call_totals").fetchall()
    recent = conn.execute(ROLLUP_SELECT.format(where="seq > ?"), (int(checkpoint[0]) if checkpoint else 0,))
    merged: dict[tuple[LabelKey, str, str], Aggregate] = {}
    for agg in map(aggregate_from_row, [*totals, *recent.fetchall()]):
        key = (agg.labels, agg.status, agg.reason)
        if key in merged:
            merged[key].merge(agg)
        else:
            merged[key] = agg
    return sorted(merged.values(), key=lambda agg: agg.first_seq)


def purge_chunk(conn: sqlite3.Connection, cutoff_ns: int) -> tuple[int, int]:
    """Delete up to PURGE_CHUNK old calls and outcomes, rolling them into the `purged_*` totals first."""
    params = (cutoff_ns, cutoff_ns)
    where = _CHUNK.format(table="calls")
    rows = conn.execute(ROLLUP_SELECT.format(where=where), params).fetchall()
    conn.executemany(totals_upsert("purged_call_totals"), rows)
    call_keys = [key for (key,) in conn.execute(f"SELECT call_key FROM calls WHERE {where}", params) if key]
    calls = conn.execute(f"DELETE FROM calls WHERE {where}", params).rowcount
    _promote_shared_keys(conn, call_keys)
    where = _CHUNK.format(table="outcomes")
    rollup = (
        "SELECT workflow_id, outcome, SUM(count), MIN(seq), MIN(time_ns) FROM outcomes"
        f" WHERE {where} GROUP BY workflow_id, outcome"
    )
    conn.executemany(outcome_upsert("purged_outcome_totals"), conn.execute(rollup, params).fetchall())
    outcomes = conn.execute(f"DELETE FROM outcomes WHERE {where}", params).rowcount
    return calls, outcomes


def _promote_shared_keys(conn: sqlite3.Connection, call_keys: list[bytes]) -> None:
    for start in range(0, len(call_keys), LOOKUP_CHUNK):
        chunk = call_keys[start : start + LOOKUP_CHUNK]
        conn.execute(_PROMOTE.format(keys=", ".join("?" * len(chunk))), chunk)


def verify(conn: sqlite3.Connection) -> list[str]:
    """Every cumulative total must equal its purged roll-up plus its stored rows, exactly."""
    columns = ", ".join(TOTALS_COLUMNS)
    totals = map(aggregate_from_row, conn.execute(f"SELECT {columns} FROM call_totals").fetchall())
    purged = conn.execute(f"SELECT {columns} FROM purged_call_totals").fetchall()
    stored = conn.execute(ROLLUP_SELECT.format(where="1")).fetchall()
    problems = call_total_problems(
        (((a.labels, a.status, a.reason), a) for a in totals),
        (((a.labels, a.status, a.reason), a) for a in map(aggregate_from_row, [*purged, *stored])),
    )
    key = "workflow_id || '/' || outcome"
    outcome_totals = conn.execute(f"SELECT {key}, count FROM outcome_totals").fetchall()
    outcome_parts = conn.execute(
        f"SELECT {key}, count FROM purged_outcome_totals UNION ALL SELECT {key}, count FROM outcomes"
    ).fetchall()
    return problems + outcome_total_problems(outcome_totals, outcome_parts)
