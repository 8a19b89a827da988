"""The cardinality guard: label values are sanitised, length-capped and admitted up to a limit per label.

A value arriving after its label is full becomes `__overflow__` (and is counted), so a workflow id that
is really a per-run UUID costs one series, not one per run. Values are admitted in order of first
appearance; the ledger replays its totals in that order after a restart, so the same values get the same
decisions (`CostMetrics.seed_from`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from costline.attributes import UNATTRIBUTED
from costline_processor import metric_names as names
from costline_processor.ledger.rows import LabelKey

BASE_LABELS: Final = (
    names.LABEL_WORKFLOW_ID, names.LABEL_FEATURE_ID, names.LABEL_TENANT_ID,
    names.LABEL_SERVICE_NAME, names.LABEL_PROVIDER, names.LABEL_MODEL,
)  # fmt: skip
SERIES_OVERFLOW_LABEL: Final = "__series__"  # the `label` value counted when the label-set cap is hit
OVERFLOW_KEY: Final[LabelKey] = (names.OVERFLOW_LABEL_VALUE,) * 6
_ALWAYS_ADMITTED: Final = frozenset({UNATTRIBUTED, names.OVERFLOW_LABEL_VALUE})


@dataclass(frozen=True, slots=True)
class LabelLimits:
    """Bounds on metric cardinality.

    `max_values_per_label`: distinct values per label name (e.g. workflow_id) before `__overflow__`;
    `max_label_length`: characters kept of a value; `max_series`: distinct label sets (workflow, feature,
    tenant, service, provider, model) before a new one is folded into the all-`__overflow__` set.
    """

    max_values_per_label: int = 500
    max_label_length: int = 128
    max_series: int = 20_000

    def __post_init__(self) -> None:
        for name in ("max_values_per_label", "max_label_length", "max_series"):
            if getattr(self, name) < 1:
                raise ValueError(f"LabelLimits.{name} must be >= 1 (got {getattr(self, name)})")


def sanitize(value: str, max_length: int) -> str:
    """A label value safe for any backend: control and unencodable characters become `_`, length capped."""
    if value.isprintable() and len(value) <= max_length:
        return value  # the common case: no copy
    # Lone surrogates (undecodable bytes) and control characters are not printable.
    cleaned = "".join(ch if ch.isprintable() else "_" for ch in value[:max_length])
    return cleaned or UNATTRIBUTED


class LabelGuard:
    """Maps raw label values to admitted ones. Not thread-safe: `CostMetrics` holds its lock around it."""

    def __init__(self, limits: LabelLimits, on_overflow: Callable[[str], None]) -> None:
        self._limits = limits
        self._on_overflow = on_overflow
        self._admitted: dict[str, set[str]] = {}
        self._series: set[LabelKey] = set()
        # raw key -> mapped key for keys that needed no overflow; bounded, cleared when full
        self._cache: dict[LabelKey, LabelKey] = {}

    @property
    def series_count(self) -> int:
        return len(self._series)

    def map_value(self, label: str, raw: str) -> str:
        admitted = self._admitted.get(label)
        if admitted is None:
            admitted = self._admitted[label] = set()
        if raw in admitted or raw in _ALWAYS_ADMITTED:
            return raw
        value = sanitize(raw, self._limits.max_label_length)
        if value in admitted or value in _ALWAYS_ADMITTED:
            return value
        if len(admitted) < self._limits.max_values_per_label:
            admitted.add(value)
            return value
        self._on_overflow(label)
        return names.OVERFLOW_LABEL_VALUE

    def map_key(self, raw: LabelKey) -> LabelKey:
        """The admitted label set for a call's raw label values."""
        cached = self._cache.get(raw)
        if cached is not None:
            return cached
        mapped: LabelKey = tuple(  # type: ignore[assignment]
            self.map_value(label, value) for label, value in zip(BASE_LABELS, raw, strict=True)
        )
        if mapped not in self._series:
            if len(self._series) >= self._limits.max_series:
                self._on_overflow(SERIES_OVERFLOW_LABEL)
                return OVERFLOW_KEY
            self._series.add(mapped)
        if names.OVERFLOW_LABEL_VALUE not in mapped:
            if len(self._cache) >= 2 * self._limits.max_series:
                self._cache.clear()
            self._cache[raw] = mapped
        return mapped
