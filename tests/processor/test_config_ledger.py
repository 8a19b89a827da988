"""`ledger_url`: a SQLite path or a PostgreSQL URL, validated at start-up, its password never shown;
`ledger_path`, its former name, still works."""

from __future__ import annotations

from pathlib import Path

import pytest

from costline_processor.config import ConfigError, load_config, redacted
from costline_processor.ledger import parse_ledger_url, redact

SECRET = "hunter2-Zq"


def test_a_path_or_a_postgresql_url_is_a_ledger() -> None:
    assert load_config({"ledger_url": "/var/lib/costline/ledger.sqlite3"}).ledger_url == (
        "/var/lib/costline/ledger.sqlite3"
    )
    url = f"postgresql://costline:{SECRET}@db.internal:5432/costline?sslmode=require"
    config = load_config(env={"COSTLINE_LEDGER_URL": url})
    assert config.ledger_url == url
    assert parse_ledger_url(config.ledger_url).kind == "postgresql"
    assert load_config({"ledger_url": "postgres://db/costline"}).ledger_url == "postgres://db/costline"


def test_the_former_name_still_names_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    assert load_config({"ledger_path": str(path)}).ledger_url == str(path)
    assert load_config({"ledger_path": str(path)}, {"COSTLINE_LEDGER_URL": str(path)}).ledger_url == str(path)


def test_the_two_names_naming_different_ledgers_is_one_error(tmp_path: Path) -> None:
    url = f"postgresql://costline:{SECRET}@db/costline"
    with pytest.raises(ConfigError) as caught:
        load_config({"ledger_path": str(tmp_path / "a.sqlite3")}, {"COSTLINE_LEDGER_URL": url})
    (error,) = caught.value.errors
    assert error.startswith("ledger_path/ledger_url (--ledger-path, COSTLINE_LEDGER_URL): name two different")
    assert error.endswith("set ledger_url only")
    assert SECRET not in error


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("mysql://db/costline", "expected a SQLite file path or a postgresql:// URL, got a mysql:// URL"),
        (f"postgresql://u:{SECRET}@db:port/costline", "bad port in postgresql://u:***@db:port/costline"),
        (f"postgresql://u:{SECRET}@db/costline?no_such_setting=1", "is not a valid PostgreSQL URL"),
        ("  ", "must not be empty"),
    ],
)
def test_a_bad_ledger_url_is_one_clear_error_without_its_password(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({"ledger_url": value})
    (error,) = caught.value.errors
    assert error.startswith("ledger_url (--ledger-url): ")
    assert message in error
    assert SECRET not in error


def test_the_logged_configuration_hides_the_password() -> None:
    url = f"postgresql://costline:{SECRET}@db/costline?password={SECRET}&application_name=x"
    shown = redacted(load_config({"ledger_url": url}))
    assert SECRET not in str(shown)
    assert shown["ledger_url"] == "postgresql://costline:***@db/costline?password=***&application_name=x"
    assert redact("costline-data/ledger.sqlite3") == "costline-data/ledger.sqlite3"
