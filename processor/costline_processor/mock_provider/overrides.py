"""Per-request behaviour overrides sent as request headers, for callers that cannot reach the server object.

A process that only has the URL (the demo app, an instrumented app in a subprocess, a load generator) can
still choose what one call reports: ``USAGE_HEADER`` carries a JSON object of ``MockUsage`` fields,
``BEHAVIOUR_HEADER`` one of ``MockBehaviour`` fields (``usage`` and ``tool_calls`` as nested objects).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from costline_processor.mock_provider.behaviour import MockBehaviour, MockToolCall, MockUsage

USAGE_HEADER = "x-costline-mock-usage"
BEHAVIOUR_HEADER = "x-costline-mock-behaviour"


def apply_overrides(behaviour: MockBehaviour, headers: Mapping[str, str]) -> MockBehaviour:
    """``behaviour`` with the request's override headers applied; ValueError names a bad header."""
    for header in (BEHAVIOUR_HEADER, USAGE_HEADER):
        raw = headers.get(header)
        if raw is None:
            continue
        try:
            fields = _object(json.loads(raw))
            if header == USAGE_HEADER:
                behaviour = replace(behaviour, usage=MockUsage(**fields))
            else:
                behaviour = replace(behaviour, **_behaviour_fields(fields))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"Invalid {header} header: {exc}") from exc
    return behaviour


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("expected a JSON object")
    return value


def _behaviour_fields(fields: dict[str, Any]) -> dict[str, Any]:
    fields = dict(fields)
    if "usage" in fields:
        fields["usage"] = MockUsage(**_object(fields["usage"]))
    if "tool_calls" in fields:
        fields["tool_calls"] = tuple(MockToolCall(**_object(call)) for call in fields["tool_calls"])
    return fields
