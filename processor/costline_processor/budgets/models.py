"""`downgrade_to` must name a model costline can price: checked with the real pricer at start-up."""

from __future__ import annotations

import difflib
from typing import Final

from costline_processor.budgets.model import Budgets, BudgetsConfigError
from costline_processor.pricing import Pricer

SUGGESTIONS: Final = 3


def check_downgrade_models(budgets: Budgets, pricer: Pricer, source: str) -> None:
    """Raise BudgetsConfigError naming every unknown `downgrade_to` model, with close known ids."""
    problems = []
    known: list[str] | None = None
    for budget in budgets.items:
        model = budget.downgrade_to
        if model is None or pricer.knows_model(model):
            continue
        known = known if known is not None else pricer.model_ids()
        close = difflib.get_close_matches(model, known, n=SUGGESTIONS, cutoff=0.6)
        hint = f"; close known ids: {', '.join(close)}" if close else ""
        problems.append(
            f"line {budget.line}: budget {budget.id}: downgrade_to {model!r} is not a model costline can"
            f" price (not in the price catalogue or the price overrides){hint}"
        )
    if problems:
        raise BudgetsConfigError(source, problems)
