"""The processor's own health counters (`costline_*`), rendered on the same /metrics as the cost metrics.

Names are defined in metric_names (SELF_*). A counter name ends in `_total`; anything set with
`set_gauge` is a gauge. Label values come from costline's own code (a transport, a reason), never from
span data, so they are low-cardinality by construction.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Final

from costline_processor import metric_names as names

_NAME: Final = re.compile(r"costline_[a-z0-9_]+")
DEFAULT_HELP: Final = "costline processor self-telemetry."
HELP: Final[dict[str, str]] = {
    names.SELF_SPANS_RECEIVED: "Spans received by the processor.",
    names.SELF_LLM_SPANS_RECEIVED: "LLM spans received by the processor.",
    names.SELF_SPANS_FORWARDED: "Spans forwarded to the trace backend.",
    names.SELF_SPANS_DROPPED: "Spans the trace backend rejected for good.",
    names.SELF_REQUESTS_REFUSED: "Export requests refused with a retryable status, by reason.",
    names.SELF_REQUESTS_INVALID: "Export requests rejected as invalid, by reason.",
    names.SELF_FORWARD_FAILURES: "Failed attempts to forward spans to the trace backend.",
    names.SELF_INFLIGHT_BATCHES: "Export requests being processed right now.",
    names.SELF_SPANS_PRICED: "New LLM calls priced and counted.",
    names.SELF_SPANS_UNPRICED: "New LLM calls that could not be priced, by reason.",
    names.SELF_DUPLICATES_IGNORED: "Calls or outcomes counted once despite a second span, by kind.",
    names.SELF_RESPONSE_ID_COLLISIONS: (
        "New LLM calls counted on their own although a different call of their trace has their response id."
    ),
    names.SELF_START_TIME_OUT_OF_RANGE: (
        "LLM spans whose start time was unset, older than the retention or over a day ahead:"
        " recorded at the time they arrived."
    ),
    names.SELF_EXPORT_FAILURES: "Failed pushes of the cost metrics, by target.",
    names.SELF_EXPORTS: "Successful pushes of the cost metrics, by target.",
    names.SELF_LABEL_OVERFLOW: "Label values replaced by __overflow__ by the cardinality guard, by label.",
    names.SELF_ATTRIBUTION_REJECTED: (
        "Attribution values of new calls and outcomes that costline.workflow() would refuse, left unrecorded,"
        " by key and rejected_by (instrumentation: dropped from baggage in the app; processor: on the span)."
    ),
}

LabelSet = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class TelemetrySnapshot:
    counters: dict[str, dict[LabelSet, float]]
    gauges: dict[str, dict[LabelSet, float]]


class SelfTelemetry:
    """Thread-safe counters and gauges of the processor itself."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[LabelSet, float]] = {}
        self._gauges: dict[str, dict[LabelSet, float]] = {}

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        """Add `amount` (>= 0) to the counter `name` with these labels."""
        if amount < 0:
            raise ValueError(f"{name}: a counter cannot decrease (got {amount})")
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._counters.get(name)
            if series is None:
                if not (_NAME.fullmatch(name) and name.endswith("_total")):
                    raise ValueError(f"counter names are costline_*_total in snake case (got {name!r})")
                series = self._counters[name] = {}
            series[key] = series.get(key, 0) + amount

    def set_gauge(self, name: str, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._gauges.get(name)
            if series is None:
                if not _NAME.fullmatch(name) or name.endswith("_total"):
                    raise ValueError(f"gauge names are costline_* in snake case, not *_total (got {name!r})")
                series = self._gauges[name] = {}
            series[key] = value

    def value(self, name: str, **labels: str) -> float:
        """The current value of one series (0 if never set)."""
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._counters.get(name) or self._gauges.get(name) or {}
            return series.get(key, 0)

    def snapshot(self) -> TelemetrySnapshot:
        with self._lock:
            return TelemetrySnapshot(
                counters={name: dict(series) for name, series in self._counters.items()},
                gauges={name: dict(series) for name, series in self._gauges.items()},
            )
