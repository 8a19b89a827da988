"""Renders a `Report` as a terminal table, CSV (opens in a spreadsheet as is) or JSON.

Money is shown with cents in tables and with full precision in CSV/JSON, where finance sums it again.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from costline.attributes import LLM_COST_UNPRICED_REASON, UNATTRIBUTED, WORKFLOW_ID
from costline_processor.report.analysis import Report
from costline_processor.report.findings import Finding

CSV_HEADER_SUFFIX = ("cost_usd", "share_pct", "requests", "cost_per_request_usd", "top_model")


def usd(value: Decimal) -> str:
    """Dollars with cents; sub-dollar amounts (unit costs) keep four decimals so they do not read as $0.00."""
    return f"${value:,.2f}" if abs(value) >= 1 or not value else f"${value:,.4f}"


def exact(value: Decimal) -> str:
    return format(value.normalize() if value else Decimal(0), "f")


def table(report: Report, findings: list[Finding] | None = None, *, width: int = 120) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    grid = Table(
        title=f"LLM spend {report.since:%Y-%m-%d} .. {report.until:%Y-%m-%d} by {', '.join(report.by)}"
    )
    for name in report.by:
        grid.add_column(name)
    grid.add_column("spend", justify="right")
    grid.add_column("share", justify="right")
    grid.add_column("requests", justify="right")
    grid.add_column("top model")
    for row in report.rows:
        label = [f"{value} (untagged)" if value == UNATTRIBUTED else value for value in row.key]
        grid.add_row(*label, usd(row.cost), f"{row.share:.1%}", f"{row.requests:,}", row.top_model)
    grid.add_section()
    grid.add_row(
        "total",
        *[""] * (len(report.by) - 1),
        usd(report.total_cost),
        "100.0%",
        f"{report.total_requests:,}",
        "",
    )
    console.print(grid)
    # Plain text from here: workflow ids and summaries contain brackets that are not rich markup.
    console.print(_summary_lines(report), markup=False, highlight=False)
    if findings:
        console.print("\nWhat drives the bill:")
        for finding in findings:
            line = f"  - [{finding.kind}] {finding.workflow_id}: {finding.summary} ({usd(finding.cost)})"
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    return buffer.getvalue()


def _summary_lines(report: Report) -> str:
    lines = [
        f"unattributed: {usd(report.unattributed_cost)} ({report.unattributed_share:.1%} of spend)",
        f"{report.month} month-to-date {usd(report.month_to_date)},"
        f" projected month-end {usd(report.projected_month_end)}",
    ]
    if report.unpriced_requests:
        lines.append(
            f"unpriced requests: {report.unpriced_requests:,}"
            f" (not in the totals; their spans carry {LLM_COST_UNPRICED_REASON})"
        )
    for budget in report.budgets:
        lines.append(
            f"budget {budget.workflow_id}: {usd(budget.month_to_date)} of {usd(budget.budget)} "
            f"({budget.used_share:.0%}), projected {usd(budget.projected)}"
        )
    for outcome in report.outcome_costs:
        lines.append(f"cost per {outcome.outcome} ({outcome.workflow_id}): {usd(outcome.cost_per_outcome)}")
    for anomaly in report.anomalies:
        lines.append(
            f"anomaly {anomaly.workflow_id} on {anomaly.day}: {usd(anomaly.cost)}"
            f" = {anomaly.ratio:.1f}x its 7-day average"
        )
    return "\n".join(lines)


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180, what spreadsheets expect
    writer.writerow([*report.by, *CSV_HEADER_SUFFIX])
    for row in report.rows:
        writer.writerow(
            [
                *row.key,
                exact(row.cost),
                f"{row.share * 100:.2f}",
                row.requests,
                exact(row.cost_per_request.quantize(Decimal("0.000001"))),
                row.top_model,
            ]
        )
    writer.writerow(
        [
            "TOTAL",
            *[""] * (len(report.by) - 1),
            exact(report.total_cost),
            "100.00",
            report.total_requests,
            "",
            "",
        ]
    )
    return out.getvalue()


def to_dict(report: Report, findings: list[Finding] | None = None) -> dict[str, Any]:
    return {
        "by": list(report.by),
        "since": report.since.isoformat(),
        "until": report.until.isoformat(),
        "total_cost_usd": exact(report.total_cost),
        "total_requests": report.total_requests,
        "unattributed_cost_usd": exact(report.unattributed_cost),
        "unattributed_share": float(report.unattributed_share),
        "unpriced_requests": report.unpriced_requests,
        "month": report.month,
        "month_to_date_usd": exact(report.month_to_date),
        "projected_month_end_usd": exact(report.projected_month_end),
        "rows": [
            {
                **dict(zip(report.by, row.key, strict=True)),
                "cost_usd": exact(row.cost),
                "share": float(row.share),
                "requests": row.requests,
                "top_model": row.top_model,
            }
            for row in report.rows
        ],
        "anomalies": [
            {
                WORKFLOW_ID: a.workflow_id,
                "day": a.day.isoformat(),
                "cost_usd": exact(a.cost),
                "baseline_usd": exact(a.baseline.quantize(Decimal("0.000001"))),
                "ratio": float(a.ratio),
            }
            for a in report.anomalies
        ],
        "cost_per_outcome": [
            {
                WORKFLOW_ID: o.workflow_id,
                "outcome": o.outcome,
                "count": o.count,
                "cost_per_outcome_usd": exact(o.cost_per_outcome.quantize(Decimal("0.000001"))),
            }
            for o in report.outcome_costs
        ],
        "budgets": [
            {
                WORKFLOW_ID: b.workflow_id,
                "budget_usd": exact(b.budget),
                "month_to_date_usd": exact(b.month_to_date),
                "projected_usd": exact(b.projected),
                "used_share": float(b.used_share),
            }
            for b in report.budgets
        ],
        "findings": [
            {"kind": f.kind, WORKFLOW_ID: f.workflow_id, "summary": f.summary, "cost_usd": exact(f.cost)}
            for f in findings or []
        ],
    }


def to_json(report: Report, findings: list[Finding] | None = None) -> str:
    return json.dumps(to_dict(report, findings), indent=2) + "\n"
