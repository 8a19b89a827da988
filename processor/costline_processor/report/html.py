"""A self-contained HTML report: inline SVG charts (no scripts, no network), readable offline and in email.

It has every section of the terminal report (`report.summary` words them for both), each with an id:
headline figures, budget use, spend by group, daily spend, cost per outcome, anomalies, findings, the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from html import escape

from costline_processor.report import summary, svg
from costline_processor.report.analysis import Report
from costline_processor.report.findings import Finding
from costline_processor.report.html_table import grid as _grid
from costline_processor.report.money import unit_usd, usd, usd_or_unpriced
from costline_processor.report.render import group_label, share_text, shows_unpriced_column

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse}td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:left}
td.num,th.num{text-align:right;white-space:nowrap}tr.total td{font-weight:bold;border-top:2px solid #999}
.kpi{display:inline-block;margin:0 2.5rem 1rem 0;vertical-align:top}.kpi b{display:block;font-size:1.4rem}
.kpi small{display:block;color:#666;max-width:16rem}
.amount{white-space:nowrap;color:#444}.status{font-weight:bold}
svg text{font-size:11px;fill:#333}.legend span{white-space:nowrap}
"""


def render_html(
    report: Report,
    daily: dict[str, dict[date, Decimal]],
    findings: list[Finding],
    extra_sections: tuple[Sequence[str], Sequence[str]] = ((), ()),
) -> str:
    """`extra_sections`: what comes after the headline (the comparison) and after the findings (what-if,
    margins), where the terminal report shows them too."""
    title = summary.title(report)
    sections = [
        _headline(report),
        *extra_sections[0],
        _budgets(report),
        _section("Spend by " + ", ".join(report.by), _spend_bars(report, daily)),
        _section(
            "Daily spend by workflow (USD per day)",
            svg.line_chart(daily, svg.days_between(report.first_day, report.last_day), report.anomalies),
        ),
        _section("Cost per outcome", _outcomes(report), section_id="cost-per-outcome"),
        _section("Anomalies", _anomalies(report), section_id="anomalies"),
        _findings(findings),
        *extra_sections[1],
        _section("Table", _table(report)),
    ]
    return "\n".join(
        [
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>",
            f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>",
            *(part for part in sections if part),
            "</body></html>",
        ]
    )


def _section(heading: str, body: str, *, section_id: str = "") -> str:
    ident = f' id="{section_id}"' if section_id else ""
    return f"<section{ident}><h2>{escape(heading)}</h2>{body}</section>"


def _headline(report: Report) -> str:
    figures = "".join(
        f'<span class=kpi id="{figure.key}">{escape(figure.label)}<b>{escape(figure.value)}</b>'
        + (f"<small>{escape(figure.note)}</small>" if figure.note else "")
        + "</span>"
        for figure in summary.headline(report)
    )
    return f"<div id=headline>{figures}</div>"


def _spend_bars(report: Report, daily: dict[str, dict[date, Decimal]]) -> str:
    bars = [(" / ".join(row.key), row.known_cost) for row in report.rows[:15]]
    return svg.bar_chart(bars, palette=svg.colors(list(daily)), chart_id="spend-by-group")


def _budgets(report: Report) -> str:
    if not report.budgets:
        return ""
    head = (
        "<tr><th>workflow_id</th><th>spent and projected vs budget</th><th class=num>spent</th>"
        "<th class=num>budget</th><th class=num>projected month-end</th><th>status</th></tr>"
    )
    rows = "".join(
        f"<tr><td>{escape(b.workflow_id)}</td><td>{svg.budget_bar(b)}</td>"
        f"<td class=num>{usd(b.month_to_date)} ({b.used_share:.0%})</td><td class=num>{usd(b.budget)}</td>"
        f"<td class=num>{usd(b.projected)} ({b.projected_share:.0%})</td>"
        f'<td class=status style="color:{svg.STATUS_COLORS[b.status]}">{escape(b.status)}</td></tr>'
        for b in report.budgets
    )
    return _section(f"Budget use, {report.month}", f"<table id=budget-use>{head}{rows}</table>")


def _outcomes(report: Report) -> str:
    if not report.outcome_costs:
        return f"<p>{escape(summary.NO_OUTCOMES)}</p>"
    header = [
        ("workflow_id", False),
        ("outcome", False),
        ("count", True),
        ("spend", True),
        ("cost per outcome", True),
    ]
    rows = [
        [o.workflow_id, o.outcome, f"{o.count:,}", usd(o.workflow_cost), unit_usd(o.cost_per_outcome)]
        for o in report.outcome_costs
    ]
    return _grid(header, rows, table_id="outcome-table")


def _anomalies(report: Report) -> str:
    if not report.anomalies:
        return f"<p>{escape(summary.NO_ANOMALIES)}</p>"
    header = [
        ("workflow_id", False),
        ("day", False),
        ("spend", True),
        ("7-day average", True),
        ("ratio", True),
    ]
    rows = [
        [a.workflow_id, str(a.day), usd(a.cost), usd(a.baseline), f"{a.ratio:.1f}x"] for a in report.anomalies
    ]
    return _grid(header, rows, table_id="anomaly-table")


def _findings(findings: list[Finding]) -> str:
    if not findings:
        return ""
    items = "".join(
        f'<li id="finding-{n}"><b>{escape(f.kind)}</b> {escape(summary.finding_text(f))}'
        f" <span class=amount>({escape(summary.finding_amount(f))})</span></li>"
        for n, f in enumerate(findings, start=1)
    )
    return f"<section><h2>What drives the bill</h2><ul id=findings>{items}</ul></section>"


def _table(report: Report) -> str:
    with_unpriced = shows_unpriced_column(report)
    header = [
        *((name, False) for name in report.by),
        ("spend", True),
        ("share", True),
        ("requests", True),
        *([("unpriced", True)] if with_unpriced else []),
        ("top model", False),
    ]
    rows = [
        [
            *map(group_label, row.key),
            usd_or_unpriced(row.known_cost),
            share_text(row),
            f"{row.requests:,}",
            *([f"{row.unpriced or 0:,}"] if with_unpriced else []),
            row.top_model,
        ]
        for row in report.rows
    ]
    total = [
        "total",
        *[""] * (len(report.by) - 1),
        usd(report.total_cost),
        "100.0%",
        f"{report.total_requests:,}",
        *([f"{report.unpriced_requests:,}"] if with_unpriced else []),
        "",
    ]
    return _grid(header, [*rows, total], table_id="spend-table")
