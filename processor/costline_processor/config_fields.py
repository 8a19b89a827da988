"""The value parsers of `costline serve`'s options and their field metadata.

Each parser accepts a string (CLI, env) or the YAML-typed value, and returns the field's value or raises
ValueError with the message shown for that field.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from costline_processor.ledger.url import parse_ledger_url

Parser = Callable[[object], object]


def parse_text(value: object) -> str:
    if isinstance(value, bool | int | float | str):
        return str(value).strip()
    raise ValueError(f"expected a string, got {type(value).__name__}")


def parse_optional_text(value: object) -> str | None:
    text = parse_text(value)
    return text or None


def parse_int_in(low: int, high: int) -> Parser:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"expected an integer, got {value!r}")
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"expected an integer, got {value!r}") from None
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}, got {number}")
        return number

    return parse


def parse_number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None


def parse_positive_float(value: object) -> float:
    number = parse_number(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"must be a positive number, got {value!r}")
    return number


def parse_float_in(low: float, high: float) -> Parser:
    def parse(value: object) -> float:
        number = parse_number(value)
        if not low <= number <= high:  # also refuses NaN
            raise ValueError(f"must be between {low:g} and {high:g}, got {value!r}")
        return number

    return parse


def parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = parse_text(value).lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def parse_one_of(choices: tuple[str, ...]) -> Parser:
    def parse(value: object) -> str:
        text = parse_text(value).lower()
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return text

    return parse


def parse_optional_path(value: object) -> Path | None:
    text = parse_text(value)
    return Path(text).expanduser() if text else None


def parse_path(value: object) -> Path:
    path = parse_optional_path(value)
    if path is None:
        raise ValueError("must not be empty")
    return path


def parse_optional_existing_file(value: object) -> Path | None:
    path = parse_optional_path(value)
    if path is not None and not path.is_file():
        raise ValueError(f"file not found: {path}")
    return path


def parse_optional_url(value: object) -> str | None:
    text = parse_text(value)
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL, got {text!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError(f"bad port in {text!r}") from None
    return text


def parse_ledger_option(value: object) -> str:
    """A SQLite path (`~` expanded) or a PostgreSQL URL checked by libpq's parser (password never shown)."""
    return parse_ledger_url(parse_text(value)).target


def parse_headers(value: object) -> tuple[tuple[str, str], ...]:
    """`k1=v1,k2=v2` (the OTEL_EXPORTER_OTLP_HEADERS format) or a YAML mapping."""
    pairs: dict[str, str] = {}
    if isinstance(value, Mapping):
        items = [(str(k), parse_text(v)) for k, v in value.items()]
    else:
        items = []
        for chunk in parse_text(value).split(","):
            if not chunk.strip():
                continue
            key, sep, val = chunk.partition("=")
            if not sep:
                raise ValueError(f"expected key=value pairs separated by commas, got {chunk.strip()!r}")
            items.append((key, val))
    for raw_key, val in items:
        key = raw_key.strip()
        if not key or any(ch.isspace() for ch in key):
            raise ValueError(f"bad header name {key!r}")
        pairs[key] = val.strip()
    return tuple(pairs.items())


def option_meta(help_text: str, parse: Parser, shown_default: str | None = None, secret: bool = False) -> Any:
    """`shown_default`: what the default means when it is not a value to show (`the ledger's id`)."""
    return {
        "help": help_text,
        "parse": parse,
        "shown_default": shown_default,
        "secret": secret,
        "choices": (),
    }


def choice_meta(help_text: str, choices: tuple[str, ...]) -> Any:
    """An option with fixed choices: parsed, shown in `--help` and listed in the README table from here."""
    return {**option_meta(help_text, parse_one_of(choices)), "choices": choices}
