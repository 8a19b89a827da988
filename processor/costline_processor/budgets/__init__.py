"""Per-scope budgets: the budgets file, each budget's exact spend this period, its status and its JSON.

`costline serve` tracks every budget from its ledger (`BudgetTracker`), serves `GET /v1/budgets` and
exports the budget gauges; `costline report --budgets` reads the same file.
"""

from __future__ import annotations

from costline_processor.budgets.api import CONTENT_TYPE, budgets_document, decimal_text
from costline_processor.budgets.file import load_budgets, parse_budgets
from costline_processor.budgets.model import (
    ON_STOP_BLOCK,
    ON_STOP_DOWNGRADE,
    SCOPE_KEYS,
    Budget,
    Budgets,
    BudgetsConfigError,
    budget_id,
)
from costline_processor.budgets.models import model_check
from costline_processor.budgets.periods import Period, current_period, rfc3339
from costline_processor.budgets.status import STATUS_OK, STATUS_OVER, STATUS_STOPPED, BudgetStatus
from costline_processor.budgets.tracker import BudgetTracker

__all__ = [
    "CONTENT_TYPE",
    "ON_STOP_BLOCK",
    "ON_STOP_DOWNGRADE",
    "SCOPE_KEYS",
    "STATUS_OK",
    "STATUS_OVER",
    "STATUS_STOPPED",
    "Budget",
    "BudgetStatus",
    "BudgetTracker",
    "Budgets",
    "BudgetsConfigError",
    "Period",
    "budget_id",
    "budgets_document",
    "current_period",
    "decimal_text",
    "load_budgets",
    "model_check",
    "parse_budgets",
    "rfc3339",
]
