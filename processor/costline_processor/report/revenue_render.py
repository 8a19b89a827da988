"""The margin table (revenue, AI cost, AI cost as a share of revenue, margin after AI cost) in the terminal,
CSV, JSON and HTML. A tenant without revenue has no share and no margin (empty, `null`, a dash), never 0."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from html import escape
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from costline.attributes import TENANT_ID, UNATTRIBUTED
from costline_processor.report.money import NOT_PRICED, exact, usd
from costline_processor.report.render import spreadsheet_text
from costline_processor.report.revenue import PERIOD, TenantMargin, UnitEconomics
from costline_processor.report.svg import STATUS_COLORS

HEADINGS: Final = ("revenue", "AI cost", "AI share", "margin after AI", "requests", "flag")
CSV_COLUMNS: Final = (
    TENANT_ID,
    PERIOD,
    "revenue_usd",
    "ai_cost_usd",
    "ai_cost_pct",
    "margin_usd",
    "requests",
    "unpriced_requests",
    "flag",
)
ALERT_COLOR: Final = STATUS_COLORS["over budget"]


def title(economics: UnitEconomics) -> str:
    return f"AI cost against revenue per tenant ({', '.join(economics.periods)})"


def _share(value: Decimal | None) -> str:
    return NOT_PRICED if value is None else f"{value:.1%}"


def cells(row: TenantMargin) -> list[str]:
    name = f"{row.tenant_id} (untagged)" if row.tenant_id == UNATTRIBUTED else row.tenant_id
    return [
        name,
        row.period,
        NOT_PRICED if row.revenue is None else usd(row.revenue),
        usd(row.cost),
        _share(row.cost_share),
        NOT_PRICED if row.margin is None else usd(row.margin),
        f"{row.requests:,}" + (f" ({row.unpriced:,} unpriced)" if row.unpriced else ""),
        row.flag,
    ]


def _total(economics: UnitEconomics) -> list[str]:
    share = economics.cost / economics.revenue if economics.revenue else None
    return [
        "total",
        "",
        usd(economics.revenue),
        usd(economics.cost),
        _share(share),
        usd(economics.revenue - economics.cost),
        f"{sum(row.requests for row in economics.rows):,}",
        "",
    ]


def notes(economics: UnitEconomics) -> list[str]:
    lines = [f"flagged: AI cost at or above {economics.alert_share:.0%} of revenue (--cost-share-alert)"]
    if economics.ignored_periods:
        lines.append(
            f"left out, not in the window in full: {', '.join(economics.ignored_periods)} of {economics.path}"
        )
    return lines


def table(economics: UnitEconomics, *, width: int = 120) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    grid = Table(title=title(economics))
    grid.add_column(TENANT_ID)
    grid.add_column(PERIOD)
    for heading in HEADINGS:
        flag = heading == "flag"
        grid.add_column(heading, justify="left" if flag else "right", no_wrap=flag)
    for row in economics.rows:
        grid.add_row(*cells(row))
    grid.add_section()
    grid.add_row(*_total(economics))
    console.print(grid)
    for line in notes(economics):
        console.print(line, markup=False, highlight=False)
    return buffer.getvalue()


def to_csv(economics: UnitEconomics) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in economics.rows:
        share, margin = row.cost_share, row.margin
        writer.writerow(
            [
                spreadsheet_text(row.tenant_id),
                row.period,
                "" if row.revenue is None else exact(row.revenue),
                exact(row.cost),
                "" if share is None else f"{share * 100:.2f}",
                "" if margin is None else exact(margin),
                row.requests,
                row.unpriced,
                row.flag,
            ]
        )
    return out.getvalue()


def to_dict(economics: UnitEconomics) -> dict[str, Any]:
    return {
        "file": str(economics.path),
        "alert_share": float(economics.alert_share),
        "periods": list(economics.periods),
        "ignored_periods": list(economics.ignored_periods),
        "revenue_usd": exact(economics.revenue),
        "ai_cost_usd": exact(economics.cost),
        "margin_usd": exact(economics.revenue - economics.cost),
        "rows": [
            {
                TENANT_ID: row.tenant_id,
                PERIOD: row.period,
                "revenue_usd": None if row.revenue is None else exact(row.revenue),
                "ai_cost_usd": exact(row.cost),
                "ai_cost_share": None if row.cost_share is None else float(row.cost_share),
                "margin_usd": None if row.margin is None else exact(row.margin),
                "requests": row.requests,
                "unpriced_requests": row.unpriced,
                "flag": row.flag or None,
            }
            for row in economics.rows
        ],
    }


def section(economics: UnitEconomics) -> str:
    head = "".join(
        f"<th{' class=num' if heading not in {TENANT_ID, PERIOD, 'flag'} else ''}>{escape(heading)}</th>"
        for heading in (TENANT_ID, PERIOD, *HEADINGS)
    )
    body = "".join(_html_row(cells(row), alert=bool(row.flag)) for row in economics.rows)
    body += _html_row(_total(economics), alert=False, total=True)
    notes_html = "".join(f"<p class=note>{escape(line)}</p>" for line in notes(economics))
    table_html = f"<table id=margin-table><tr>{head}</tr>{body}</table>"
    return f"<section id=unit-economics><h2>{escape(title(economics))}</h2>{table_html}{notes_html}</section>"


def _html_row(values: list[str], *, alert: bool, total: bool = False) -> str:
    style = f' style="color:{ALERT_COLOR}"' if alert else ""
    row_class = " class=total" if total else ""
    tds = "".join(
        f"<td{' class=num' if 1 < i < len(values) - 1 else ''}>{escape(value)}</td>"
        for i, value in enumerate(values)
    )
    return f"<tr{row_class}{style}>{tds}</tr>"
