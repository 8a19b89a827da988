"""Reading normalised attribute values: strict token counts (hostile input never raises), text, flags."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from costline_processor.pricing import MAX_TOKENS

Attributes = Mapping[str, Any]
MAX_LABEL_CHARS = 256  # attribution values are bounded before they reach metrics and the ledger


class BadUsage(ValueError):
    """A token attribute that cannot be a provider-reported count (wrong type, negative, NaN, absurd)."""


def token_count(attrs: Attributes, keys: tuple[str, ...]) -> int | None:
    """The first of `keys` present, as a valid token count; None when absent; BadUsage when invalid."""
    for key in keys:
        if key in attrs:
            value = attrs[key]
            break
    else:
        return None
    if type(value) is int and 0 <= value <= MAX_TOKENS:  # the common case first (bool is not `int`)
        return value
    return _checked_count(key, value)


def _checked_count(key: str, value: Any) -> int:
    """`value` as a token count, or BadUsage saying why it cannot be one."""
    if isinstance(value, bool):
        raise BadUsage(f"{key} is a boolean, not a token count")
    if isinstance(value, float):
        # Some SDKs (JavaScript) send integral numbers as doubles; anything else is not a count.
        if not math.isfinite(value) or not value.is_integer():
            raise BadUsage(f"{key}={value!r} is not a whole number")
        value = int(value)
    if not isinstance(value, int):
        raise BadUsage(f"{key} has type {type(value).__name__}, not an integer")
    if value < 0:
        raise BadUsage(f"{key}={value} is negative")
    if value > MAX_TOKENS:
        raise BadUsage(f"{key}={value} exceeds {MAX_TOKENS} tokens")
    return value


def text(attrs: Attributes, *keys: str) -> str | None:
    """The first non-empty string among `keys`."""
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def flag(attrs: Attributes, key: str) -> bool:
    value = attrs.get(key)
    return value is True or (isinstance(value, str) and value.lower() == "true")


def label(value: str) -> str:
    return value[:MAX_LABEL_CHARS]
