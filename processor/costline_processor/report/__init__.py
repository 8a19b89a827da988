"""Spend reports for finance: from the ledger (exact) or from Prometheus/Mimir (PromQL), same analysis."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import click

from costline_processor.ledger import parse_ledger_url
from costline_processor.report.analysis import Report, build_report
from costline_processor.report.extras import ExtraRequest, build_extras, merged_json
from costline_processor.report.facts import (
    METRIC_GROUP_KEYS,
    ReportFacts,
    ReportInputError,
    facts_from_ledger,
    parse_by,
)
from costline_processor.report.findings import Finding, find_drivers
from costline_processor.report.html import render_html
from costline_processor.report.periods import Window
from costline_processor.report.render import table, to_csv, to_dict

__all__ = [
    "ExtraRequest",
    "Finding",
    "Report",
    "ReportFacts",
    "ReportInputError",
    "build_report",
    "facts_from_ledger",
    "find_drivers",
    "load_facts",
    "produce",
]


def load_facts(
    *,
    ledger_url: str | Path,
    prometheus_url: str | None,
    headers: Mapping[str, str],
    by: str,
    since: datetime,
    until: datetime,
) -> ReportFacts:
    if since >= until:
        raise ReportInputError(
            f"--since ({since:%Y-%m-%d %H:%M}) must be before --until ({until:%Y-%m-%d %H:%M})"
        )
    if prometheus_url:
        from costline_processor.report.promql import facts_from_prometheus  # noqa: PLC0415

        return facts_from_prometheus(
            prometheus_url, headers, parse_by(by, allowed=METRIC_GROUP_KEYS), since, until
        )
    return facts_from_ledger(ledger_url, parse_by(by), since, until)


def _budgets(path: Path | None) -> dict[str, Decimal]:
    """The monthly budgets of one workflow_id (what the report shows); the others are named on stderr."""
    if path is None:
        return {}
    from costline_processor.budgets import BudgetsConfigError, load_budgets  # noqa: PLC0415

    try:
        budgets = load_budgets(path)
    except BudgetsConfigError as exc:
        raise ReportInputError(str(exc)) from exc
    others = [budget.id for budget in budgets.items if not budget.is_monthly_workflow]
    if others:
        click.echo(
            f"costline report: --budgets shows the monthly budgets of one workflow_id; not shown:"
            f" {', '.join(others)} (GET /v1/budgets on costline serve shows every budget)",
            err=True,
        )
    return dict(budgets.monthly)


def _extras_ledger_path(ledger_url: str | Path, extra: ExtraRequest | None) -> Path | None:
    """The SQLite file the comparison, what-if and margin read (they read each call's tokens).

    On a PostgreSQL ledger they are not available yet: asked for, that is a clear error; otherwise the
    report leaves them out."""
    where = parse_ledger_url(ledger_url)
    if where.kind == "sqlite":
        return where.path
    if extra is not None and extra.asked:
        raise ReportInputError(
            f"{', '.join(extra.asked)} read a SQLite ledger for now; {where} is PostgreSQL"
        )
    return None


def produce(
    *,
    ledger_url: str | Path,
    prometheus_url: str | None,
    headers: Mapping[str, str],
    by: str,
    since: datetime,
    until: datetime,
    output_format: str,
    budgets_path: Path | None,
    anomaly_ratio: Decimal,
    extra: ExtraRequest | None = None,
) -> str:
    """The whole `costline report` pipeline; returns the rendered text."""
    extras = build_extras(
        extra or ExtraRequest(),
        ledger_path=_extras_ledger_path(ledger_url, extra),
        by=parse_by(by),
        window=Window(since, until),
        from_prometheus=bool(prometheus_url),
    )
    facts = load_facts(
        ledger_url=ledger_url,
        prometheus_url=prometheus_url,
        headers=headers,
        by=by,
        since=since,
        until=until,
    )
    report = build_report(facts, budgets=_budgets(budgets_path), anomaly_ratio=anomaly_ratio)
    findings = [] if prometheus_url else find_drivers(facts.calls, report)
    if output_format == "csv":
        return extras.csv() or to_csv(report)
    if output_format == "json":
        return merged_json(to_dict(report, findings), extras)
    if output_format == "html":
        return render_html(report, facts.daily_cost, findings, extras.html_sections())
    return extras.terminal_top() + table(report, findings) + extras.terminal_bottom()
