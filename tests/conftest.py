"""Fixtures shared by every test package."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from costline_processor.mock_provider import MockProvider
from postgres_server import PostgresServer


@pytest.fixture(scope="session")
def mock_provider_server() -> Iterator[MockProvider]:
    """The fake OpenAI/Anthropic provider of the whole session, not reset (for wider-scoped fixtures)."""
    with MockProvider() as server:
        yield server


@pytest.fixture
def mock_provider(mock_provider_server: MockProvider) -> MockProvider:
    """The session's fake provider, reset: no requests, nothing queued, default behaviour."""
    mock_provider_server.reset()
    return mock_provider_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL for the session (tests/postgres_server.py); each test takes its own database."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def pg_database(postgres: PostgresServer) -> Iterator[str]:
    """The URL (with its password) of a new empty database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = postgres.create_database(name)
    yield url
    postgres.drop_database(name)
