"""Cost per outcome before and after, and the month-end and year-end projection, in every format."""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from html import escape
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from costline.attributes import WORKFLOW_ID
from costline_processor.report.html_table import grid
from costline_processor.report.money import NOT_PRICED, exact, unit_usd, usd
from costline_processor.report.trend import OutcomeTrend, Projection

OUTCOME_TITLE: Final = "Cost per outcome, before \N{RIGHTWARDS ARROW} after"
HEADINGS: Final = ("outcome", "before", "count before", "after", "count after", "change")
UNIT: Final = Decimal("0.000001")


def _unit(value: Decimal | None) -> str:
    return NOT_PRICED if value is None else unit_usd(value)


def _change(value: Decimal | None) -> str:
    return "" if value is None else f"{value:+.1%}"


def outcome_cells(row: OutcomeTrend) -> list[str]:
    return [
        row.workflow_id,
        row.outcome,
        _unit(row.before_per_outcome),
        f"{row.before_count:,}",
        _unit(row.after_per_outcome),
        f"{row.after_count:,}",
        _change(row.change_share),
    ]


def projection_lines(projection: Projection) -> list[str]:
    if projection.growth_per_month is None:
        pace = "at the later window's pace (no earlier spend to measure growth against)"
    else:
        pace = f"at the current growth rate ({projection.growth_per_month:+.1%} a month)"
    return [
        f"projected {projection.month} month end {pace}: {usd(projection.month_end)}"
        f" ({usd(projection.month_to_date)} spent to {projection.as_of:%Y-%m-%d %H:%M} UTC)",
        f"projected {projection.year} year end {pace}: {usd(projection.year_end)}"
        f" ({usd(projection.year_to_date)} spent so far this year;"
        f" at a flat pace {usd(projection.year_end_flat)})",
    ]


def table(outcomes: Sequence[OutcomeTrend], projection: Projection, *, width: int = 120) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    if outcomes:
        outcome_grid = Table(title=OUTCOME_TITLE)
        outcome_grid.add_column(WORKFLOW_ID)
        for heading in HEADINGS:
            outcome_grid.add_column(heading, justify="left" if heading == "outcome" else "right")
        for row in outcomes:
            outcome_grid.add_row(*outcome_cells(row))
        console.print(outcome_grid)
    for line in projection_lines(projection):
        console.print(line, markup=False, highlight=False)
    return buffer.getvalue()


def _optional(value: Decimal | None) -> str | None:
    return None if value is None else exact(value.quantize(UNIT))


def to_dict(outcomes: Sequence[OutcomeTrend], projection: Projection) -> dict[str, Any]:
    growth = projection.growth_per_month
    return {
        "cost_per_outcome": [
            {
                WORKFLOW_ID: row.workflow_id,
                "outcome": row.outcome,
                "before_count": row.before_count,
                "before_cost_per_outcome_usd": _optional(row.before_per_outcome),
                "after_count": row.after_count,
                "after_cost_per_outcome_usd": _optional(row.after_per_outcome),
                "change_share": None if row.change_share is None else float(row.change_share),
            }
            for row in outcomes
        ],
        "projection": {
            "as_of": projection.as_of.isoformat(),
            "growth_per_month": None if growth is None else float(growth),
            "month": projection.month,
            "month_to_date_usd": exact(projection.month_to_date),
            "month_end_usd": exact(projection.month_end),
            "year": projection.year,
            "year_to_date_usd": exact(projection.year_to_date),
            "year_end_usd": exact(projection.year_end),
            "year_end_flat_usd": exact(projection.year_end_flat),
        },
    }


def section(outcomes: Sequence[OutcomeTrend], projection: Projection) -> str:
    parts = []
    if outcomes:
        header = [(WORKFLOW_ID, False), *((h, h != "outcome") for h in HEADINGS)]
        rows = [outcome_cells(row) for row in outcomes]
        parts.append(f"<h3>{escape(OUTCOME_TITLE)}</h3>{grid(header, rows, table_id='outcome-trend-table')}")
    lines = "".join(f"<li>{escape(line)}</li>" for line in projection_lines(projection))
    parts.append(f"<h3>Projection</h3><ul id=projection>{lines}</ul>")
    return "".join(parts)
