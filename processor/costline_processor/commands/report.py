"""`costline report`: who spent what, from the ledger (default) or from Prometheus/Mimir through PromQL."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click

from costline.attributes import WORKFLOW_ID
from costline_processor.config import default_text

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
    "--ledger",
    "ledger_path",
    type=click.Path(path_type=Path),
    default=default_text("ledger_path"),  # `./costline-data/...`: shown so, read as a Path
    show_default=True,
    help="Ledger to read; the default is where costline serve writes by default.",
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
def report(
    *,
    ledger_path: Path,
    prometheus_url: str | None,
    headers: tuple[str, ...],
    by: str,
    since: str,
    until: str,
    output_format: str,
    output: Path | None,
    budgets_path: Path | None,
    anomaly_ratio: str,
) -> None:
    """Spend by workflow (or any grouping): totals and shares, the unattributed line, month-end projection,
    anomalies, cost per outcome and budget use."""
    from costline_processor.report import ReportInputError, produce  # noqa: PLC0415

    now = datetime.now(UTC)
    try:
        ratio = Decimal(anomaly_ratio)
        if not ratio > 1:
            raise InvalidOperation
    except InvalidOperation:
        raise click.BadParameter("must be a number above 1", param_hint="--anomaly-ratio") from None
    try:
        text = produce(
            ledger_path=ledger_path,
            prometheus_url=prometheus_url,
            headers=_parse_headers(headers),
            by=by,
            since=parse_moment(since, now=now),
            until=parse_moment(until, now=now),
            output_format=output_format,
            budgets_path=budgets_path,
            anomaly_ratio=ratio,
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
