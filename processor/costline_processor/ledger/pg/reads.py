"""What a PostgreSQL ledger reads: a writer's own totals (its counters), every replica's rows (reports).

Money comes back as `Decimal` (NUMERIC), ids as `bytes`, as the SQLite ledger returns them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from costline_processor.ledger.pg.sql import OTHERS_SPEND_BY_DAY, ROLLUP_SELECT, TOTALS_COLUMNS
from costline_processor.ledger.rows import (
    NS_PER_DAY,
    SPAN_ID_SQL,
    TRACE_ID_SQL,
    Aggregate,
    OutcomeAggregate,
    SpendRow,
    Totals,
    spend_rows,
    totals_of,
)
from costline_processor.ledger.schema import CALL_COLUMNS
from costline_processor.ledger.sql import aggregate_from_row
from costline_processor.ledger.url import redact

_VIEW_COLUMNS: Final = (
    f"{TRACE_ID_SQL} AS trace_id", f"{SPAN_ID_SQL} AS span_id",
    "convert_from(substr(COALESCE(call_key, shared_call_key), 17), 'UTF8') AS response_id",
    "replica AS replica",
)  # fmt: skip
_CALL_KEYS: Final = (*CALL_COLUMNS, *(c.rsplit(" AS ", 1)[1] for c in _VIEW_COLUMNS))
_SUMMED: Final = ", ".join(
    [*(f"sum({c})" for c in TOTALS_COLUMNS[8:17]), "min(first_seq)", "min(first_time_ns)"]
)


class LedgerReads:
    """The reading half of `PostgresLedger`; it supplies `_url`, `_read()` and `_own()`."""

    _url: str

    def _read(self, sql: str, params: Sequence[object] | dict[str, object] = ()) -> list[tuple[object, ...]]:
        raise NotImplementedError

    def _own(self) -> str | None:
        raise NotImplementedError

    @property
    def location(self) -> str:
        return redact(self._url)

    def iter_aggregates(self) -> Iterator[Aggregate]:
        """Cumulative totals per label set, first seen first: a writer's own, a reader's every replica's."""
        key = ", ".join(TOTALS_COLUMNS[:8])
        own = self._own()
        if own is not None:
            sql = f"SELECT {', '.join(TOTALS_COLUMNS)} FROM call_totals WHERE replica = %s ORDER BY first_seq"
            rows = self._read(sql, (own,))
        else:
            rows = self._read(
                f"SELECT {key}, {_SUMMED} FROM call_totals GROUP BY {key} ORDER BY min(first_seq)"
            )
        yield from map(aggregate_from_row, rows)

    def iter_outcome_aggregates(self) -> Iterator[OutcomeAggregate]:
        own = self._own()
        sql = (
            "SELECT workflow_id, outcome, sum(count), min(first_seq), min(first_time_ns) FROM outcome_totals"
            f" {'WHERE replica = %s ' if own is not None else ''}GROUP BY workflow_id, outcome ORDER BY 4"
        )
        for row in self._read(sql, (own,) if own is not None else ()):
            count, first_seq, first_time_ns = (int(v) for v in row[2:5])  # type: ignore[call-overload]
            yield OutcomeAggregate(str(row[0]), str(row[1]), count, first_seq, first_time_ns)

    def totals(
        self, *, workflow_id: str | None = None, since_ns: int | None = None, until_ns: int | None = None
    ) -> Totals:
        """Exact sums: without a time range the cumulative ones (`iter_aggregates()`'s); with one, the stored
        rows of every replica."""
        if since_ns is None and until_ns is None:
            aggregates = list(self.iter_aggregates())
        else:
            sql = ROLLUP_SELECT.format(where="time_ns >= %s AND time_ns < %s")
            aggregates = list(
                map(aggregate_from_row, self._read(sql, (since_ns or 0, until_ns or 2**63 - 1)))
            )
        if workflow_id is not None:
            aggregates = [a for a in aggregates if a.labels[0] == workflow_id]
        return totals_of(aggregates)

    def iter_calls(self, *, since_ns: int = 0, until_ns: int = 2**63 - 1) -> Iterator[dict[str, object]]:
        """Every replica's stored call rows, trace_id, span_id and response_id split out, and `replica`."""
        select = ", ".join([*CALL_COLUMNS, *_VIEW_COLUMNS])
        sql = f"SELECT {select} FROM calls WHERE time_ns >= %s AND time_ns < %s ORDER BY seq"
        for row in self._read(sql, (since_ns, until_ns)):
            yield dict(zip(_CALL_KEYS, row, strict=True))

    def time_range(self) -> tuple[int, int] | None:
        first, last = self._read("SELECT min(time_ns), max(time_ns) FROM calls")[0]
        return None if first is None else (int(str(first)), int(str(last)))

    def call_count(self) -> int:
        return int(str(self._read("SELECT count(*) FROM calls")[0][0]))

    def spend_by_day(self, since_ns: int, until_ns: int) -> list[SpendRow]:
        """Exact priced spend per UTC day and attribution in [since_ns, until_ns): a writer's own share, a
        reader's whole ledger."""
        replica = self._own()
        sql = (
            "SELECT time_ns / %s, workflow_id, feature_id, tenant_id, sum(cost_total) FROM calls"
            " WHERE time_ns >= %s AND time_ns < %s AND cost_total IS NOT NULL"
            f"{' AND replica = %s' if replica is not None else ''} GROUP BY 1, 2, 3, 4"
        )
        params = (NS_PER_DAY, since_ns, until_ns, *((replica,) if replica is not None else ()))
        return spend_rows(self._read(sql, params))

    def others_spend_by_day(self, first_day: int, end_day: int) -> list[SpendRow]:
        """A writer's: the other replicas' exact priced spend per UTC day in [first_day, end_day) and
        attribution (its own share plus this is the whole ledger's). A reader's spend_by_day holds it all."""
        replica = self._own()
        if replica is None:
            return []
        return spend_rows(self._read(OTHERS_SPEND_BY_DAY, (first_day, end_day, replica)))
