"""Where a ledger is: a SQLite file (a path) or a PostgreSQL database (`postgresql://...`).

Parsing never imports a database driver for a SQLite path, and never shows a password: every text built
from a PostgreSQL URL for a log line or an error goes through `redact()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

POSTGRES_SCHEMES: Final = ("postgresql", "postgres")
POSTGRES_EXTRA: Final = "pip install 'costline[postgres]'"
_SCHEME: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_HIDDEN: Final = "***"


@dataclass(frozen=True, slots=True)
class LedgerUrl:
    """A parsed `--ledger-url`: `kind` and the path (SQLite) or the libpq connection URL (PostgreSQL)."""

    kind: Literal["sqlite", "postgresql"]
    target: str

    @property
    def path(self) -> Path:
        if self.kind != "sqlite":
            raise ValueError(f"{self} is not a SQLite ledger")
        return Path(self.target)

    def __str__(self) -> str:
        return redact(self.target) if self.kind == "postgresql" else self.target


def is_postgres(text: str) -> bool:
    match = _SCHEME.match(text.strip())
    return match is not None and match.group(1).lower() in POSTGRES_SCHEMES


def parse_ledger_url(value: str | Path) -> LedgerUrl:
    """A SQLite path or a `postgresql://` URL; raise ValueError with one line saying what is wrong."""
    text = str(value).strip()
    if not text:
        raise ValueError("must not be empty")
    scheme = _SCHEME.match(text)
    if scheme is None:
        return LedgerUrl("sqlite", str(Path(text).expanduser()))
    if scheme.group(1).lower() not in POSTGRES_SCHEMES:
        raise ValueError(
            f"expected a SQLite file path or a postgresql:// URL, got a {scheme.group(1)}:// URL"
        )
    _check_postgres(text)
    return LedgerUrl("postgresql", text)


def _check_postgres(text: str) -> None:
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError(f"bad port in {redact(text)}") from None
    try:
        from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415 - only for PostgreSQL ledgers
    except ImportError:
        raise ValueError(f"a PostgreSQL ledger needs the psycopg driver: {POSTGRES_EXTRA}") from None
    try:
        conninfo_to_dict(text)  # libpq's own parser: what connecting will read
    except Exception as exc:  # psycopg.ProgrammingError: libpq's message for the bad part
        raise ValueError(
            f"{redact(text)} is not a valid PostgreSQL URL: {redact_text(str(exc), text)}"
        ) from None


def redact(url: str) -> str:
    """`url` with its password (in the user part or a `password=` parameter) replaced by `***`; a SQLite
    path as it is."""
    if not is_postgres(url):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return _HIDDEN
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:{_HIDDEN}@{host}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(key == "password" for key, _ in pairs):
        query = urlencode([(k, _HIDDEN if k == "password" else v) for k, v in pairs], safe="*/")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str, url: str) -> str:
    """A message that may quote `url` or its password (a driver's error), with the password hidden."""
    try:
        parts = urlsplit(url)
        secrets = [parts.password or "", *(v for k, v in parse_qsl(parts.query) if k == "password")]
    except ValueError:
        secrets = []
    text = text.replace(url, redact(url))
    for secret in secrets:
        for form in {secret, unquote(secret)} - {""}:  # the URL's spelling, and libpq's decoded one
            text = text.replace(form, _HIDDEN)
    return text
