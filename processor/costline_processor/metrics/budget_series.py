"""The budget series, next to `llm_budget_usd`: limit, spent, ratio, stop state, stop level, blocked calls.

Each series carries the budget's scope keys (a key outside the scope is absent, so a workflow budget is
`{workflow_id, period}` as before) and its period. `llm_budget_spent_usd` is this replica's ledger share of
the period's spend: summed over replicas it is the whole spend, which is how the alert rules and a
PromQL-reading guard judge the stop across replicas (`spent >= llm_budget_stop_usd`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from costline_processor import metric_names as names
from costline_processor.budgets import BudgetStatus
from costline_processor.metrics.snapshot import MetricsSnapshot

COUNTER: Final = "counter"
GAUGE: Final = "gauge"

# (label names, label values, value)
BudgetSample = tuple[tuple[str, ...], tuple[str, ...], float | int]  # int: the counter


@dataclass(frozen=True, slots=True)
class BudgetFamily:
    prom_name: str
    otlp_name: str
    unit: str
    kind: str
    help: str
    samples: list[BudgetSample]


def _labels(state: BudgetStatus, *extra: tuple[str, str | None]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    pairs = [*state.budget.scope, (names.LABEL_PERIOD, state.budget.period)]
    pairs += [(key, value) for key, value in extra if value]
    return tuple(key for key, _ in pairs), tuple(value for _, value in pairs)


def budget_families(snapshot: MetricsSnapshot) -> list[BudgetFamily]:
    """Every budget family, in a fixed order.

    The blocked-calls counter has one series per budget with a stop (and per other budget once the app
    blocked a call for it), and one without labels for blocks that named no budget of the file (the app's
    guard failing closed), once there is one.
    """
    states, blocked = snapshot.budgets, snapshot.budget_blocked
    limit: list[BudgetSample] = []
    spent: list[BudgetSample] = []
    ratio: list[BudgetSample] = []
    stopped: list[BudgetSample] = []
    stop: list[BudgetSample] = []
    blocks: list[BudgetSample] = []
    for state, blocked_calls in zip(states, blocked, strict=True):
        budget = state.budget
        label_names, values = _labels(state)
        limit.append((label_names, values, float(budget.limit_usd)))
        spent.append((label_names, values, float(state.spent)))
        if state.ratio is not None:
            ratio.append((label_names, values, float(state.ratio)))
        stopped.append((label_names, values, 1.0 if state.stopped else 0.0))
        if budget.stop_usd is not None:
            stop_names, stop_values = _labels(
                state, (names.LABEL_ON_STOP, budget.on_stop), (names.LABEL_DOWNGRADE_TO, budget.downgrade_to)
            )
            stop.append((stop_names, stop_values, float(budget.stop_usd)))
        if budget.stop_usd is not None or blocked_calls:  # a block for a budget without a stop: another file
            blocks.append((label_names, values, blocked_calls))
    if snapshot.budget_blocked_unmatched:
        blocks.append(((), (), snapshot.budget_blocked_unmatched))
    return [
        BudgetFamily(names.PROM_BUDGET_USD, names.BUDGET_USD, names.UNIT_USD, GAUGE,
                     "Budget limit in USD per scope and period (budgets file).", limit),
        BudgetFamily(names.PROM_BUDGET_SPENT_USD, names.BUDGET_SPENT_USD, names.UNIT_USD, GAUGE,
                     "Spend in USD of the budget's current period, exact from this replica's ledger.", spent),
        BudgetFamily(names.PROM_BUDGET_RATIO, names.BUDGET_RATIO, "", GAUGE,
                     "Spent / limit of the budget's current period (this replica).", ratio),
        BudgetFamily(names.PROM_BUDGET_STOPPED, names.BUDGET_STOPPED, "", GAUGE,
                     "1 while this replica's spend reached the budget's stop_at, else 0.", stopped),
        BudgetFamily(names.PROM_BUDGET_STOP_USD, names.BUDGET_STOP_USD, names.UNIT_USD, GAUGE,
                     "The spend in USD at which the budget stops: limit x stop_at / 100.", stop),
        BudgetFamily(names.PROM_BUDGET_BLOCKED_REQUESTS_TOTAL, names.BUDGET_BLOCKED_REQUESTS,
                     names.UNIT_REQUEST, COUNTER, "LLM calls the app blocked for the budget.", blocks),
    ]  # fmt: skip
