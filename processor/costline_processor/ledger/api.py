"""The one ledger interface the pipeline, the metrics, the budgets and the reports use, whatever the backend.

Two backends implement it: `Ledger` (a SQLite file, one per replica, store.py) and `PostgresLedger` (one
database shared by N replicas, pg/store.py). `open_ledger()` picks one from a `--ledger-url`.

A writer records for one replica. On SQLite the file is the replica's; on PostgreSQL every row and every
cumulative total carries the replica's id, so `iter_aggregates()` and `spend_by_day()` of a writer are its
own share (its counters and budget gauges; the shares sum to the whole ledger), while the per-call reads
(`iter_calls()`, `iter_outcomes()`, `totals()` over a time range) cover every replica.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol

from costline_processor.ledger.results import PurgeResult, RecordResult
from costline_processor.ledger.rows import Aggregate, OutcomeAggregate, SpendRow, Totals
from costline_processor.ledger.url import parse_ledger_url
from costline_processor.model import Outcome, PricedCall


class LedgerStore(Protocol):
    """What every ledger backend offers (thread-safe)."""

    read_only: bool
    retention_days: int

    @property
    def location(self) -> str:
        """Where the ledger is, fit for a log line (a PostgreSQL URL without its password)."""

    @property
    def instance_id(self) -> str:
        """The default `service.instance.id` of this writer's cumulative metrics (stable across restarts)."""

    @property
    def created_ns(self) -> int:
        """The start time of this writer's cumulative metrics (never changes)."""

    @property
    def first_record_ns(self) -> int | None: ...

    def record(
        self,
        priced: Sequence[PricedCall],
        outcomes: Sequence[Outcome] = (),
        *,
        received_ns: int | None = None,
    ) -> RecordResult:
        """Store one export request's new calls and outcomes in one transaction, committed on return."""

    def take_resync(self) -> bool:
        """True once after a write whose commit may have happened although it raised (a connection lost
        during COMMIT): counters built from `record()` results must be rebuilt from `iter_aggregates()`."""

    def problem(self) -> str | None:
        """Why the ledger cannot take writes now (`/readyz`), or None; may try to reconnect."""

    def checkpoint(self) -> None: ...

    def purge_older_than(self, cutoff_ns: int | None = None, *, now_ns: int | None = None) -> PurgeResult: ...

    def iter_aggregates(self) -> Iterator[Aggregate]:
        """Cumulative totals per label set, first seen first: a writer's own, a reader's whole ledger."""

    def iter_outcome_aggregates(self) -> Iterator[OutcomeAggregate]: ...

    def totals(
        self, *, workflow_id: str | None = None, since_ns: int | None = None, until_ns: int | None = None
    ) -> Totals: ...

    def iter_calls(self, *, since_ns: int = 0, until_ns: int = 2**63 - 1) -> Iterator[dict[str, object]]: ...

    def iter_outcomes(self, *, since_ns: int, until_ns: int) -> Iterator[tuple[str, str, int]]:
        """(workflow_id, outcome, count) of the stored outcome rows placed in [since_ns, until_ns)."""

    def call_count(self) -> int:
        """How many call rows the ledger stores."""

    def time_range(self) -> tuple[int, int] | None:
        """The placement times (ns) of the first and last stored call; None when there is none."""

    def spend_by_day(self, since_ns: int, until_ns: int) -> list[SpendRow]:
        """Exact priced spend per UTC day and attribution in [since_ns, until_ns): a writer's own share."""

    def others_spend_by_day(self, first_day: int, end_day: int) -> list[SpendRow]:
        """What the ledger's other writers spent per UTC day (day numbers) and attribution: [] but for a
        replica of a shared ledger (its own spend_by_day plus this is the whole ledger's)."""

    def verify(self) -> list[str]: ...

    def close(self) -> None: ...

    def __enter__(self) -> LedgerStore: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


def open_ledger(
    url: str | Path,
    *,
    retention_days: int = 400,
    read_only: bool | None = None,
    replica_id: str | None = None,
) -> LedgerStore:
    """The ledger at `url` (a SQLite path or `postgresql://...`).

    `read_only` as `Ledger`'s. `replica_id`: the writer's identity in a shared ledger (its counters' share;
    default: the host name); a SQLite ledger has one writer and its own id, and ignores it.
    """
    parsed = parse_ledger_url(url)
    if parsed.kind == "sqlite":
        from costline_processor.ledger.store import Ledger  # noqa: PLC0415

        return Ledger(parsed.path, retention_days=retention_days, read_only=read_only)
    from costline_processor.ledger.pg.store import PostgresLedger  # noqa: PLC0415 - psycopg only when used

    return PostgresLedger(
        parsed.target, retention_days=retention_days, read_only=read_only, replica_id=replica_id
    )
