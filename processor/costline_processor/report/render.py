"""Renders a `Report` as a terminal table, CSV (opens in a spreadsheet as is) or JSON.

The terminal shows money by the rule of `report.money`; CSV and JSON keep exact decimal strings, where
finance sums them again. CSV text cells come from span data (group keys, model names): one a spreadsheet
would evaluate as a formula gets a leading `'` (`spreadsheet_text`); money and counts are ours and stay
numbers. A group none of whose calls could be priced has an empty cost (CSV), `null` (JSON) or a dash
(table), never zero, and every row says how many of its calls are unpriced.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from costline.attributes import UNATTRIBUTED, WORKFLOW_ID
from costline_processor.report import summary
from costline_processor.report.analysis import Report, ReportRow
from costline_processor.report.findings import Finding
from costline_processor.report.money import NOT_PRICED, exact, usd, usd_or_unpriced

CSV_HEADER_SUFFIX = (
    "cost_usd",
    "share_pct",
    "requests",
    "unpriced_requests",
    "cost_per_request_usd",
    "top_model",
)
UNIT_QUANTUM = Decimal("0.000001")
# What makes Excel, LibreOffice and Google Sheets read a cell as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def shows_unpriced_column(report: Report) -> bool:
    """The unpriced column appears once a call is unpriced and the source counts them per group."""
    return bool(report.unpriced_requests) and any(row.unpriced is not None for row in report.rows)


def group_label(value: str) -> str:
    return f"{value} (untagged)" if value == UNATTRIBUTED else value


def share_text(row: ReportRow) -> str:
    return f"{row.share:.1%}" if row.priced else NOT_PRICED


def table(report: Report, findings: list[Finding] | None = None, *, width: int = 120) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    console.print(_grid(report))
    # Plain text from here: workflow ids and summaries contain brackets that are not rich markup.
    console.print(_summary_lines(report), markup=False, highlight=False)
    if findings:
        console.print("\nWhat drives the bill:")
        for finding in findings:
            line = f"  - [{finding.kind}] {summary.finding_text(finding)}; {summary.finding_amount(finding)}"
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    return buffer.getvalue()


def _grid(report: Report) -> Table:
    with_unpriced = shows_unpriced_column(report)
    grid = Table(title=summary.title(report))
    for name in report.by:
        grid.add_column(name)
    grid.add_column("spend", justify="right")
    grid.add_column("share", justify="right")
    grid.add_column("requests", justify="right")
    if with_unpriced:
        grid.add_column("unpriced", justify="right")
    grid.add_column("top model")
    for row in report.rows:
        unpriced = [f"{row.unpriced or 0:,}"] if with_unpriced else []
        grid.add_row(
            *map(group_label, row.key),
            usd_or_unpriced(row.known_cost),
            share_text(row),
            f"{row.requests:,}",
            *unpriced,
            row.top_model,
        )
    grid.add_section()
    grid.add_row(
        "total",
        *[""] * (len(report.by) - 1),
        usd(report.total_cost),
        "100.0%",
        f"{report.total_requests:,}",
        *([f"{report.unpriced_requests:,}"] if with_unpriced else []),
        "",
    )
    return grid


def _summary_lines(report: Report) -> str:
    lines = [figure.line() for figure in summary.headline(report)[2:]]  # spend and requests are in the table
    lines += [f"budget {b.workflow_id}: {summary.budget_text(b)}" for b in report.budgets]
    if not report.outcome_costs:
        lines.append(f"cost per outcome: {summary.NO_OUTCOMES}")
    lines += [f"cost per outcome, {o.workflow_id}: {summary.outcome_text(o)}" for o in report.outcome_costs]
    if not report.anomalies:
        lines.append(f"anomalies: {summary.NO_ANOMALIES}")
    lines += [f"anomaly {a.workflow_id} on {summary.anomaly_text(a)}" for a in report.anomalies]
    return "\n".join(lines)


def _optional(value: Decimal | None) -> str:
    return "" if value is None else exact(value)


def spreadsheet_text(value: str) -> str:
    """`value` as a CSV text cell no spreadsheet evaluates: a leading `'` when it starts like a formula."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180, what spreadsheets expect
    writer.writerow([*report.by, *CSV_HEADER_SUFFIX])
    for row in report.rows:
        per_request = row.cost_per_request
        writer.writerow(
            [
                *map(spreadsheet_text, row.key),
                _optional(row.known_cost),
                f"{row.share * 100:.2f}" if row.priced else "",
                row.requests,
                "" if row.unpriced is None else row.unpriced,
                _optional(None if per_request is None else per_request.quantize(UNIT_QUANTUM)),
                spreadsheet_text(row.top_model),
            ]
        )
    writer.writerow(
        [
            "TOTAL",
            *[""] * (len(report.by) - 1),
            exact(report.total_cost),
            "100.00",
            report.total_requests,
            report.unpriced_requests,
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
                "cost_usd": None if row.known_cost is None else exact(row.known_cost),
                "share": float(row.share) if row.priced else None,
                "requests": row.requests,
                "unpriced_requests": row.unpriced,
                "top_model": row.top_model,
            }
            for row in report.rows
        ],
        "anomalies": [
            {
                WORKFLOW_ID: a.workflow_id,
                "day": a.day.isoformat(),
                "cost_usd": exact(a.cost),
                "baseline_usd": exact(a.baseline.quantize(UNIT_QUANTUM)),
                "ratio": float(a.ratio),
            }
            for a in report.anomalies
        ],
        "cost_per_outcome": [
            {
                WORKFLOW_ID: o.workflow_id,
                "outcome": o.outcome,
                "count": o.count,
                "cost_per_outcome_usd": exact(o.cost_per_outcome.quantize(UNIT_QUANTUM)),
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
                "projected_share": float(b.projected_share),
                "status": b.status,
            }
            for b in report.budgets
        ],
        "findings": [
            {
                "kind": f.kind,
                WORKFLOW_ID: f.workflow_id,
                "summary": f.summary,
                "cost_usd": exact(f.cost),
                "cost_label": f.cost_label,
            }
            for f in findings or []
        ],
    }


def to_json(report: Report, findings: list[Finding] | None = None) -> str:
    return json.dumps(to_dict(report, findings), indent=2) + "\n"
