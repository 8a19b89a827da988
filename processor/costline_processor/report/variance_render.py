"""The comparison as a terminal section, a CSV table and JSON: the same rows, drivers and words everywhere.

Money is shown by the rule of `report.money` in the terminal and kept as exact decimal strings in CSV and
JSON, where volume + usage per request + price/mix == change to the last digit.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from costline.attributes import WORKFLOW_ID
from costline_processor.report import summary, trend_render
from costline_processor.report.calls import by_type
from costline_processor.report.comparison import Comparison
from costline_processor.report.money import exact, usd
from costline_processor.report.render import spreadsheet_text
from costline_processor.report.variance import Variance, VarianceRow
from costline_processor.report.variance_summary import DRIVERS, group_name, percent, signed

CSV_COLUMNS: Final = (
    "before_cost_usd",
    "after_cost_usd",
    "change_usd",
    "change_pct",
    "volume_usd",
    "usage_per_request_usd",
    "price_mix_usd",
    "before_requests",
    "after_requests",
    "before_unpriced_requests",
    "after_unpriced_requests",
)


def title(variance: Variance) -> str:
    return (
        f"Spend change by {', '.join(variance.by)}:"
        f" {variance.before.label()} \N{RIGHTWARDS ARROW} {variance.after.label()}"
    )


def notes(comparison: Comparison) -> list[str]:
    variance = comparison.variance
    lines = []
    unpriced = [
        sum(row.before.unpriced for row in variance.rows),
        sum(row.after.unpriced for row in variance.rows),
    ]
    if any(unpriced):
        lines.append(
            f"unpriced requests: {unpriced[0]:,} before, {unpriced[1]:,} after (their cost is in no amount)"
        )
    if variance.not_repriced:
        lines.append(
            f"{variance.not_repriced:,} later calls had no earlier price here (pass the --price-overrides"
            " costline serve uses): counted at their own cost"
        )
    return lines


def table(comparison: Comparison, *, width: int = 120) -> str:
    variance = comparison.variance
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    console.print(comparison.summary, markup=False, highlight=False)
    console.print()
    grid = Table(title=title(variance))
    for name in variance.by:
        grid.add_column(name)
    for heading in (
        "before",
        "after",
        "change",
        "change %",
        "volume",
        "usage/request",
        "price/mix",
        "requests",
    ):
        grid.add_column(heading, justify="right")
    for row in variance.rows:
        grid.add_row(*row_cells(row, [group_name(row)] if len(variance.by) == 1 else list(row.key)))
    grid.add_section()
    grid.add_row(*total_cells(variance))
    console.print(grid)
    for line in notes(comparison):
        console.print(line, markup=False, highlight=False)
    console.print(trend_render.table(comparison.outcomes, comparison.projection), end="")
    if comparison.changes:
        console.print("\nWhat changed:")
        for change in comparison.changes:
            finding = change.finding
            line = f"  - [{finding.kind}] {summary.finding_text(finding)}; {summary.finding_amount(finding)}"
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    return buffer.getvalue()


def row_cells(row: VarianceRow, names: list[str]) -> list[str]:
    return [
        *names,
        usd(row.before.cost),
        usd(row.after.cost),
        signed(row.change),
        percent(row.change_share) if row.before.cost or row.after.cost else "",
        signed(row.volume),
        signed(row.usage_per_request),
        signed(row.price_mix),
        f"{row.before.requests:,} \N{RIGHTWARDS ARROW} {row.after.requests:,}",
    ]


def total_cells(variance: Variance) -> list[str]:
    before = sum(row.before.requests for row in variance.rows)
    after = sum(row.after.requests for row in variance.rows)
    return [
        "total",
        *[""] * (len(variance.by) - 1),
        usd(variance.before_cost),
        usd(variance.after_cost),
        signed(variance.change),
        percent(variance.change_share),
        *(signed(variance.total(name)) for name, _ in DRIVERS),
        f"{before:,} \N{RIGHTWARDS ARROW} {after:,}",
    ]


def _share(share: Decimal | None) -> str:
    return "" if share is None else f"{share * 100:.2f}"


def to_csv(comparison: Comparison) -> str:
    variance = comparison.variance
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*variance.by, *CSV_COLUMNS])
    for row in variance.rows:
        writer.writerow([*map(spreadsheet_text, row.key), *_csv_values(row)])
    writer.writerow(
        [
            "TOTAL",
            *[""] * (len(variance.by) - 1),
            exact(variance.before_cost),
            exact(variance.after_cost),
            exact(variance.change),
            _share(variance.change_share),
            *(exact(variance.total(name)) for name, _ in DRIVERS),
            sum(row.before.requests for row in variance.rows),
            sum(row.after.requests for row in variance.rows),
            sum(row.before.unpriced for row in variance.rows),
            sum(row.after.unpriced for row in variance.rows),
        ]
    )
    return out.getvalue()


def _csv_values(row: VarianceRow) -> list[object]:
    return [
        exact(row.before.cost),
        exact(row.after.cost),
        exact(row.change),
        _share(row.change_share),
        exact(row.volume),
        exact(row.usage_per_request),
        exact(row.price_mix),
        row.before.requests,
        row.after.requests,
        row.before.unpriced,
        row.after.unpriced,
    ]


def _row_dict(variance: Variance, row: VarianceRow) -> dict[str, Any]:
    return {
        **dict(zip(variance.by, row.key, strict=True)),
        "before_cost_usd": exact(row.before.cost),
        "after_cost_usd": exact(row.after.cost),
        "change_usd": exact(row.change),
        "change_share": None if row.change_share is None else float(row.change_share),
        "volume_usd": exact(row.volume),
        "usage_per_request_usd": exact(row.usage_per_request),
        "usage_per_request_by_token_type_usd": {k: exact(v) for k, v in by_type(row.usage_by_type).items()},
        "price_mix_usd": exact(row.price_mix),
        "before_requests": row.before.requests,
        "after_requests": row.after.requests,
        "before_unpriced_requests": row.before.unpriced,
        "after_unpriced_requests": row.after.unpriced,
        "not_repriced_requests": row.not_repriced,
    }


def to_dict(comparison: Comparison) -> dict[str, Any]:
    variance = comparison.variance
    return {
        "by": list(variance.by),
        "before": {"since": variance.before.since.isoformat(), "until": variance.before.until.isoformat()},
        "after": {"since": variance.after.since.isoformat(), "until": variance.after.until.isoformat()},
        "summary": comparison.summary,
        "before_cost_usd": exact(variance.before_cost),
        "after_cost_usd": exact(variance.after_cost),
        "change_usd": exact(variance.change),
        "change_share": None if variance.change_share is None else float(variance.change_share),
        "volume_usd": exact(variance.total("volume")),
        "usage_per_request_usd": exact(variance.total("usage_per_request")),
        "usage_per_request_by_token_type_usd": {
            k: exact(v) for k, v in by_type(variance.usage_by_type()).items()
        },
        "price_mix_usd": exact(variance.total("price_mix")),
        "before_unpriced_requests": sum(row.before.unpriced for row in variance.rows),
        "after_unpriced_requests": sum(row.after.unpriced for row in variance.rows),
        "not_repriced_requests": variance.not_repriced,
        "rows": [_row_dict(variance, row) for row in variance.rows],
        **trend_render.to_dict(comparison.outcomes, comparison.projection),
        "findings": [
            {
                "kind": c.finding.kind,
                WORKFLOW_ID: c.finding.workflow_id,
                "summary": c.finding.summary,
                "brief": c.brief,
                "cost_usd": exact(c.finding.cost),
                "cost_label": c.finding.cost_label,
            }
            for c in comparison.changes
        ],
    }
