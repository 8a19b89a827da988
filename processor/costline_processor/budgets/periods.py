"""UTC calendar periods: a day is [00:00, next 00:00), a month is [the 1st 00:00, the next 1st 00:00).

Spend is kept per UTC day (days since 1970-01-01, what `time_ns // NS_PER_DAY` gives), so a period is a
range of day numbers and its spend a sum over them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

from costline_processor import metric_names as names

_EPOCH: Final = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Period:
    """One period: its first day and the day it resets on (exclusive), as day numbers."""

    first_day: int
    reset_day: int

    @property
    def start(self) -> datetime:
        return day_start(self.first_day)

    @property
    def resets_at(self) -> datetime:
        return day_start(self.reset_day)


def day_number(moment: datetime) -> int:
    return (moment.astimezone(UTC).date() - _EPOCH).days


def day_start(day: int) -> datetime:
    return datetime.combine(_EPOCH + timedelta(days=day), datetime.min.time(), tzinfo=UTC)


def current_period(period: str, now: datetime) -> Period:
    """The daily or monthly period `now` falls in."""
    today = day_number(now)
    if period == names.PERIOD_DAILY:
        return Period(today, today + 1)
    first = now.astimezone(UTC).date().replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period((first - _EPOCH).days, (following - _EPOCH).days)


def rfc3339(moment: datetime) -> str:
    """`2026-12-01T00:00:00Z`: UTC, whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
