"""`costline ledger migrate`: create or upgrade a ledger's schema (SQLite file or PostgreSQL database)."""

from __future__ import annotations

import sys

import click

from costline_processor.config import default_text, env_name

EXIT_FAILED = 1


@click.group("ledger")
def ledger() -> None:
    """Maintain a ledger (costline serve migrates it at start-up too)."""


@ledger.command("migrate")
@click.option(
    "--ledger-url",
    default=default_text("ledger_url"),
    show_default=True,
    envvar=env_name("ledger_url"),
    metavar="PATH|URL",
    help=f"The ledger: a SQLite file or postgresql://... (env {env_name('ledger_url')}).",
)
def migrate(ledger_url: str) -> None:
    """Bring the ledger's schema to this costline's version (versioned migrations, one transaction)."""
    from costline_processor.ledger.errors import (  # noqa: PLC0415
        LedgerLockedError,
        LedgerSchemaError,
        LedgerUnavailableError,
    )
    from costline_processor.ledger.migration import migrate_ledger  # noqa: PLC0415
    from costline_processor.ledger.url import parse_ledger_url  # noqa: PLC0415

    try:
        where = parse_ledger_url(ledger_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--ledger-url") from None
    try:
        click.echo(migrate_ledger(where.target).describe())
    except (LedgerLockedError, LedgerSchemaError, LedgerUnavailableError, OSError) as exc:
        click.echo(f"costline ledger migrate: {where}: {exc}", err=True)
        sys.exit(EXIT_FAILED)
