"""Keep attribution baggage out of the HTTP headers sent to LLM providers.

Baggage is propagated by whoever injects context into a request: the anthropic SDK itself (it injects the
global propagator's headers, baggage included, into every request), `opentelemetry-instrumentation-httpx`
(its `httpx2` instrumentor, which is what openai 3.x and anthropic 2.x use), or any other HTTP
instrumentation. Filtering each of them is whack-a-mole, and a filtering propagator would also strip the
keys from calls to the app's own services, where propagating them is the point.

So the wrappers run each SDK call inside `hide_attribution_from_propagation()`: the attached context's
baggage lacks the attribution keys (other baggage is kept, trace context is untouched), and the
attribution sits in a private context key that `costline.baggage.current_attribution()` and the
`AttributionSpanProcessor` read. Every injector then sees no attribution, whoever it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context as otel_context

from costline._safety import report_internal_error
from costline.baggage import attribution_in_baggage, current_attribution, with_hidden_attribution


@contextmanager
def hide_attribution_from_propagation() -> Iterator[None]:
    """Run the block with attribution moved from baggage to a private key (not propagated)."""
    token = None
    try:
        current = otel_context.get_current()
        if attribution_in_baggage(current):
            hidden = with_hidden_attribution(current_attribution(current), current)
            token = otel_context.attach(hidden)
    except Exception as exc:  # the SDK call must run even if hiding fails
        report_internal_error("outbound.hide", exc)
    try:
        yield
    finally:
        if token is not None:
            otel_context.detach(token)
