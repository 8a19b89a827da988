"""The ledger's SQL statements and the mapping between `Aggregate` and a totals row."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Final

from costline_processor.ledger import schema
from costline_processor.ledger.rows import COUNTED_TOKENS_SQL, Aggregate, LabelKey, money

LOOKUP_CHUNK: Final = 256
TOTALS_COLUMNS: Final = (*schema.TOTALS_KEY, *schema.TOTALS_VALUES, "first_seq", "first_time_ns")
UPSERT_SET: Final = ", ".join(
    f"{col} = dec_add({col}, excluded.{col})"
    if col.startswith("cost_")
    else f"{col} = {col} + excluded.{col}"
    for col in schema.TOTALS_VALUES
)
# Stored rows grouped by totals key, as they roll into the totals (a `{where}` template).
ROLLUP_SELECT: Final = (
    "SELECT workflow_id, feature_id, tenant_id, service_name, provider, model, status,"
    " COALESCE(unpriced_reason, ''), COUNT(*),"
    f" COALESCE(SUM(tokens_input * {COUNTED_TOKENS_SQL}), 0),"
    f" COALESCE(SUM(tokens_cache_read * {COUNTED_TOKENS_SQL}), 0),"
    f" COALESCE(SUM(tokens_cache_write * {COUNTED_TOKENS_SQL}), 0),"
    f" COALESCE(SUM(tokens_output * {COUNTED_TOKENS_SQL}), 0),"
    " dec_sum(cost_input), dec_sum(cost_cache_read), dec_sum(cost_cache_write), dec_sum(cost_output),"
    " MIN(seq), MIN(time_ns) FROM calls WHERE {where}"
    " GROUP BY workflow_id, feature_id, tenant_id, service_name, provider, model, status, unpriced_reason"
)

# Priced spend per UTC day and attribution of the calls in a time range (budgets; index calls_time).
# Parameters: the day's length in ns, the range's start and end.
SPEND_BY_DAY: Final = (
    "SELECT time_ns / ?, workflow_id, feature_id, tenant_id, dec_sum(cost_total)"
    " FROM calls WHERE time_ns >= ? AND time_ns < ? AND cost_total IS NOT NULL"
    " GROUP BY 1, workflow_id, feature_id, tenant_id"
)


def totals_upsert(table: str) -> str:
    columns = ", ".join(TOTALS_COLUMNS)
    marks = ", ".join("?" * len(TOTALS_COLUMNS))
    key = ", ".join(schema.TOTALS_KEY)
    return f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT ({key}) DO UPDATE SET {UPSERT_SET}"


def outcome_upsert(table: str) -> str:
    return (
        f"INSERT INTO {table} (workflow_id, outcome, count, first_seq, first_time_ns) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (workflow_id, outcome) DO UPDATE SET count = count + excluded.count"
    )


# The calls insert binds 38 values per LLM span, and sqlite3 binds None (and bytes) through its adaptation
# lookups, ~4x slower than an int or a str. So call_row() passes SQL_NULL (the integer 0) for the NULLs of
# these TEXT (and one BLOB) columns and the statement turns it back: NULLIF(0, 0) is NULL, NULLIF(None, 0)
# is NULL, and no text or blob value equals an integer in SQLite, so every value is stored as it is.
NULLIF_ZERO_COLUMNS: Final = frozenset(
    {
        "user_id", "service_instance_id", "request_model", "operation", "service_tier",
        "cost_input", "cost_cache_read", "cost_cache_write", "cost_output", "cost_total", "pricing_source",
        "unpriced_reason", "unpriced_detail", "usage_error", "error_type", "shared_call_key",
    }
)  # fmt: skip
INSERT_CALL: Final = (
    f"INSERT INTO calls ({', '.join(schema.CALL_COLUMNS)}) VALUES ("
    + ", ".join("NULLIF(?, 0)" if column in NULLIF_ZERO_COLUMNS else "?" for column in schema.CALL_COLUMNS)
    + ")"
)
INSERT_OUTCOME: Final = (
    f"INSERT INTO outcomes ({', '.join(schema.OUTCOME_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(schema.OUTCOME_COLUMNS))})"
)


def aggregate_row(agg: Aggregate) -> tuple[object, ...]:
    return (
        *agg.labels, agg.status, agg.reason, agg.requests, *agg.tokens,
        *(money(c) for c in agg.cost), agg.first_seq, agg.first_time_ns,
    )  # fmt: skip


def aggregate_from_row(row: Sequence[object]) -> Aggregate:
    labels: LabelKey = tuple(str(v) for v in row[0:6])  # type: ignore[assignment]
    return Aggregate(
        labels=labels,
        status=str(row[6]),
        reason=str(row[7]),
        requests=int(row[8]),  # type: ignore[call-overload]
        tokens=[int(v) for v in row[9:13]],  # type: ignore[call-overload]
        cost=[Decimal(str(v)) for v in row[13:17]],
        first_seq=int(row[17]),  # type: ignore[call-overload]
        first_time_ns=int(row[18]),  # type: ignore[call-overload]
    )


def lookup(
    conn: sqlite3.Connection, select: str, column: str, keys: Sequence[bytes]
) -> list[tuple[bytes, ...]]:
    """Rows whose `column` is one of `keys`; IN lists are padded to a few sizes to reuse statements."""
    found: list[tuple[bytes, ...]] = []
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = list(keys[start : start + LOOKUP_CHUNK])
        size = 8
        while size < len(chunk):
            size *= 2
        chunk.extend([chunk[0]] * (size - len(chunk)))
        sql = f"{select} WHERE {column} IN ({', '.join('?' * size)})"
        found.extend(conn.execute(sql, chunk).fetchall())
    return found


def mark_received(conn: sqlite3.Connection, table: str, received_ns: int, seqs: Iterable[object]) -> None:
    """Rows whose span arrived again: retention keeps them (and so their dedupe keys) from now on."""
    conn.executemany(f"UPDATE {table} SET received_ns = ? WHERE seq = ?", [(received_ns, s) for s in seqs])
