"""`costline serve`: run the OTLP pricing processor until SIGTERM/SIGINT.

Every option comes from `config.ServeConfig`; the click options are generated from it, so the CLI, the
environment variables, the YAML keys and the README table cannot drift apart.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import click
from click.core import ParameterSource

from costline_processor.config import (
    FIELDS,
    ConfigError,
    ServeConfig,
    choices,
    cli_flag,
    config_table,
    default_text,
    load_config,
    redacted,
)

EXIT_CONFIG = 2
EXIT_STARTUP = 1
EXIT_INTERRUPTED = 130  # the shell's code for SIGINT
# Net container allocations between young-generation collections (CPython's default: 700).
GC_GEN0_THRESHOLD = 50_000

logger = logging.getLogger("costline.serve")


def _metavar(type_name: str, name: str) -> str:
    if choices(name):
        return f"[{'|'.join(choices(name))}]"  # how click shows a click.Choice
    if name.endswith("_endpoint"):
        return "URL"
    if name == "ledger_url":
        return "PATH|URL"
    if name.endswith("_headers"):
        return "K=V,..."
    for prefix, metavar in (("int", "INTEGER"), ("float", "NUMBER"), ("Path", "PATH")):
        if type_name.startswith(prefix):
            return metavar
    return "TEXT"


def _config_options(command: Callable[..., None]) -> Callable[..., None]:
    # Values stay strings here: config.load_config parses and validates every source the same way. The
    # click defaults are only the text `--help` shows: `_given` drops them, else they would hide the
    # environment and the config file.
    for f in reversed(FIELDS):
        shown = {"help": f.metadata["help"], "show_default": True}
        if f.type in (bool, "bool"):
            decls = [f"{cli_flag(f.name)}/--no-{f.name.replace('_', '-')}", f.name]
            command = click.option(*decls, default=f.default, **shown)(command)
        else:
            metavar = _metavar(str(f.type), f.name)
            option = click.option(
                cli_flag(f.name), f.name, default=default_text(f.name), metavar=metavar, **shown
            )
            command = option(command)
    return command


def _given(options: dict[str, Any]) -> dict[str, Any]:
    """The options typed on the command line (the others hold `--help`'s default text)."""
    context = click.get_current_context()
    return {
        name: value
        for name, value in options.items()
        if context.get_parameter_source(name) is ParameterSource.COMMANDLINE
    }


@click.command("serve")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="YAML file of options.")
@click.option("--print-config-table", is_flag=True, help="Print the options as a markdown table and exit.")
@_config_options
def serve(config_file: Path | None, print_config_table: bool, **options: Any) -> None:
    """Receive OTLP traces, price LLM spans, forward enriched spans, export cost metrics."""
    if print_config_table:
        click.echo(config_table(), nl=False)
        return
    try:
        config = load_config(_given(options), os.environ, config_file)
    except ConfigError as exc:
        for error in exc.errors:
            click.echo(f"costline serve: config error: {error}", err=True)
        sys.exit(EXIT_CONFIG)
    logging.basicConfig(
        level=config.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logger.debug("configuration: %s", redacted(config))
    sys.exit(run(config))


def tune_gc() -> None:
    """Make the cyclic garbage collector cheap for a service that allocates thousands of objects per request.

    A 512-span request keeps ~4,000 objects alive until it is acknowledged, so with the default threshold
    every request set off several collections, and the older generations' passes walked every object loaded
    at startup (price data, grpc, protobuf): ~6% of the CPU at full load. Freezing moves the startup objects
    out of the collector's reach; request garbage is acyclic and freed by reference counting anyway, and
    cyclic garbage is still collected, in rarer passes bounded by the threshold.
    """
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


def run(config: ServeConfig) -> int:
    """Start the service, block until SIGTERM/SIGINT, stop gracefully; returns the exit code."""
    # Imported here so `--help` and `--print-config-table` do not load grpc, SQLite and the price data.
    from costline_processor.budgets import BudgetsConfigError  # noqa: PLC0415
    from costline_processor.pricing import PricingConfigError  # noqa: PLC0415
    from costline_processor.server import Service, StartupError  # noqa: PLC0415

    try:
        service = Service(config)
    except (PricingConfigError, BudgetsConfigError) as exc:
        option = "price_overrides" if isinstance(exc, PricingConfigError) else "budgets"
        for problem in exc.problems:
            click.echo(f"costline serve: config error: {option}: {problem}", err=True)
        return EXIT_CONFIG
    except StartupError as exc:
        click.echo(f"costline serve: cannot start: {exc}", err=True)
        return EXIT_STARTUP
    except KeyboardInterrupt:  # Ctrl-C while it waits for a shared ledger's database
        click.echo("costline serve: interrupted before it started", err=True)
        return EXIT_INTERRUPTED
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    tune_gc()
    service.start()
    while not stop.wait(1.0):
        pass
    service.stop()
    return 0
