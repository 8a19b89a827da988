"""`costline demo`: the budget conversation on one machine, in one command, with no external services."""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import click

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
    then print who spent what, what drives the bill, and write an HTML report."""
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
    click.echo(table(report, findings))
    html_path = result.workdir / "report.html"
    html_path.write_text(render_html(report, facts.daily_cost, findings), encoding="utf-8")
    click.echo(
        f"{result.calls_recorded:,} of {result.calls_planned:,} calls recorded in {result.ledger_path}"
    )
    click.echo(result.budget_note)
    click.echo(f"HTML report: {html_path}")
    click.echo(f"Explore: costline report --ledger {result.ledger_path} --since 60d --by workflow_id,model")
