"""The `costline` command. Each subcommand lives in its own module; this file only assembles them."""

from __future__ import annotations

import importlib

import click

# (module, attribute) of each subcommand. The command modules import their heavy dependencies (grpc, SQLite,
# price data) inside the command body, so `costline --help` stays fast.
_SUBCOMMANDS: tuple[tuple[str, str], ...] = (
    ("costline_processor.commands.serve", "serve"),
    ("costline_processor.commands.prices", "prices"),
    ("costline_processor.commands.mock_provider", "mock_provider"),
    ("costline_processor.commands.report", "report"),
    ("costline_processor.commands.demo", "demo"),
    ("costline_processor.commands.ledger", "ledger"),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="costline")
def cli() -> None:
    """costline: per-workflow LLM cost attribution on OpenTelemetry."""


def _register() -> None:
    for module_name, attribute in _SUBCOMMANDS:
        command = getattr(importlib.import_module(module_name), attribute)
        if command.name not in cli.commands:
            cli.add_command(command)


def main() -> None:
    _register()
    cli()
