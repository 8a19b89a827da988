"""Time windows a report compares, and the periods a revenue file names.

A window is [since, until) in UTC, as `--since/--until` are. `--compare` names the other window:
`previous` (the same length, just before), a period (`2026-10`, `2026-Q3`, `2026`) or `START..END` (END
excluded, as `--until` is). Revenue files name periods the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Final

from costline_processor.report.facts import ReportInputError

COMPARE_PREVIOUS: Final = "previous"
RANGE_SEPARATOR: Final = ".."
SECONDS_PER_DAY: Final = Decimal(86400)
_MONTH: Final = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER: Final = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_YEAR: Final = re.compile(r"^(\d{4})$")


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime
    until: datetime  # excluded

    @property
    def days(self) -> Decimal:
        """The window's length in days (exact: whole seconds; a fraction for a window of hours)."""
        return Decimal(int((self.until - self.since).total_seconds())) / SECONDS_PER_DAY

    @property
    def last_day(self) -> date:
        return (self.until - timedelta(microseconds=1)).astimezone(UTC).date()

    def label(self) -> str:
        """Both ends as dates when the window is whole days, e.g. `2026-10-01 to 2026-10-31` (inclusive)."""
        if _midnight(self.since) and _midnight(self.until):
            return f"{self.since.astimezone(UTC).date()} to {self.last_day}"
        return f"{self.since:%Y-%m-%d %H:%M} to {self.until:%Y-%m-%d %H:%M} UTC"

    def contains(self, moment: datetime) -> bool:
        return self.since <= moment < self.until

    def overlaps(self, other: Window) -> bool:
        return self.since < other.until and other.since < self.until


def _midnight(moment: datetime) -> bool:
    moment = moment.astimezone(UTC)
    return (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)


def _utc_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def parse_period(text: str) -> Window | None:
    """`2026-11` (a month), `2026-Q4` (a quarter) or `2026` (a year) as a window; None if it is none."""
    text = text.strip()
    if match := _MONTH.match(text):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            return None
        return Window(_utc_day(date(year, month, 1)), _utc_day(_month_after(year, month)))
    if match := _QUARTER.match(text):
        year, quarter = int(match.group(1)), int(match.group(2))
        first = 3 * (quarter - 1) + 1
        return Window(_utc_day(date(year, first, 1)), _utc_day(_month_after(year, first + 2)))
    if match := _YEAR.match(text):
        year = int(match.group(1))
        return Window(_utc_day(date(year, 1, 1)), _utc_day(date(year + 1, 1, 1)))
    return None


def _month_after(year: int, month: int) -> date:
    return date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)


def checked(window: Window, name: str) -> Window:
    if window.since >= window.until:
        raise ReportInputError(f"{name} is empty: {window.since:%Y-%m-%d %H:%M} is not before its end")
    return window


def compare_window(value: str, current: Window, parse_moment: Callable[[str], datetime]) -> Window:
    """The window `--compare VALUE` names, checked against the report's own window; `parse_moment` reads
    START and END as `--since/--until` are read."""
    text = value.strip()
    if text == COMPARE_PREVIOUS:
        other = Window(current.since - (current.until - current.since), current.since)
    elif period := parse_period(text):
        other = period
    elif RANGE_SEPARATOR in text:
        start, _, end = text.partition(RANGE_SEPARATOR)
        other = Window(parse_moment(start), parse_moment(end))
    else:
        raise ReportInputError(
            f"--compare must be 'previous', a period (2026-10, 2026-Q3, 2026) or START..END (got {value!r})"
        )
    checked(other, f"--compare {text}")
    if other.overlaps(current):
        raise ReportInputError(
            f"--compare {text} ({other.label()}) overlaps the report window ({current.label()}):"
            " compare two separate windows, e.g. --compare previous"
        )
    return other
