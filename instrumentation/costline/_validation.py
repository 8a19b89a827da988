"""The rules an attribution value or outcome name must follow, checked where app code hands it to us.

Values become baggage entries, span attributes and metric labels, so they must be short, non-empty and
free of characters that need escaping in any of those (spaces, quotes, commas, `=`, `;`, non-ASCII).
Explicit arguments that break a rule raise `ValueError` naming the key and the rule: a typo in a
workflow name should fail in the developer's test run, not become a new dashboard row.
"""

from __future__ import annotations

import re
from typing import Final

MAX_VALUE_LENGTH: Final = 128
# Letters, digits and `. _ - : / @ +`: enough for slugs, namespaced ids (`team/app:v2`) and e-mail
# style user ids (`ana+test@example.com`), nothing that needs quoting in baggage or PromQL.
SAFE_CHARACTERS_DESCRIPTION: Final = "letters, digits and . _ - : / @ +"
_SAFE_VALUE: Final = re.compile(r"[A-Za-z0-9._:/@+\-]+", re.ASCII)


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


def cap_length(value: str) -> str:
    """Truncate a value that came from outside (propagated baggage) to the attribute length limit."""
    return value[:MAX_VALUE_LENGTH]
