"""A consistent copy of the cost metrics' series, rendered lock-free to Prometheus text or OTLP."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from costline_processor.budgets import BudgetStatus
from costline_processor.ledger.rows import LabelKey
from costline_processor.metrics.self_telemetry import TelemetrySnapshot

# (trace_id, span_id, value, time_ns) of the latest call that added to a cost series
Exemplar = tuple[bytes, bytes, Decimal, int]
RequestKey = tuple[LabelKey, str]  # (labels, status)
UnpricedKey = tuple[str, str, str, str]  # service_name, provider, model, reason
OutcomeKey = tuple[str, str]  # workflow_id, outcome


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """A consistent copy of every series, taken under the lock; rendering works on it lock-free."""

    cost: dict[LabelKey, list[Decimal]]  # values in TOKEN_TYPES order
    tokens: dict[LabelKey, list[int]]
    requests: dict[RequestKey, int]
    unpriced: dict[UnpricedKey, int]
    outcomes: dict[OutcomeKey, int]
    exemplars: dict[LabelKey, list[Exemplar | None]]
    budgets: list[BudgetStatus]
    budget_blocked: list[int]  # calls the app blocked, per budget (same order)
    budget_blocked_unmatched: int  # blocked calls that named no budget of the file
    telemetry: TelemetrySnapshot
    start_time_ns: int
    service_instance_id: str
