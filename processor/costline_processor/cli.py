"""The `costline` command. Each subcommand lives in its own module; this file only assembles them."""

from __future__ import annotations

import importlib

import click

# (module, attribute) of each subcommand, imported only when the CLI starts so `costline --help` stays fast
# and a broken optional part cannot take the others down with it at import time.
_SUBCOMMANDS: tuple[tuple[str, str], ...] = (
    ("costline_processor.commands.serve", "serve"),
    ("costline_processor.commands.prices", "prices"),
    ("costline_processor.commands.mock_provider", "mock_provider"),
    ("costline_processor.commands.report", "report"),
    ("costline_processor.commands.demo", "demo"),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="costline")
def cli() -> None:
    """costline: per-workflow LLM cost attribution on OpenTelemetry."""


def _register() -> None:
    for module_name, attribute in _SUBCOMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # subcommand not built yet
        cli.add_command(getattr(module, attribute))


def main() -> None:
    _register()
    cli()
