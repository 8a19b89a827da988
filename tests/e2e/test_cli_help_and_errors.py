"""What the `costline` commands print: `--help` shows every default and every choice, and a YAML file with a
syntax error is named with its line (never PyYAML's `"<unicode string>"`), by the real command."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from serve_process import COSTLINE, ServeProcess

from costline_processor.cli import _register, cli
from costline_processor.config import ServeConfig, choices
from costline_processor.ledger import Ledger

pytestmark = pytest.mark.e2e

BAD_YAML = "customer_support: 1\nsales: 2: 3\n"  # "mapping values are not allowed here", line 2
BAD_AT = ":2:9: invalid YAML: mapping values are not allowed here"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COSTLINE), *args], capture_output=True, text=True, timeout=60, cwd=cwd, check=False
    )


def squeezed(text: str) -> str:
    """Help text without any whitespace: click wraps lines and breaks long words anywhere."""
    return "".join(text.split())


def commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


def shown_default(path: tuple[str, ...], option: click.Option) -> object:
    """The default `--help` must show, or None when there is none to show."""
    if path == ("serve",) and option.name in SERVE_DEFAULTS:
        return SERVE_DEFAULTS[option.name]  # click's default there is only the text --help shows
    if option.default in (NO_DEFAULT, None, ()):
        return None
    if option.is_flag and not option.default and not option.secondary_opts:
        return None
    return option.default


SERVE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ServeConfig)}
NO_DEFAULT = click.Option(["--probe"]).default  # None, or click's UNSET sentinel (click >= 8.3)
_register()
ALL_COMMANDS = list(commands(cli))


@pytest.mark.parametrize(("path", "command"), ALL_COMMANDS, ids=[" ".join(path) for path, _ in ALL_COMMANDS])
def test_help_shows_every_default_and_every_choice(path: tuple[str, ...], command: click.Command) -> None:
    shown = run(*path, "--help")
    assert shown.returncode == 0, shown.stderr
    text = squeezed(shown.stdout)
    context = click.Context(command, info_name=path[-1])
    for option in command.params:
        if not isinstance(option, click.Option) or option.hidden or option.name == "help":
            continue
        record = option.get_help_record(context)
        assert record is not None
        assert squeezed(record[0]) in text
        assert squeezed(record[1]) in text
        if shown_default(path, option) is not None:
            assert "[default: " in record[1], f"{' '.join(path)} {option.opts[0]} hides its default"
        fixed = option.type.choices if isinstance(option.type, click.Choice) else ()
        if path == ("serve",) and option.name in SERVE_DEFAULTS:
            fixed = choices(option.name)
        if fixed:
            assert squeezed(f"[{'|'.join(map(str, fixed))}]") in squeezed(record[0]), record[0]


def test_serve_help_shows_the_ports_defaults_and_choices() -> None:
    text = " ".join(run("serve", "--help").stdout.split())
    for flag, port in (("--grpc-port", 4327), ("--http-port", 4328), ("--metrics-port", 9464)):
        assert f"{flag} INTEGER" in text
        assert f"[default: {port}]" in text
    assert "--traces-protocol [grpc|http]" in text
    assert "--log-level [debug|info|warning|error]" in text
    assert "[default: ./costline-data/ledger.sqlite3]" in text


def test_report_help_shows_the_default_ledger_path_which_serve_writes() -> None:
    text = " ".join(run("report", "--help").stdout.split())
    assert "[default: ./costline-data/ledger.sqlite3]" in text
    assert Path("./costline-data/ledger.sqlite3") == Path(ServeConfig().ledger_url)


Arguments = Callable[[Path, Path], list[str]]  # (work dir, YAML file) -> costline's arguments


def serve_command(tmp_path: Path, *args: str) -> list[str]:
    return ServeProcess(tmp_path, args=args).command()[1:]


def empty_ledger(directory: Path) -> str:
    path = directory / "ledger.sqlite3"
    Ledger(path).close()
    return str(path)


# command -> (its arguments given a work dir and the broken file, what its error line starts with)
YAML_READERS: dict[str, tuple[Arguments, str]] = {
    "serve --config": (
        lambda d, f: serve_command(d, f"--config={f}"),
        "costline serve: config error: config file ",
    ),
    "serve --budgets": (
        lambda d, f: serve_command(d, f"--budgets={f}"),
        "costline serve: config error: budgets: ",
    ),
    "serve --price-overrides": (
        lambda d, f: serve_command(d, f"--price-overrides={f}"),
        "costline serve: config error: price_overrides: ",
    ),
    "report --budgets": (lambda d, f: ["report", "--ledger", empty_ledger(d), "--budgets", str(f)], "  - "),
    "prices show --price-overrides": (
        lambda d, f: ["prices", "show", "gpt-4o", "--price-overrides", str(f)],
        "",
    ),
}


@pytest.mark.parametrize("name", sorted(YAML_READERS))
def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path: Path, name: str) -> None:
    arguments, prefix = YAML_READERS[name]
    bad = tmp_path / "broken.yaml"
    bad.write_text(BAD_YAML, encoding="utf-8")
    result = run(*arguments(tmp_path, bad), cwd=tmp_path)
    assert result.returncode != 0
    assert f"{prefix}{bad}{BAD_AT}" in result.stderr, result.stderr
    assert "<unicode string>" not in result.stderr
    assert "Traceback" not in result.stderr
    if name.startswith("serve"):
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
