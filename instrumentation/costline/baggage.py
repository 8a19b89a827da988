"""Where the attribution of the current work lives, and the one way to read it.

Attribution normally travels as OTel baggage (set by `costline.workflow`, or propagated in from an
upstream service). While an LLM SDK call runs, `costline.outbound` moves it out of the baggage into a
private context key so that no propagator sends it to the provider; `current_attribution` reads both, so
span code never has to know which of the two states it is in.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from opentelemetry import baggage as otel_baggage
from opentelemetry.context import Context, create_key, get_value, set_value

from costline import attributes
from costline._validation import cap_length

# Private: set only by costline.outbound; holds a read-only {key: value} of the hidden attribution.
_HIDDEN_ATTRIBUTION = create_key("costline-hidden-attribution")


def current_attribution(context: Context | None = None) -> dict[str, str]:
    """The attribution keys in force in `context` (default: the current context), e.g. `{"workflow_id": ...}`.

    Only keys that are set appear. Values propagated in from outside are capped at 128 characters.
    """
    found: dict[str, str] = {}
    hidden = get_value(_HIDDEN_ATTRIBUTION, context)
    if isinstance(hidden, Mapping):
        found.update(hidden)
    # Baggage set after hiding (a workflow entered inside an SDK callback) is the newer value.
    entries = otel_baggage.get_all(context)
    for key in attributes.ATTRIBUTION_KEYS:
        value = entries.get(key)
        if value is not None and value != "":
            found[key] = cap_length(str(value))
    return found


def with_hidden_attribution(attribution: Mapping[str, str], context: Context) -> Context:
    """`context` without attribution baggage, its attribution kept in the private key instead."""
    for key in attributes.ATTRIBUTION_KEYS:
        context = otel_baggage.remove_baggage(key, context)
    return set_value(_HIDDEN_ATTRIBUTION, MappingProxyType(dict(attribution)), context)


def attribution_in_baggage(context: Context | None = None) -> bool:
    """Whether any attribution key would be sent by a baggage propagator in `context`."""
    entries = otel_baggage.get_all(context)
    return any(key in entries for key in attributes.ATTRIBUTION_KEYS)
