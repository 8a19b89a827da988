"""`costline ledger migrate`: bring a ledger's schema to this costline's version, on either backend.

`costline serve` migrates at start-up anyway; the command is for upgrading ahead of a rollout (or with a
database role that serve does not get DDL rights with). Migrations are versioned and only append.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from costline_processor.ledger import schema
from costline_processor.ledger.errors import LedgerLockedError, LedgerUnavailableError
from costline_processor.ledger.url import parse_ledger_url


@dataclass(frozen=True, slots=True)
class Migrated:
    location: str
    from_version: int
    to_version: int

    def describe(self) -> str:
        if self.from_version == self.to_version:
            return f"ledger {self.location}: schema version {self.to_version}, nothing to do"
        if self.from_version == 0:
            return f"ledger {self.location}: created at schema version {self.to_version}"
        return (
            f"ledger {self.location}: upgraded from schema version {self.from_version} to {self.to_version}"
        )


def migrate_ledger(url: str) -> Migrated:
    """Create or upgrade the ledger at `url` (raises LedgerSchemaError, -LockedError, -UnavailableError)."""
    where = parse_ledger_url(url)
    if where.kind == "postgresql":
        import psycopg  # noqa: PLC0415

        from costline_processor.ledger.pg.connection import connect, describe  # noqa: PLC0415
        from costline_processor.ledger.pg.schema import migrate  # noqa: PLC0415

        with connect(where.target, role="ledger migrate") as conn:
            try:
                return Migrated(str(where), *migrate(conn))
            except psycopg.Error as exc:
                raise LedgerUnavailableError(describe(exc, where.target)) from None
    return _migrate_sqlite(where.target)


def _migrate_sqlite(path: str) -> Migrated:
    from costline_processor.ledger.store import Ledger  # noqa: PLC0415

    before = 0
    if os.path.exists(path):
        with closing(sqlite3.connect(path)) as conn:
            before = schema.version_of(conn)
    if before == schema.SCHEMA_VERSION:
        return Migrated(path, before, before)
    try:
        with Ledger(Path(path), read_only=False):  # the writer migrates the file when it opens it
            pass
    except LedgerLockedError as exc:
        raise LedgerLockedError(f"{exc}: stop it, or let it upgrade the ledger when it restarts") from None
    return Migrated(path, before, schema.SCHEMA_VERSION)
