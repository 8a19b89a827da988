"""The PostgreSQL ledger's statements.

A request's calls go in as one statement: column arrays unnested, `ON CONFLICT DO NOTHING` on the UNIQUE keys,
and the replica's cumulative totals and daily spend upserted from the rows actually inserted, in the same
statement (data-modifying CTEs), so the totals can never disagree with the rows. The statement returns the
span keys it inserted; any other span met a key already taken (by this request, by this replica earlier, or by
another replica) and goes through the careful path (calls.py). A conflicting row of a transaction still in
progress makes the insert wait for it, so what the careful path reads is committed.
"""

from __future__ import annotations

from typing import Final

from costline_processor.ledger.pg.schema import CALL_COLUMN_TYPES, CALL_COLUMNS
from costline_processor.ledger.rows import COUNTED_TOKENS_SQL, NS_PER_DAY
from costline_processor.ledger.schema import OUTCOME_COLUMNS, TOTALS_KEY, TOTALS_VALUES

# The columns a request supplies (the database assigns `seq`, the ledger adds `replica`).
SUPPLIED_COLUMNS: Final = tuple(c for c in CALL_COLUMNS if c not in ("seq", "replica"))
TOTALS_COLUMNS: Final = (*TOTALS_KEY, *TOTALS_VALUES, "first_seq", "first_time_ns")
_KEY: Final = ", ".join(TOTALS_KEY)
_ROLLUP_KEY: Final = (
    "workflow_id, feature_id, tenant_id, service_name, provider, model, status, COALESCE(unpriced_reason, '')"
)
# What a set of call rows adds to the totals, in TOTALS_VALUES order, then first_seq, first_time_ns.
ROLLUP_VALUES: Final = (
    "count(*),"
    + ",".join(
        f" COALESCE(sum({column}) FILTER (WHERE {COUNTED_TOKENS_SQL}), 0)"
        for column in ("tokens_input", "tokens_cache_read", "tokens_cache_write", "tokens_output")
    )
    + ","
    + ",".join(
        f" COALESCE(sum({column}), 0)"
        for column in ("cost_input", "cost_cache_read", "cost_cache_write", "cost_output")
    )
    + ", min(seq), min(time_ns)"
)
ROLLUP_SELECT: Final = (
    f"SELECT {_ROLLUP_KEY}, {ROLLUP_VALUES} FROM calls WHERE {{where}} GROUP BY {_ROLLUP_KEY}"
)


def totals_upsert(table: str) -> str:
    """`ON CONFLICT` clause adding a row's values to the `table` row with the same replica and key."""
    updates = ", ".join(f"{column} = {table}.{column} + excluded.{column}" for column in TOTALS_VALUES)
    return f"ON CONFLICT (replica, {_KEY}) DO UPDATE SET {updates}"


def _unnest(columns: tuple[str, ...], types: dict[str, str]) -> str:
    # Binary parameters (%b): psycopg dumps a list of 512 values ~4x faster than as array text.
    arrays = ", ".join(f"%({column})b::{types[column].split()[0].lower()}[]" for column in columns)
    return f"unnest({arrays}) WITH ORDINALITY AS r({', '.join(columns)}, ord)"


_SUPPLIED: Final = ", ".join(SUPPLIED_COLUMNS)
INSERT_CALLS: Final = f"""
WITH new AS (
    INSERT INTO calls (seq, replica, {_SUPPLIED})
    SELECT nextval('ledger_seq'), %(replica)s, {_SUPPLIED} FROM {_unnest(SUPPLIED_COLUMNS, CALL_COLUMN_TYPES)}
    ORDER BY ord
    ON CONFLICT DO NOTHING
    RETURNING *
), totals AS (
    INSERT INTO call_totals (replica, {", ".join(TOTALS_COLUMNS)})
    SELECT %(replica)s, {_ROLLUP_KEY}, {ROLLUP_VALUES} FROM new GROUP BY {_ROLLUP_KEY}
    {totals_upsert("call_totals")}
), daily AS (
    INSERT INTO daily_spend (replica, day, workflow_id, feature_id, tenant_id, cost)
    SELECT %(replica)s, time_ns / {NS_PER_DAY}, workflow_id, feature_id, tenant_id, sum(cost_total) FROM new
    WHERE cost_total IS NOT NULL GROUP BY 2, 3, 4, 5
    ON CONFLICT (replica, day, workflow_id, feature_id, tenant_id)
    DO UPDATE SET cost = daily_spend.cost + excluded.cost
)
SELECT span_key FROM new
"""
# The other replicas' spend per day and attribution (schema version 3), for a writer's budgets.
OTHERS_SPEND_BY_DAY: Final = (
    "SELECT day, workflow_id, feature_id, tenant_id, sum(cost) FROM daily_spend"
    " WHERE day >= %s AND day < %s AND replica <> %s GROUP BY 1, 2, 3, 4"
)

_OUTCOME_TYPES: Final = {
    "time_ns": "BIGINT", "span_key": "BYTEA", "trace_id": "BYTEA", "span_id": "BYTEA", "workflow_id": "TEXT",
    "outcome": "TEXT", "count": "BIGINT", "service_name": "TEXT", "received_ns": "BIGINT",
}  # fmt: skip
OUTCOME_SUPPLIED: Final = tuple(c for c in OUTCOME_COLUMNS if c != "seq")
INSERT_OUTCOMES: Final = f"""
WITH new AS (
    INSERT INTO outcomes (seq, replica, {", ".join(OUTCOME_SUPPLIED)})
    SELECT nextval('ledger_seq'), %(replica)s, {", ".join(OUTCOME_SUPPLIED)}
    FROM {_unnest(OUTCOME_SUPPLIED, _OUTCOME_TYPES)} ORDER BY ord
    ON CONFLICT DO NOTHING
    RETURNING *
), totals AS (
    INSERT INTO outcome_totals (replica, workflow_id, outcome, count, first_seq, first_time_ns)
    SELECT %(replica)s, workflow_id, outcome, sum(count), min(seq), min(time_ns) FROM new
    GROUP BY workflow_id, outcome
    ON CONFLICT (replica, workflow_id, outcome) DO UPDATE SET count = outcome_totals.count + excluded.count
)
SELECT span_key FROM new
"""

# A span (or outcome) seen again: retention keeps its row, and so its dedupe key, from now on. Never
# backwards: replicas' clocks differ a little.
MARK_RECEIVED: Final = "UPDATE {table} SET received_ns = GREATEST(received_ns, %s) WHERE seq = ANY(%s)"
