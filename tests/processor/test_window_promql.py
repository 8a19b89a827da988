"""The window builder's durations: PromQL literals that name the same length as the seconds beside them
(the queries themselves are checked on a real Prometheus in tests/dashboards)."""

from __future__ import annotations

import pytest

from costline_processor.window_promql import Window, duration


@pytest.mark.parametrize(
    ("seconds", "literal"), [(86400, "1d"), (7 * 86400, "7d"), (3600, "1h"), (5400, "90m"), (61, "61s")]
)
def test_durations_are_the_largest_whole_unit(seconds: int, literal: str) -> None:
    assert duration(seconds) == literal


def test_the_lookback_is_a_day_for_long_windows_and_an_hour_for_short_ones() -> None:
    assert Window.of(86400) == Window("1d", "86400", "1d", "86400")
    assert Window.of(3600) == Window("1h", "3600", "1h", "3600")


def test_a_report_window_is_exact_to_the_millisecond() -> None:
    assert Window.of_milliseconds(2 * 86400 * 1000 + 1) == Window("172800001ms", "172800.001", "1d", "86400")
    assert Window.of_milliseconds(1500) == Window("1500ms", "1.500", "1h", "3600")
