"""The processor's ledger: one durable, deduplicated row per LLM call, and exact cumulative totals."""

from __future__ import annotations

from costline_processor.ledger.api import LedgerStore, open_ledger
from costline_processor.ledger.errors import LedgerLockedError, LedgerSchemaError, LedgerUnavailableError
from costline_processor.ledger.results import (
    STATUS_DUPLICATE_CALL,
    STATUS_NEW,
    STATUS_REDELIVERED,
    PurgeResult,
    RecordedItem,
    RecordResult,
    RecordStatus,
)
from costline_processor.ledger.rows import (
    Aggregate,
    OutcomeAggregate,
    SpendRow,
    Totals,
    counted_usage,
    label_key,
)
from costline_processor.ledger.store import NS_PER_DAY, Ledger
from costline_processor.ledger.url import LedgerUrl, parse_ledger_url, redact

__all__ = [
    "NS_PER_DAY",
    "STATUS_DUPLICATE_CALL",
    "STATUS_NEW",
    "STATUS_REDELIVERED",
    "Aggregate",
    "Ledger",
    "LedgerLockedError",
    "LedgerSchemaError",
    "LedgerStore",
    "LedgerUnavailableError",
    "LedgerUrl",
    "OutcomeAggregate",
    "PurgeResult",
    "RecordResult",
    "RecordStatus",
    "RecordedItem",
    "SpendRow",
    "Totals",
    "counted_usage",
    "label_key",
    "open_ledger",
    "parse_ledger_url",
    "redact",
]
