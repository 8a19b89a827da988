"""Inline SVG charts of the HTML report: spend per group, daily spend with money and date axes, budgets."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from html import escape
from math import ceil
from typing import Final

from costline_processor.report.analysis import Anomaly, BudgetUse
from costline_processor.report.money import CENT, NOT_PRICED, unit_usd, usd

PALETTE: Final = (
    "#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00", "#b82e2e",
)  # fmt: skip
STATUS_COLORS: Final = {
    "on track": "#109618",
    "projected near budget": "#ff9900",
    "projected over budget": "#dc3912",
    "over budget": "#dc3912",
}
MAX_Y_INTERVALS: Final = 6  # at most this many intervals on the money axis
X_TICK_DAYS: Final = (1, 2, 7, 14, 28, 91)  # candidate date-tick intervals, the first giving <= MAX_X_TICKS
MAX_X_TICKS: Final = 8
BUDGET_SCALE_MAX: Final = Decimal(2)  # budget bars are drawn up to 200 % of the budget


def colors(workflows: Sequence[str]) -> dict[str, str]:
    """One color per workflow, the same in every chart."""
    return {workflow: PALETTE[i % len(PALETTE)] for i, workflow in enumerate(sorted(workflows))}


def bar_chart(
    bars: Sequence[tuple[str, Decimal | None]], *, palette: Mapping[str, str], chart_id: str
) -> str:
    """Horizontal bars; a bar whose value is None (no priced call) is drawn empty and labelled as such."""
    height = 24 * len(bars) + 10
    top = max((value for _, value in bars if value is not None), default=Decimal(1)) or Decimal(1)
    rows = []
    for i, (label, value) in enumerate(bars):
        width = float((value or 0) / top) * 560
        y = 5 + 24 * i
        shown = NOT_PRICED + " no priced calls" if value is None else usd(value)
        rows.append(
            f'<text x="0" y="{y + 15}">{escape(label[:40])}</text>'
            f'<rect x="300" y="{y}" width="{width:.1f}" height="18" '
            f'fill="{palette.get(label, PALETTE[i % len(PALETTE)])}">'
            f"<title>{escape(label)}: {escape(shown)}</title></rect>"
            f'<text x="{305 + width:.1f}" y="{y + 14}">{escape(shown)}</text>'
        )
    return f'<svg id="{chart_id}" class=chart width="960" height="{height}" role="img">{"".join(rows)}</svg>'


def money_ticks(top: Decimal) -> list[Decimal]:
    """0 up to at least `top`, in the finest step of 1, 2 or 5 times a power of ten that needs at most
    MAX_Y_INTERVALS intervals (so there are always at least three)."""
    top = top if top > 0 else Decimal(1)
    magnitude = Decimal(10) ** (top / MAX_Y_INTERVALS).adjusted()
    step = next(m * magnitude for m in (1, 2, 5, 10) if top / (m * magnitude) <= MAX_Y_INTERVALS)
    count = int((top / step).to_integral_value(ROUND_CEILING))
    return [step * n for n in range(count + 1)]


def date_ticks(days: Sequence[date]) -> list[int]:
    """Indexes of the days that get a date label: every N days from the first, and the last."""
    if not days:
        return []
    every = next((n for n in X_TICK_DAYS if ceil(len(days) / n) <= MAX_X_TICKS), X_TICK_DAYS[-1])
    ticks = list(range(0, len(days), every))
    if len(days) - 1 - ticks[-1] >= every / 2:
        ticks.append(len(days) - 1)
    return ticks


def line_chart(
    daily: Mapping[str, Mapping[date, Decimal]], days: Sequence[date], anomalies: Sequence[Anomaly]
) -> str:
    width, height, left, right, top_margin, bottom = 960, 300, 70, 20, 10, 40
    plot_w, plot_h = width - left - right, height - top_margin - bottom
    peak = max((cost for series in daily.values() for cost in series.values()), default=Decimal(0))
    ticks = money_ticks(peak)
    scale = ticks[-1]
    step = plot_w / max(len(days) - 1, 1)

    def y_of(value: Decimal) -> float:
        return top_margin + plot_h - float(value / scale) * plot_h

    parts = [_y_axis(ticks, y_of, left, width - right), _x_axis(days, step, left, height - bottom)]
    legend = []
    flagged = {(a.workflow_id, a.day) for a in anomalies}
    palette = colors(list(daily))
    for workflow, series in sorted(daily.items()):
        points = [(left + step * n, y_of(series.get(day, Decimal(0)))) for n, day in enumerate(days)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(
            f'<polyline fill="none" stroke="{palette[workflow]}" stroke-width="2" points="{path}">'
            f"<title>{escape(workflow)}</title></polyline>"
        )
        parts += [
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="none" stroke="#d00" stroke-width="2">'
            f"<title>anomaly: {escape(workflow)} {day}</title></circle>"
            for (x, y), day in zip(points, days, strict=True)
            if (workflow, day) in flagged
        ]
        legend.append(f'<span style="color:{palette[workflow]}">&#9632; {escape(workflow)}</span>')
    svg = f'<svg id="daily-spend" class=chart width="{width}" height="{height}" role="img">'
    return f"{svg}{''.join(parts)}</svg><div class=legend>{' &nbsp; '.join(legend)}</div>"


def _y_axis(ticks: Sequence[Decimal], y_of: Callable[[Decimal], float], left: int, right: int) -> str:
    label = usd if all(tick == tick.quantize(CENT) for tick in ticks) else unit_usd
    marks = []
    for tick in ticks:
        y = y_of(tick)
        marks.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{label(tick)}</text>'
        )
    return f'<g id="y-ticks">{"".join(marks)}</g>'


def _x_axis(days: Sequence[date], step: float, left: int, baseline: int) -> str:
    marks = []
    for index in date_ticks(days):
        x = left + step * index
        marks.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{baseline}" y2="{baseline + 5}" stroke="#666"/>'
            f'<text x="{x:.1f}" y="{baseline + 18}" text-anchor="middle">{days[index]:%b %d}</text>'
        )
    end = left + step * max(len(days) - 1, 1)
    axis = f'<line x1="{left}" x2="{end:.1f}" y1="{baseline}" y2="{baseline}" stroke="#666"/>'
    return f'<g id="x-ticks">{axis}{"".join(marks)}</g>'


def budget_bar(budget: BudgetUse) -> str:
    """Spent (solid) and projected (light) against the budget (the line at 100 %), coloured by projection."""
    width, track = 320, 300
    scale = min(max(budget.projected_share, Decimal(1)), BUDGET_SCALE_MAX)

    def x_of(share: Decimal) -> float:
        return float(min(share, BUDGET_SCALE_MAX) / scale) * track

    color = STATUS_COLORS[budget.status]
    limit = x_of(Decimal(1))
    return (
        f'<svg class="budget-bar" width="{width}" height="20" role="img">'
        f'<rect x="0" y="2" width="{track}" height="16" fill="#eee"/>'
        f'<rect x="0" y="2" width="{x_of(budget.projected_share):.1f}" height="16" fill="{color}"'
        ' opacity="0.35">'
        f"<title>projected {budget.projected_share:.0%}</title></rect>"
        f'<rect x="0" y="2" width="{x_of(budget.used_share):.1f}" height="16" fill="{color}">'
        f"<title>spent {budget.used_share:.0%}</title></rect>"
        f'<line x1="{limit:.1f}" x2="{limit:.1f}" y1="0" y2="20" stroke="#222" stroke-width="2">'
        "<title>budget</title></line></svg>"
    )


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
