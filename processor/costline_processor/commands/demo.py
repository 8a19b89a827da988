"""`costline demo`: the budget conversation on one machine, in one command, with no external services."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from costline_processor.report.extras import Extras

EXIT_FAILED = 1


@click.command("demo")
@click.option(
    "--dir",
    "workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("costline-demo"),
    show_default=True,
    help="Where the demo's ledger, logs and HTML report go (the ledger is recreated); relative paths are "
    "relative to the current directory.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the simulated traffic.")
@click.option(
    "--end",
    "end",
    default=None,
    metavar="YYYY-MM-DD",
    help="Last simulated day (default: today, UTC). Four weeks of traffic end on it.",
)
def demo(workdir: Path, seed: int, end: str | None) -> None:
    """Simulate four weeks of a 24-hotel group's LLM traffic (six workflows, real openai/anthropic SDKs
    against a local mock provider, under opentelemetry-instrument), price it with a real `costline serve`,
    then print who spent what, what drives the bill, why the second fortnight cost more than the first,
    what a cheaper model would save, and write an HTML report."""
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    from costline_processor.demo.runner import DemoError, run_demo  # noqa: PLC0415
    from costline_processor.report import build_report, facts_from_ledger, find_drivers  # noqa: PLC0415
    from costline_processor.report.html import render_html  # noqa: PLC0415
    from costline_processor.report.render import table  # noqa: PLC0415

    try:
        last_day = date.fromisoformat(end) if end else date.today()
    except ValueError:
        raise click.BadParameter(f"{end!r} is not a date like 2026-11-22", param_hint="--end") from None
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("LLM calls through costline", total=None)
        try:
            result = run_demo(
                workdir,
                seed=seed,
                end=last_day,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except DemoError as exc:
            console.print(f"[red]costline demo failed:[/red] {exc}")
            sys.exit(EXIT_FAILED)
    if result.shortfall is not None:  # a table of what did arrive would tell a false story
        click.secho(f"costline demo failed: {result.shortfall}", fg="red", err=True)
        sys.exit(EXIT_FAILED)
    facts = facts_from_ledger(result.ledger_path, ("workflow_id",), result.since, result.until)
    report = build_report(facts, anomaly_ratio=Decimal("1.5"))
    findings = find_drivers(facts.calls, report)
    extras = _second_period_against_the_first(result.ledger_path, result.since, result.until)
    click.echo(table(report, findings))
    click.echo(extras.terminal_top() + extras.terminal_bottom())
    html_path = result.workdir / "report.html"
    html = render_html(report, facts.daily_cost, findings, extras.html_sections())
    html_path.write_text(html, encoding="utf-8")
    click.echo(
        f"{result.calls_recorded:,} of {result.calls_planned:,} calls recorded in {result.ledger_path}"
    )
    click.echo(result.budget_note)
    click.echo(f"HTML report: {html_path}")
    click.echo(f"Explore: costline report --ledger {result.ledger_path} --since 60d --by workflow_id,model")
    from costline_processor.demo.scenario import PERIOD_DAYS  # noqa: PLC0415

    second = result.since + timedelta(days=PERIOD_DAYS)
    click.echo(
        f"Why the bill rose: costline report --ledger {result.ledger_path} --since {second:%Y-%m-%d}"
        f" --until {result.until:%Y-%m-%d} --compare previous"
    )


def _second_period_against_the_first(ledger_path: Path, since: datetime, until: datetime) -> Extras:
    """The demo's story: the second fortnight against the first, and what a cheaper model would save."""
    from costline_processor.demo.scenario import PERIOD_DAYS  # noqa: PLC0415
    from costline_processor.report.extras import ExtraRequest, Extras, build_extras  # noqa: PLC0415
    from costline_processor.report.facts import ReportInputError  # noqa: PLC0415
    from costline_processor.report.periods import Window  # noqa: PLC0415

    second = Window(since + timedelta(days=PERIOD_DAYS), until)
    try:
        return build_extras(
            ExtraRequest(compare_with=Window(since, second.since)),
            ledger_url=ledger_path,
            by=("workflow_id",),
            window=second,
            from_prometheus=False,
        )
    except ReportInputError as exc:  # e.g. an --end in the future: the calls are not where the plan put them
        click.secho(f"no comparison of the two fortnights: {exc}", fg="yellow", err=True)
        return Extras()
