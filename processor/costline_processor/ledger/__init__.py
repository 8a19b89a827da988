"""The processor's ledger: one durable, deduplicated row per LLM call, and exact cumulative totals."""

from __future__ import annotations

from costline_processor.ledger.results import (
    STATUS_DUPLICATE_CALL,
    STATUS_NEW,
    STATUS_REDELIVERED,
    PurgeResult,
    RecordedItem,
    RecordResult,
    RecordStatus,
)
from costline_processor.ledger.rows import Aggregate, OutcomeAggregate, Totals, counted_usage, label_key
from costline_processor.ledger.schema import LedgerLockedError, LedgerSchemaError
from costline_processor.ledger.store import NS_PER_DAY, Ledger

__all__ = [
    "NS_PER_DAY",
    "STATUS_DUPLICATE_CALL",
    "STATUS_NEW",
    "STATUS_REDELIVERED",
    "Aggregate",
    "Ledger",
    "LedgerLockedError",
    "LedgerSchemaError",
    "OutcomeAggregate",
    "PurgeResult",
    "RecordResult",
    "RecordStatus",
    "RecordedItem",
    "Totals",
    "counted_usage",
    "label_key",
]
