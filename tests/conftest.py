"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from costline_processor.mock_provider import MockProvider


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
