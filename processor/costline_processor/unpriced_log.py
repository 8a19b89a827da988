"""Log the first unpriced call of each (provider, model, reason) once, with how to fix it.

An unpriced call is counted (`llm_unpriced_requests_total`) and marked on its span, but nobody looks there on
day one: the log of `costline serve` says it when it first happens. Once per kind, so a steady stream of
unpriced calls does not flood the log, and for a bounded number of kinds, so hostile model names cannot
grow memory.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from costline import attributes as attr
from costline._config import ENV_INJECT_STREAM_USAGE, ENV_PROVIDER_OVERRIDES
from costline_processor import metric_names as names
from costline_processor.model import LlmCall, PricedCall, Unpriced

logger = logging.getLogger("costline.pricing")

MAX_LOGGED_KINDS: Final = 1024
_GATEWAY_PROVIDERS: Final = frozenset({attr.PROVIDER_SELF_HOSTED, attr.PROVIDER_UNKNOWN})


class UnpricedLog:
    """Remembers which kinds of unpriced call were logged; `note` is called with every priced batch."""

    def __init__(self, max_kinds: int = MAX_LOGGED_KINDS) -> None:
        self._seen: set[tuple[str, str, str]] = set()
        self._max_kinds = max_kinds
        self._full = False

    def note(self, priced: Sequence[PricedCall]) -> None:
        for item in priced:
            result = item.result
            if isinstance(result, Unpriced):
                self._note(item.call, result)

    def _note(self, call: LlmCall, result: Unpriced) -> None:
        model = call.model or names.UNKNOWN_MODEL
        kind = (call.provider, model, result.reason)
        if kind in self._seen or self._full:
            return
        if len(self._seen) >= self._max_kinds:
            self._full = True
            logger.warning(
                "more than %d kinds of unpriced call: further ones are not logged (all are counted in %s)",
                self._max_kinds,
                names.PROM_UNPRICED_REQUESTS_TOTAL,
            )
            return
        self._seen.add(kind)
        logger.warning(
            "unpriced call: provider=%s model=%s reason=%s: %s. Fix: %s. (Logged once per provider, model"
            " and reason; every unpriced call is counted in %s.)",
            call.provider,
            model,
            result.reason,
            result.detail or "no detail",
            fix_for(call, result),
            names.PROM_UNPRICED_REQUESTS_TOTAL,
        )


def fix_for(call: LlmCall, result: Unpriced) -> str:
    """What the user can do about an unpriced call, in one sentence."""
    if result.reason == names.REASON_NO_USAGE:
        return (
            "the span carries no token usage; for OpenAI-style streams keep"
            f" {ENV_INJECT_STREAM_USAGE}=true (or pass stream_options={{'include_usage': True}}), and check"
            " that the sending instrumentation records gen_ai.usage.* attributes"
        )
    if result.reason == names.REASON_INVALID_USAGE:
        return "the sending instrumentation reports impossible token counts; upgrade it or report the bug"
    if call.model is None:
        return "the span names no model (gen_ai.request.model, gen_ai.response.model): check the sender"
    show = f"`costline prices show {call.model} --provider {call.provider}` shows what costline knows"
    if call.provider in _GATEWAY_PROVIDERS:
        return (
            f"name the provider behind the gateway in the app's {ENV_PROVIDER_OVERRIDES}"
            " (e.g. openai@gateway.internal=openai, see docs/app-api.md), or give the model a price in the"
            f" price overrides file (--price-overrides, docs/pricing.md); {show}"
        )
    return f"give the model a price in the price overrides file (--price-overrides, docs/pricing.md); {show}"
