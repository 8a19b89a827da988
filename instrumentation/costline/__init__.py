"""costline: per-workflow LLM cost attribution on OpenTelemetry (the app side).

Tag work with the business workflow it belongs to; every LLM call inside is attributed to it::

    import costline

    with costline.workflow("customer_support", tenant_id="acme", feature_id="triage"):
        client.chat.completions.create(...)
        costline.record_outcome("ticket_resolved")

    @costline.workflow("nightly_digest")        # sync or async functions; keys set on each call
    async def digest() -> None: ...

Run the app under `opentelemetry-instrument` (the `costline` instrumentor and the attribution span
processor load automatically), or call `costline.CostlineInstrumentor().instrument()` yourself and add
`costline.AttributionSpanProcessor()` to your SDK `TracerProvider`.

Attribution follows asyncio tasks by itself; for thread pools submit `costline.propagate_context(fn)`.
It is never sent to LLM providers in HTTP headers. With `COSTLINE_BUDGETS_URL` set, a call under a
stopped budget raises `costline.BudgetExceeded` or goes to a cheaper model (docs/budgets.md).
`OTEL_TRACES_SAMPLER=costline_genai` keeps every LLM span while sampling the rest (see `costline.sampling`).
Full reference: docs/app-api.md.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import TYPE_CHECKING, Any

from costline._workflow import propagate_context, workflow
from costline.baggage import current_attribution
from costline.budgets import BudgetExceeded
from costline.outcomes import record_outcome

if TYPE_CHECKING:
    from costline.instrumentor import CostlineInstrumentor
    from costline.span_processor import AttributionSpanProcessor

try:
    __version__ = importlib.metadata.version("costline")
except importlib.metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "AttributionSpanProcessor",
    "BudgetExceeded",
    "CostlineInstrumentor",
    "__version__",
    "current_attribution",
    "propagate_context",
    "record_outcome",
    "workflow",
]

# Loaded on first use: both need more than the OTel API (the SDK, wrapt), and `import costline` stays light.
_LAZY = {
    "AttributionSpanProcessor": ("costline.span_processor", "opentelemetry-sdk"),
    "CostlineInstrumentor": ("costline.instrumentor", "wrapt"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'costline' has no attribute {name!r}")
    module, requirement = _LAZY[name]
    try:
        value = getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ImportError(f"costline.{name} needs {requirement} installed ({exc})") from exc
    globals()[name] = value
    return value
