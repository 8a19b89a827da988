"""The rules an attribution value or outcome name must follow, checked where app code hands it to us.

Values become baggage entries, span attributes and metric labels, so they must be short, non-empty and
free of characters that need escaping in any of those (spaces, quotes, commas, `=`, `;`, non-ASCII).
Explicit arguments that break a rule raise `ValueError` naming the key and the rule: a typo in a
workflow name should fail in the developer's test run, not become a new dashboard row. Values that arrive
from outside (propagated baggage, span attributes at the processor) are checked with `is_valid_value`, the
same rule, and dropped when they break it: they are untrusted input, not a developer's typo.
"""

from __future__ import annotations

import re
from typing import Final, TypeGuard

MAX_VALUE_LENGTH: Final = 128
# Letters, digits and `. _ - : / @ +`: enough for slugs, namespaced ids (`team/app:v2`) and e-mail
# style user ids (`ana+test@example.com`), nothing that needs quoting in baggage or PromQL.
SAFE_CHARACTERS_DESCRIPTION: Final = "letters, digits and . _ - : / @ +"
_SAFE_VALUE: Final = re.compile(r"[A-Za-z0-9._:/@+\-]+", re.ASCII)
_MAX_REMEMBERED: Final = 4096  # x at most 128 characters: well under a megabyte
_remembered: set[str] = set()


def validate_value(key: str, value: object) -> str:
    """Return `value` if it is a valid attribution value or outcome name, else raise `ValueError`."""
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a str (got {type(value).__name__})")
    if not value:
        raise ValueError(f"{key} must not be empty")
    if len(value) > MAX_VALUE_LENGTH:
        raise ValueError(f"{key} must be at most {MAX_VALUE_LENGTH} characters (got {len(value)})")
    if not _SAFE_VALUE.fullmatch(value):
        bad = next(char for char in value if not _SAFE_VALUE.fullmatch(char))
        raise ValueError(f"{key} may contain only {SAFE_CHARACTERS_DESCRIPTION} (got {bad!r} in {value!r})")
    return value


def validate_count(key: str, count: object) -> int:
    """Return `count` if it is a positive int (bool excluded), else raise `ValueError`."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise ValueError(f"{key} must be an int (got {type(count).__name__})")
    if count < 1:
        raise ValueError(f"{key} must be a positive integer (got {count})")
    return count


def is_valid_value(value: object) -> TypeGuard[str]:
    """Whether `validate_value` accepts `value`, without building an exception (the hot-path check).

    Attribution values repeat (a few workflows, features and tenants), so values seen valid are remembered,
    up to `_MAX_REMEMBERED` of them: a set lookup instead of a regex match on nearly every span.
    """
    if not isinstance(value, str):
        return False
    if value in _remembered:
        return True
    if len(value) > MAX_VALUE_LENGTH or _SAFE_VALUE.fullmatch(value) is None:  # `+`: "" fails too
        return False
    if len(_remembered) < _MAX_REMEMBERED:  # a race may add a few more: harmless, still bounded
        _remembered.add(value)
    return True


def rejection_reason(key: str, value: object) -> str:
    """Why `value` is not a valid value for `key` (the `ValueError` text of `validate_value`), or ""."""
    try:
        validate_value(key, value)
    except ValueError as exc:
        return str(exc)
    return ""
