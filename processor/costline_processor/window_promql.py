"""PromQL for what a costline counter added inside a time window, exact across replica churn, counter
resets and missing samples. Shared by `costline report --prometheus`, the dashboards and the ruler.

Per series (one label set of one costline instance), over the window (since, until]:

- `m`, `l`: the largest and the last sample in the window. A series that ended inside the window (a
  replica scaled down or replaced) still has them, so it still counts.
- `seen`: its last sample in the *lookback* before the window: the value at `since`. It is looked up
  over a range, not with `offset` alone, so a failed scrape (a staleness marker) or a short gap at the
  window start does not hide it.
- A series with no `seen` was born inside the window, and counts from zero, when its instance is
  known to have had no such series then: the instance's `costline_counters_start_time_seconds` gauge
  was observed in the lookback (costline exposes every label set it ever counted, so a label set
  missing from a scrape or push that arrived did not exist yet), or that gauge says every ledger the
  instance had in the window started after the lookback began (a new replica). Otherwise (a
  monitoring gap longer than the lookback, or a backend without the gauge) its smallest value in the
  window, i.e. its first sample, is the baseline: the spend up to that sample is left out rather than
  the series' whole history counted in.
- Counter resets (a ledger lost under a kept instance id: every series of the instance restarts at 0)
  are found with `resets()`. The segment that ended counts up to its last value, which is the window's
  largest value while the new ledger has not outgrown it (`m`); a drop right at the window start
  shows as `seen > m`, and then only the new segment counts.

    total = m + (resets > 0) * l - baseline,   baseline = seen (if seen <= m) | 0 (drop or born) | min

Exact, to float precision, wherever samples exist; `increase()` is not used because it extrapolates
to the window edges. What is not exact (docs/metrics.md, "Guarantees"): a series that resets more than
once in one window, or whose new ledger outgrows the old one within it; a monitoring gap longer than
the lookback across the window start (the gap's spend is left out); a born series on a backend
without the start-time gauge (its first sample is left out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from costline_processor.metric_names import INSTANCE_LABELS, PROM_COUNTERS_START_TIME_SECONDS

SECONDS_PER_DAY: Final = 86400
_UNITS: Final = (("d", SECONDS_PER_DAY), ("h", 3600), ("m", 60), ("s", 1))


def duration(seconds: int) -> str:
    """A PromQL duration literal: 86400 -> "1d", 5400 -> "90m"."""
    return next(f"{seconds // size}{unit}" for unit, size in _UNITS if seconds % size == 0)


@dataclass(frozen=True)
class Window:
    """A window's length as PromQL text: a duration (`1h`, `$__range`) and the same in seconds (`3600`,
    `$__range_s`), with the lookback in which a series' value at the window start is searched."""

    range: str
    seconds: str
    lookback: str = "1d"
    lookback_seconds: str = str(SECONDS_PER_DAY)

    @classmethod
    def of(cls, seconds: int) -> Window:
        """A fixed window; the lookback is a day for windows of a day or more, an hour below."""
        lookback = SECONDS_PER_DAY if seconds >= SECONDS_PER_DAY else 3600
        return cls(duration(seconds), str(seconds), duration(lookback), str(lookback))

    @classmethod
    def of_milliseconds(cls, milliseconds: int) -> Window:
        """Any window (a report's since..until), to the millisecond."""
        lookback = SECONDS_PER_DAY if milliseconds >= SECONDS_PER_DAY * 1000 else 3600
        seconds = f"{milliseconds // 1000}.{milliseconds % 1000:03d}"
        return cls(f"{milliseconds}ms", seconds, duration(lookback), str(lookback))


def _instances_known_before(window: Window) -> str:
    """One 0-valued sample per instance whose series set at the window start is known (see above)."""
    gauge = PROM_COUNTERS_START_TIME_SECONDS
    observed = f"last_over_time({gauge}[{window.lookback}] offset {window.range})"
    # The earliest ledger seen in the window: after a reset the latest one says nothing about the old series.
    started = (
        f"min_over_time({gauge}[{window.range}]) > time() - {window.seconds} - {window.lookback_seconds}"
    )
    return f"0 * max by ({', '.join(INSTANCE_LABELS)}) ({observed} or {started})"


def series_total(series: str, window: Window) -> str:
    """Per series: what `series` (a counter selector) added in the window ending at evaluation time."""
    over = f"{series}[{window.range}]"
    largest, last, smallest = f"max_over_time({over})", f"last_over_time({over})", f"min_over_time({over})"
    seen = f"last_over_time({series}[{window.lookback}] offset {window.range})"
    born = f"{smallest} * on({', '.join(INSTANCE_LABELS)}) group_left() ({_instances_known_before(window)})"
    baseline = f"({seen} <= {largest}) or (0 * {seen}) or ({born}) or {smallest}"
    return f"{largest} + (resets({over}) > bool 0) * {last} - ({baseline})"


def window_total(series: str, by: tuple[str, ...], window: Window) -> str:
    """`series_total` summed by `by` (every series when `by` is empty)."""
    grouping = f"sum by ({', '.join(by)})" if by else "sum"
    return f"{grouping} ({series_total(series, window)})"
