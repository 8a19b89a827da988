"""Where the attribution of the current work lives, and the one way to read it.

Attribution normally travels as OTel baggage (set by `costline.workflow`, or propagated in from an
upstream service). While an LLM SDK call runs, `costline.outbound` moves it out of the baggage into a
private context key so that no propagator sends it to the provider; `read_attribution` reads both, so
span code never has to know which of the two states it is in.

Baggage is input from whoever called the service. Its values get the rule `costline.workflow()` enforces
(`costline._validation`): an invalid one is dropped, logged once per key, and named on the span
(`llm.attribution.rejected`) so that `costline serve` counts it. With `COSTLINE_TRUST_INBOUND_BAGGAGE=false`
the baggage is not read at all: only the values `costline.workflow()` set in this process (kept in a second
private key) attribute work, and a workflow removes the inbound attribution keys it does not set from the
baggage it propagates downstream.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from opentelemetry import baggage as otel_baggage
from opentelemetry.context import Context, create_key, get_current, get_value, set_value
from opentelemetry.util.types import AttributeValue

from costline import attributes
from costline._config import ENV_TRUST_INBOUND_BAGGAGE, trust_inbound_baggage
from costline._validation import is_valid_value, rejection_reason

logger = logging.getLogger("costline")

# Private: set only by costline.outbound; holds a read-only {key: value} of the hidden attribution.
_HIDDEN_ATTRIBUTION = create_key("costline-hidden-attribution")
# Private: set only by costline.workflow; the read-only {key: value} entered in this process, outer ones
# included (what attributes work when inbound baggage is not trusted).
_IN_PROCESS_ATTRIBUTION = create_key("costline-in-process-attribution")
_MAX_LOGGED_REASON: Final = 200
_warned: set[str] = set()


@dataclass(slots=True)  # not frozen: built on every LLM call and span start, and frozen ones init slowly
class Attribution:
    """The attribution keys in force, and the keys whose propagated value was invalid and dropped."""

    values: dict[str, str]
    rejected: tuple[str, ...] = ()

    def span_attributes(self) -> dict[str, AttributeValue]:
        """The values as span attributes, plus `llm.attribution.rejected` when a value was dropped."""
        found: dict[str, AttributeValue] = dict(self.values)
        if self.rejected:
            found[attributes.LLM_ATTRIBUTION_REJECTED] = self.rejected
        return found


# The last read: (context, trusted, its attribution). An app makes many calls, and starts many spans, in one
# context, and a read depends on nothing else, so reading that context again costs one identity check. It
# holds that one context (and so its span) alive until the next read in another context.
_last_read: tuple[Context, bool, Attribution] | None = None


def read_attribution(context: Context | None = None) -> Attribution:
    """The attribution in force in `context` (default: the current context); see the module docstring.

    Callers must not change what it returns: the last read is returned again for the same context.
    """
    global _last_read  # noqa: PLW0603 - a one-entry cache; a tuple is swapped whole, so threads are safe
    current = get_current() if context is None else context
    trusted = trust_inbound_baggage()
    last = _last_read
    if last is not None and last[0] is current and last[1] is trusted:
        return last[2]
    attribution = _read(current, trusted)
    _last_read = (current, trusted, attribution)
    return attribution


def _read(context: Context, trusted: bool) -> Attribution:
    found: dict[str, str] = {}
    hidden = get_value(_HIDDEN_ATTRIBUTION, context)
    if isinstance(hidden, Mapping):
        found.update(hidden)
    if not trusted:
        own = get_value(_IN_PROCESS_ATTRIBUTION, context)
        if isinstance(own, Mapping):
            found.update(own)
        return Attribution(found)
    # Baggage set after hiding (a workflow entered inside an SDK callback) is the newer value.
    entries = otel_baggage.get_all(context)
    rejected: list[str] = []
    for key in attributes.ATTRIBUTION_KEYS:
        value = entries.get(key)
        if value is None or value == "":
            continue
        if is_valid_value(value):
            found[key] = value
        else:
            rejected.append(key)
            _warn_once(key, value)
    return Attribution(found, tuple(rejected))


def current_attribution(context: Context | None = None) -> dict[str, str]:
    """The attribution keys in force in `context` (default: the current context), e.g. `{"workflow_id": ...}`.

    Only keys that are set appear. A propagated value `costline.workflow()` would refuse is left out; with
    `COSTLINE_TRUST_INBOUND_BAGGAGE=false` only what `costline.workflow()` set in this process counts.
    """
    return dict(read_attribution(context).values)  # a new dict on every call: the caller may change it


def with_workflow_attribution(values: Mapping[str, str], context: Context) -> Context:
    """`context` with `values` (already validated) set as baggage and, when inbound baggage is not trusted,
    recorded as set in this process (the record is what attributes work then; unused otherwise)."""
    for key, value in values.items():
        context = otel_baggage.set_baggage(key, value, context)
    if trust_inbound_baggage():
        return context
    own = get_value(_IN_PROCESS_ATTRIBUTION, context)
    merged = {**own, **values} if isinstance(own, Mapping) else dict(values)
    # Do not pass an untrusted caller's keys on to this service's own downstream services either.
    for key in attributes.ATTRIBUTION_KEYS:
        if key not in merged:
            context = otel_baggage.remove_baggage(key, context)
    return set_value(_IN_PROCESS_ATTRIBUTION, MappingProxyType(merged), context)


def with_hidden_attribution(attribution: Mapping[str, str], context: Context) -> Context:
    """`context` without attribution baggage, its attribution kept in the private key instead."""
    for key in attributes.ATTRIBUTION_KEYS:
        context = otel_baggage.remove_baggage(key, context)
    return set_value(_HIDDEN_ATTRIBUTION, MappingProxyType(dict(attribution)), context)


def attribution_in_baggage(context: Context | None = None) -> bool:
    """Whether any attribution key would be sent by a baggage propagator in `context`."""
    entries = otel_baggage.get_all(context)
    return any(key in entries for key in attributes.ATTRIBUTION_KEYS)


def _warn_once(key: str, value: object) -> None:
    if key in _warned:
        return
    _warned.add(key)
    logger.warning(
        "costline: dropped a propagated %s that costline.workflow() would refuse (%s). Such values are left "
        "out of the attribution (logged once per key); spans name the key in %s and costline serve counts "
        "them. Set %s=false where callers outside your system can send baggage.",
        key,
        rejection_reason(key, value)[:_MAX_LOGGED_REASON],
        attributes.LLM_ATTRIBUTION_REJECTED,
        ENV_TRUST_INBOUND_BAGGAGE,
    )
