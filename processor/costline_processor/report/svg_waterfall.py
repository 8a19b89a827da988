"""An inline SVG waterfall: the earlier total, one floating bar per step (a rise in red, a fall in green),
the later total. No scripts; every bar has a <title> with its exact label and amount."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from html import escape
from typing import Final

from costline_processor.report.money import usd
from costline_processor.report.svg import money_ticks

TOTAL_COLOR: Final = "#3366cc"
RISE_COLOR: Final = "#dc3912"  # spend going up is the bad news
FALL_COLOR: Final = "#109618"
WIDTH: Final = 960
HEIGHT: Final = 320
LEFT: Final = 80
BOTTOM: Final = 70  # room for the slanted step labels
TOP: Final = 24
LABEL_CHARS: Final = 28


def waterfall(
    chart_id: str, start: tuple[str, Decimal], steps: Sequence[tuple[str, Decimal]], end: tuple[str, Decimal]
) -> str:
    """Bars from `start` through each step to `end` (the steps must sum to end - start)."""
    running = [start[1]]
    for _, amount in steps:
        running.append(running[-1] + amount)
    ticks = money_ticks(max([*running, end[1], Decimal(0)]))
    scale = ticks[-1]
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - 10) / (len(steps) + 2)

    def y_of(value: Decimal) -> float:
        return TOP + plot_h - float(value / scale) * plot_h

    bars = [
        _bar((0, slot), start[0], (Decimal(0), start[1]), color=TOTAL_COLOR, y_of=y_of, shown=usd(start[1]))
    ]
    for index, (label, amount) in enumerate(steps, start=1):
        low, high = sorted((running[index - 1], running[index]))
        color = RISE_COLOR if amount > 0 else FALL_COLOR
        shown = f"+{usd(amount)}" if amount > 0 else usd(amount)
        bars.append(_bar((index, slot), label, (low, high), color=color, y_of=y_of, shown=shown))
    last = (len(steps) + 1, slot)
    bars.append(_bar(last, end[0], (Decimal(0), end[1]), color=TOTAL_COLOR, y_of=y_of, shown=usd(end[1])))
    axis = "".join(
        f'<line x1="{LEFT}" x2="{WIDTH - 10}" y1="{y_of(t):.1f}" y2="{y_of(t):.1f}" stroke="#ddd"/>'
        f'<text x="{LEFT - 6}" y="{y_of(t) + 4:.1f}" text-anchor="end">{usd(t)}</text>'
        for t in ticks
    )
    return (
        f'<svg id="{chart_id}" class=chart width="{WIDTH}" height="{HEIGHT}" role="img">'
        f'<g class="y-ticks">{axis}</g>{"".join(bars)}</svg>'
    )


def _bar(
    place: tuple[int, float],
    label: str,
    span: tuple[Decimal, Decimal],
    *,
    color: str,
    y_of: Callable[[Decimal], float],
    shown: str,
) -> str:
    """Bar number `index` of slots `slot` wide, from `low` to `high`."""
    (index, slot), (low, high) = place, span
    x = LEFT + slot * index + slot * 0.15
    width = slot * 0.7
    top, bottom = y_of(high), y_of(low)
    height = max(bottom - top, 1.0)
    short = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "\N{HORIZONTAL ELLIPSIS}"
    centre = x + width / 2
    base = HEIGHT - BOTTOM + 14
    return (
        f'<rect x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{color}">'
        f"<title>{escape(label)}: {escape(shown)}</title></rect>"
        f'<text x="{centre:.1f}" y="{top - 5:.1f}" text-anchor="middle">{escape(shown)}</text>'
        f'<text x="{centre:.1f}" y="{base}" text-anchor="end" transform="rotate(-25 {centre:.1f} {base})">'
        f"{escape(short)}</text>"
    )
