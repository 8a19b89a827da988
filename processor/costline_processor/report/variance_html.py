"""The comparison's HTML section: the summary paragraph, two waterfalls (by driver, by group), the table of
drivers and the named changes. Same words and amounts as the terminal (`variance_render`)."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Final

from costline_processor.report import summary, trend_render
from costline_processor.report.comparison import Comparison
from costline_processor.report.html_table import grid
from costline_processor.report.svg_waterfall import waterfall
from costline_processor.report.variance import Variance
from costline_processor.report.variance_render import notes, row_cells, title, total_cells
from costline_processor.report.variance_summary import DRIVERS, group_name

GROUP_BARS: Final = 8  # the group waterfall shows this many groups, then "other"


def section(comparison: Comparison) -> str:
    variance = comparison.variance
    parts = [
        f"<p id=comparison-summary>{escape(comparison.summary)}</p>",
        "<h3>By driver</h3>",
        _driver_waterfall(variance),
        f"<h3>By {escape(', '.join(variance.by))}</h3>",
        _group_waterfall(variance),
        _table(variance),
        *(f"<p class=note>{escape(line)}</p>" for line in notes(comparison)),
        trend_render.section(comparison.outcomes, comparison.projection),
        _changes(comparison),
    ]
    return f"<section id=comparison><h2>{escape(title(variance))}</h2>{''.join(parts)}</section>"


def _driver_waterfall(variance: Variance) -> str:
    steps = [(label, variance.total(name)) for name, label in DRIVERS]
    return waterfall(
        "waterfall-drivers",
        (f"before ({variance.before.label()})", variance.before_cost),
        steps,
        (f"after ({variance.after.label()})", variance.after_cost),
    )


def _group_waterfall(variance: Variance) -> str:
    movers = sorted(variance.rows, key=lambda row: -abs(row.change))
    steps = [(group_name(row), row.change) for row in movers[:GROUP_BARS] if row.change]
    rest = sum((row.change for row in movers[GROUP_BARS:]), Decimal(0))
    if rest:
        steps.append((f"{len(movers) - GROUP_BARS} other", rest))
    ends = ("before", variance.before_cost), ("after", variance.after_cost)
    return waterfall("waterfall-groups", ends[0], steps, ends[1])


def _table(variance: Variance) -> str:
    header = [
        *((name, False) for name in variance.by),
        *((name, True) for name in ("before", "after", "change", "change %", "volume", "usage/request")),
        ("price/mix", True),
        ("requests", True),
    ]
    names = (lambda row: [group_name(row)]) if len(variance.by) == 1 else (lambda row: list(row.key))
    rows = [row_cells(row, names(row)) for row in variance.rows]
    return grid(header, [*rows, total_cells(variance)], table_id="comparison-table")


def _changes(comparison: Comparison) -> str:
    if not comparison.changes:
        return ""
    items = "".join(
        f'<li id="change-{n}"><b>{escape(c.finding.kind)}</b> {escape(summary.finding_text(c.finding))}'
        f" <span class=amount>({escape(summary.finding_amount(c.finding))})</span></li>"
        for n, c in enumerate(comparison.changes, start=1)
    )
    return f"<h3>What changed</h3><ul id=changes>{items}</ul>"
