"""`downgrade_to` must name a model costline can price: checked with the real pricer at start-up."""

from __future__ import annotations

import difflib
from typing import Final

from costline_processor.budgets.file import ModelCheck
from costline_processor.pricing import Pricer

SUGGESTIONS: Final = 3


def model_check(pricer: Pricer) -> ModelCheck:
    """What `load_budgets(check_model=...)` calls for each downgrade_to: why it is unknown, with close ids."""
    known: list[str] = []

    def check(model: str) -> str | None:
        if pricer.knows_model(model):
            return None
        if not known:
            known.extend(pricer.model_ids())
        close = difflib.get_close_matches(model, known, n=SUGGESTIONS, cutoff=0.6)
        hint = f"; close known ids: {', '.join(close)}" if close else ""
        return f"is not a model costline can price (not in the price catalogue or the price overrides){hint}"

    return check
