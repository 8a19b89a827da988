"""`GET /v1/budgets`: every budget's state as JSON; money and ratios as decimal strings, times RFC 3339."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final

from costline_processor.budgets.periods import rfc3339
from costline_processor.budgets.status import BudgetStatus

CONTENT_TYPE: Final = "application/json"


def decimal_text(value: Decimal) -> str:
    """The exact value without exponent or trailing zeros: `1200`, `0.000075`, `1452.1034`."""
    plain = format(value, "f")
    if "." in plain:
        plain = plain.rstrip("0").rstrip(".")
    return "0" if plain in ("", "-0") else plain


def budget_entry(state: BudgetStatus) -> dict[str, object]:
    budget = state.budget
    return {
        "id": budget.id,
        "scope": dict(budget.scope),
        "period": budget.period,
        "period_start": rfc3339(state.period.start),
        "resets_at": rfc3339(state.period.resets_at),
        "limit_usd": decimal_text(budget.limit_usd),
        "spent_usd": decimal_text(state.spent),
        "ratio": decimal_text(state.ratio) if state.ratio is not None else None,
        "projected_usd": decimal_text(state.projected),
        "alert_at": list(budget.alert_at),
        "stop_at": budget.stop_at,
        "on_stop": budget.on_stop,
        "downgrade_to": budget.downgrade_to,
        "status": state.status,
    }


def budgets_document(as_of: datetime, states: Sequence[BudgetStatus]) -> bytes:
    document = {"as_of": rfc3339(as_of), "budgets": [budget_entry(state) for state in states]}
    return json.dumps(document, indent=2).encode() + b"\n"
