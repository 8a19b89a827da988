"""`AttributionSpanProcessor`: put the attribution keys on every span started under a workflow.

This makes the attribution visible on spans costline does not create itself: the anthropic SDK's own
call span, HTTP client spans, the app's manual spans. It also notes which frameworks' LLM spans are open,
so costline's call can mark the one it mirrors (`costline._mirrors`). Imports the OTel SDK, so it is
imported only when the SDK is installed (`costline.AttributionSpanProcessor` resolves lazily).
"""

from __future__ import annotations

import weakref
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider

from costline import _mirrors
from costline._safety import guard
from costline.attributes import INSTRUMENTATION_SCOPE
from costline.baggage import read_attribution

_registered_on: weakref.WeakSet[TracerProvider] = weakref.WeakSet()


class AttributionSpanProcessor(SpanProcessor):
    """Copies `workflow_id`, `feature_id`, `tenant_id` and `user_id` from the context onto starting spans.

    Reads baggage and the private key `hide_attribution_from_propagation` uses, so spans started during an
    LLM SDK call are attributed too; a propagated value that is invalid is left out and named in
    `llm.attribution.rejected` (`costline.baggage`). An attribute the span already has is never overwritten.
    """

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        with guard("span_processor.on_start"):
            scope = span.instrumentation_scope
            if scope is not None and scope.name == INSTRUMENTATION_SCOPE:
                # costline's own spans start with the attribution already read: no second baggage read
                if _mirrors.records_late(span):
                    _mirrors.call_started(span)
                return
            # parent_context is the `context` given to start_span: None means "the current context".
            existing = span.attributes or {}
            for key, value in read_attribution(parent_context).span_attributes().items():
                if key not in existing:
                    span.set_attribute(key, value)
            if _mirrors.is_framework_span(span):
                _mirrors.opened(span)
            elif _mirrors.is_late_framework_span(span):
                _mirrors.late_span_started(span)

    def on_end(self, span: ReadableSpan) -> None:
        with guard("span_processor.on_end"):
            _mirrors.closed(span)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def register(tracer_provider: Any = None) -> bool:
    """Add one `AttributionSpanProcessor` to `tracer_provider` (default: the global one); idempotent.

    Returns False when the provider is not an SDK `TracerProvider` (e.g. no SDK configured yet).
    """
    provider = trace.get_tracer_provider() if tracer_provider is None else tracer_provider
    if not isinstance(provider, TracerProvider):
        return False
    if provider not in _registered_on:
        if not _has_attribution_processor(provider):  # the app may have added its own (docs/app-api.md)
            provider.add_span_processor(AttributionSpanProcessor())
        _registered_on.add(provider)
    return True


def _has_attribution_processor(provider: TracerProvider) -> bool:
    """Whether the app already added an `AttributionSpanProcessor` to `provider`.

    The SDK keeps its processors in a private tuple (`_active_span_processor._span_processors`, the same in
    every 1.x); if a later SDK moves it, this says no and one more processor is added, which only costs time:
    it never overwrites an attribute a span already has.
    """
    multi = getattr(provider, "_active_span_processor", None)
    processors = getattr(multi, "_span_processors", ())
    return isinstance(processors, tuple) and any(isinstance(p, AttributionSpanProcessor) for p in processors)
