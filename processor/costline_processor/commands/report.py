"""`costline report`: who spent what, from the ledger (default) or from Prometheus/Mimir through PromQL."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click

from costline.attributes import WORKFLOW_ID
from costline_processor.config import default_text, env_name

FORMATS = ("table", "csv", "json", "html")
EXIT_INPUT = 2


def parse_moment(value: str, *, now: datetime) -> datetime:
    """`2026-11-01`, an ISO datetime (UTC if no zone), `now`, or a relative `30d` / `12h` before now."""
    text = value.strip()
    if text == "now":
        return now
    if text[:-1].isdigit() and text[-1:] in ("d", "h"):
        amount = int(text[:-1])
        return now - (timedelta(days=amount) if text[-1] == "d" else timedelta(hours=amount))
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not a date (2026-11-01), datetime, 'now' or age (30d, 12h)"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.command("report")
@click.option(
    "--ledger-url",
    "--ledger",
    "ledger_url",
    default=default_text("ledger_url"),  # `./costline-data/...`: where costline serve writes by default
    show_default=True,
    envvar=env_name("ledger_url"),
    metavar="PATH|URL",
    help=f"Ledger to read: a SQLite file or postgresql://... (env {env_name('ledger_url')}); the"
    " default is where costline serve writes.",
)
@click.option(
    "--prometheus",
    "prometheus_url",
    default=None,
    metavar="URL",
    help="Read from Prometheus/Mimir via PromQL instead (e.g. http://mimir:9009/prometheus).",
)
@click.option(
    "--header",
    "headers",
    multiple=True,
    metavar="NAME=VALUE",
    help="HTTP header for --prometheus, e.g. X-Scope-OrgID=acme (repeatable).",
)
@click.option(
    "--by",
    "by",
    default=WORKFLOW_ID,
    show_default=True,
    help="Comma-separated grouping: workflow_id,feature_id,tenant_id,user_id,service_name,provider,model.",
)
@click.option("--since", default="30d", show_default=True, help="Start: date, ISO datetime, or age like 30d.")
@click.option(
    "--until", default="now", show_default=True, help="End (exclusive): date, ISO datetime, or 'now'."
)
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option(
    "--output", "-o", type=click.Path(path_type=Path), default=None, help="Write to a file instead of stdout."
)
@click.option(
    "--budgets",
    "budgets_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Budgets file of costline serve: spent and projected month-end vs each monthly workflow budget.",
)
@click.option(
    "--anomaly-ratio",
    default="1.5",
    show_default=True,
    metavar="NUMBER",
    help="Flag a workflow's day at this multiple of its previous 7-day average.",
)
@click.option(
    "--compare",
    "compare",
    default=None,
    metavar="previous|WINDOW",
    help="Explain the change from another window: 'previous' (as long, just before), a period (2026-10, "
    "2026-Q3, 2026) or START..END (END excluded). Splits each group's change into volume, usage per request "
    "and price/model mix, names what changed, and projects to month end and year end.",
)
@click.option(
    "--what-if",
    "what_if",
    multiple=True,
    metavar="WORKFLOW=MODEL",
    help="Reprice WORKFLOW's actual tokens at MODEL's list price (repeatable). Without it the report still "
    "shows each workflow's cheapest candidates of its own and of other providers.",
)
@click.option(
    "--revenue",
    "revenue_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    metavar="FILE.csv",
    help="Revenue per customer (CSV: tenant_id,period,revenue_usd; period 2026-11, 2026-Q4 or 2026): "
    "per tenant revenue, AI cost, AI cost as % of revenue and margin after AI cost, for the periods the "
    "window covers in full.",
)
@click.option(
    "--cost-share-alert",
    default="20",
    show_default=True,
    metavar="PERCENT",
    help="With --revenue, flag tenants whose AI cost is at least PERCENT of their revenue.",
)
@click.option(
    "--price-overrides",
    "price_overrides",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    metavar="FILE",
    help="The price overrides costline serve uses, for repricing (--compare, --what-if).",
)
def report(
    *,
    ledger_url: str,
    prometheus_url: str | None,
    headers: tuple[str, ...],
    by: str,
    since: str,
    until: str,
    output_format: str,
    output: Path | None,
    budgets_path: Path | None,
    anomaly_ratio: str,
    compare: str | None,
    what_if: tuple[str, ...],
    revenue_path: Path | None,
    cost_share_alert: str,
    price_overrides: Path | None,
) -> None:
    """Spend by workflow (or any grouping): totals and shares, the unattributed line, month-end projection,
    anomalies, cost per outcome, budget use and what a cheaper model would save; with --compare why spend
    changed, with --revenue the margin per customer (docs/report.md)."""
    from costline_processor.report import ExtraRequest, ReportInputError, produce  # noqa: PLC0415
    from costline_processor.report.periods import Window, compare_window  # noqa: PLC0415
    from costline_processor.report.whatif import parse_what_if  # noqa: PLC0415

    now = datetime.now(UTC)
    try:
        ratio = Decimal(anomaly_ratio)
        if not ratio > 1:
            raise InvalidOperation
    except InvalidOperation:
        raise click.BadParameter("must be a number above 1", param_hint="--anomaly-ratio") from None
    alert = _percent(cost_share_alert, "--cost-share-alert")
    window = Window(parse_moment(since, now=now), parse_moment(until, now=now))
    try:
        other = None
        if compare is not None and window.since < window.until:
            other = compare_window(compare, window, lambda text: parse_moment(text, now=now))
        text = produce(
            ledger_url=ledger_url,
            prometheus_url=prometheus_url,
            headers=_parse_headers(headers),
            by=by,
            since=window.since,
            until=window.until,
            output_format=output_format,
            budgets_path=budgets_path,
            anomaly_ratio=ratio,
            extra=ExtraRequest(
                compare_with=other,
                what_if=parse_what_if(what_if),
                revenue_path=revenue_path,
                cost_share_alert=alert,
                price_overrides=price_overrides,
            ),
        )
    except ReportInputError as exc:
        click.echo(f"costline report: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


def _parse_headers(values: tuple[str, ...]) -> dict[str, str]:
    headers = {}
    for value in values:
        name, sep, content = value.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{value!r} is not NAME=VALUE", param_hint="--header")
        headers[name.strip()] = content.strip()
    return headers


def _percent(value: str, option: str) -> Decimal:
    try:
        share = Decimal(value) / 100
        if not share > 0:
            raise InvalidOperation
    except InvalidOperation:
        raise click.BadParameter("must be a percentage above 0, e.g. 20", param_hint=option) from None
    return share
