"""The attribution keys of a span, held to the rule `costline.workflow()` enforces in the app.

Defence in depth: the spans of any instrumentation, of an app with an older costline or of a sender that
is not an instrumentation at all reach the processor, and whatever they carry would become a ledger value,
a metric label and a report cell. A value `costline.workflow()` would refuse is not recorded: the key is
`unattributed` for that call, and the rejection is returned so that the caller counts it. Keys the app's
instrumentation already dropped (named in `llm.attribution.rejected`) are returned too, so that
`costline serve` counts both in one place.
"""

from __future__ import annotations

from typing import Final

from costline import attributes as attr
from costline._validation import is_valid_value
from costline_processor.metric_names import REJECTED_BY_INSTRUMENTATION, REJECTED_BY_PROCESSOR
from costline_processor.normalize._values import Attributes

Rejections = tuple[tuple[str, str], ...]  # (attribution key, who rejected it)
_KEYS: Final = frozenset(attr.ATTRIBUTION_KEYS)


def read_attribution(
    attrs: Attributes, keys: tuple[str, ...] = attr.ATTRIBUTION_KEYS
) -> tuple[dict[str, str], Rejections]:
    """The valid values of `keys` in `attrs`, and every rejection (the processor's and the app's)."""
    found: dict[str, str] = {}
    rejected: list[tuple[str, str]] = []
    for key in keys:
        value = attrs.get(key)
        if value is None or value == "":
            continue
        if is_valid_value(value):
            found[key] = value
        else:
            rejected.append((key, REJECTED_BY_PROCESSOR))
    reported = attrs.get(attr.LLM_ATTRIBUTION_REJECTED)
    if reported is not None:
        rejected.extend((key, REJECTED_BY_INSTRUMENTATION) for key in _reported_keys(reported))
    return found, tuple(rejected)


def _reported_keys(reported: object) -> list[str]:
    """The attribution keys an app named as rejected: only known keys, each once (bounded label values)."""
    names = [reported] if isinstance(reported, str) else reported if isinstance(reported, list) else []
    return sorted({name for name in names if name in _KEYS})
