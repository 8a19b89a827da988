"""A self-contained HTML report: inline SVG charts (no scripts, no network), readable offline and in email."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from html import escape

from costline_processor.report.analysis import Report
from costline_processor.report.findings import Finding
from costline_processor.report.render import usd

PALETTE = ("#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00", "#b82e2e")
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse}td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:left}
td.num,th.num{text-align:right}
.kpi{display:inline-block;margin-right:2.5rem}.kpi b{display:block;font-size:1.4rem}
svg text{font-size:11px;fill:#333}
"""


def render_html(report: Report, daily: dict[str, dict[date, Decimal]], findings: list[Finding]) -> str:
    title = f"LLM spend {report.since:%Y-%m-%d} to {report.until:%Y-%m-%d}"
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>",
        _kpis(report),
        "<h2>Spend by " + escape(", ".join(report.by)) + "</h2>",
        _bar_chart(
            [(" / ".join(row.key), row.cost) for row in report.rows[:15]],
            colors=_colors(daily),
            chart_id="spend-by-group",
        ),
        "<h2>Daily spend by workflow</h2>",
        _line_chart(daily, report),
    ]
    if report.budgets:
        parts += ["<h2>Budget use this month</h2>", _budget_chart(report)]
    parts += [_findings(findings), _table(report), "</body></html>"]
    return "\n".join(parts)


def _kpis(report: Report) -> str:
    items = [
        ("total spend", usd(report.total_cost)),
        ("requests", f"{report.total_requests:,}"),
        ("unattributed", f"{usd(report.unattributed_cost)} ({report.unattributed_share:.1%})"),
        (f"{report.month} projected", usd(report.projected_month_end)),
    ]
    return (
        "<div>"
        + "".join(f"<span class=kpi>{escape(k)}<b>{escape(v)}</b></span>" for k, v in items)
        + "</div>"
    )


def _colors(daily: dict[str, dict[date, Decimal]]) -> dict[str, str]:
    """One color per workflow, the same in every chart."""
    return {workflow: PALETTE[i % len(PALETTE)] for i, workflow in enumerate(sorted(daily))}


def _bar_chart(bars: list[tuple[str, Decimal]], *, colors: dict[str, str], chart_id: str) -> str:
    height = 24 * len(bars) + 10
    top = max((value for _, value in bars), default=Decimal(1)) or Decimal(1)
    rows = []
    for i, (label, value) in enumerate(bars):
        width = float(value / top) * 560
        y = 5 + 24 * i
        color = colors.get(label, PALETTE[i % len(PALETTE)])
        rows.append(
            f'<text x="0" y="{y + 15}">{escape(label[:40])}</text>'
            f'<rect x="300" y="{y}" width="{width:.1f}" height="18" fill="{color}">'
            f"<title>{escape(label)}: {usd(value)}</title></rect>"
            f'<text x="{305 + width:.1f}" y="{y + 14}">{usd(value)}</text>'
        )
    return f'<svg id="{chart_id}" class=chart width="960" height="{height}" role="img">{"".join(rows)}</svg>'


def _line_chart(daily: dict[str, dict[date, Decimal]], report: Report) -> str:
    first, last = report.since.date(), (report.until - timedelta(microseconds=1)).date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    top = max((cost for series in daily.values() for cost in series.values()), default=Decimal(1)) or Decimal(
        1
    )
    width, height, left = 900, 260, 60
    step = (width - left) / max(len(days) - 1, 1)
    lines, legend = [], []
    anomalies = {(a.workflow_id, a.day) for a in report.anomalies}
    colors = _colors(daily)
    for workflow, series in sorted(daily.items()):
        color = colors[workflow]
        points = [
            (left + step * n, height - 20 - float(series.get(day, Decimal(0)) / top) * (height - 40))
            for n, day in enumerate(days)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        lines.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}">'
            f"<title>{escape(workflow)}</title></polyline>"
        )
        lines += [
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="none" stroke="#d00" stroke-width="2">'
            f"<title>anomaly: {escape(workflow)} {day}</title></circle>"
            for (x, y), day in zip(points, days, strict=True)
            if (workflow, day) in anomalies
        ]
        legend.append(f'<span style="color:{color}">&#9632; {escape(workflow)}</span>')
    axis = (
        f'<text x="0" y="20">{usd(top)}</text><text x="0" y="{height - 20}">$0</text>'
        f'<text x="{left}" y="{height - 4}">{days[0] if days else ""}</text>'
        f'<text x="{width - 70}" y="{height - 4}">{days[-1] if days else ""}</text>'
    )
    svg = f'<svg id="daily-spend" class=chart width="{width}" height="{height}" role="img">'
    svg += f"{axis}{''.join(lines)}</svg>"
    return svg + "<div>" + " &nbsp; ".join(legend) + "</div>"


def _budget_chart(report: Report) -> str:
    bars = []
    for i, budget in enumerate(report.budgets):
        y = 5 + 26 * i
        used = min(float(budget.used_share), 1.5) * 400
        color = (
            "#109618"
            if budget.used_share < Decimal("0.8")
            else "#ff9900"
            if budget.used_share < 1
            else "#dc3912"
        )
        bars.append(
            f'<text x="0" y="{y + 15}">{escape(budget.workflow_id)}</text>'
            f'<rect x="300" y="{y}" width="400" height="18" fill="#eee"/>'
            f'<rect x="300" y="{y}" width="{used:.1f}" height="18" fill="{color}">'
            f"<title>{budget.used_share:.0%}</title></rect>"
            f'<text x="{310 + max(used, 400):.1f}" y="{y + 14}">'
            f"{usd(budget.month_to_date)} of {usd(budget.budget)}</text>"
        )
    height = 26 * len(bars) + 10
    return f'<svg id="budget-use" class=chart width="960" height="{height}" role="img">{"".join(bars)}</svg>'


def _findings(findings: list[Finding]) -> str:
    if not findings:
        return ""
    items = "".join(
        f"<li><b>{escape(f.kind)}</b> in {escape(f.workflow_id)}: {escape(f.summary)} ({usd(f.cost)})</li>"
        for f in findings
    )
    return f"<h2>What drives the bill</h2><ul id=findings>{items}</ul>"


def _table(report: Report) -> str:
    head = "".join(f"<th>{escape(k)}</th>" for k in report.by)
    head += "<th class=num>spend</th><th class=num>share</th><th class=num>requests</th><th>top model</th>"
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{escape(v)}</td>" for v in row.key)
        + f"<td class=num>{usd(row.cost)}</td><td class=num>{row.share:.1%}</td>"
        f"<td class=num>{row.requests:,}</td><td>{escape(row.top_model)}</td></tr>"
        for row in report.rows
    )
    return f"<h2>Table</h2><table id=spend-table><tr>{head}</tr>{rows}</table>"
