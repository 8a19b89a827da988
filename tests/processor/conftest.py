"""The ledger tests run on both backends: a SQLite file and a database on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from _ledger_backends import BACKENDS


@pytest.fixture(params=BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's ledger is: a new SQLite file, or a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.sqlite3")
    url: str = request.getfixturevalue("pg_database")
    return url
