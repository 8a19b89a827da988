"""Real `google-genai` clients pointed at the local fake provider: Gemini API and Vertex AI, dummy auth.

The SDK retries 408/429/5xx five times with backoff by default; these clients try once, so a test that makes
the provider fail sees the failure at once (and each failure is one recorded request).
"""

from __future__ import annotations

from typing import Any

import google.auth.credentials
from google import genai
from google.genai import types

GEMINI_MODEL = "gemini-2.5-flash"
VERTEX_PROJECT = "costline-test"
VERTEX_LOCATION = "us-central1"


class DummyCredentials(google.auth.credentials.Credentials):  # type: ignore[misc]
    """Google credentials that need no network: refreshing just sets a fixed token."""

    def refresh(self, request: Any) -> None:
        self.token = "dummy-token"


def http_options(base_url: str, **extra: Any) -> types.HttpOptions:
    """`extra`: more HttpOptions fields (`async_client_args={"transport": ...}` keeps async calls on httpx2
    when aiohttp is installed, which the SDK otherwise prefers for them)."""
    return types.HttpOptions(base_url=base_url, retry_options=types.HttpRetryOptions(attempts=1), **extra)


def gemini_client(base_url: str, **extra: Any) -> genai.Client:
    """The Gemini API (`generativelanguage.googleapis.com` style paths) with a dummy API key."""
    return genai.Client(api_key="dummy", http_options=http_options(base_url, **extra))


def vertex_client(base_url: str, **extra: Any) -> genai.Client:
    """Vertex AI (`projects/.../publishers/google/models/...` paths) with dummy credentials."""
    return genai.Client(
        vertexai=True,
        project=VERTEX_PROJECT,
        location=VERTEX_LOCATION,
        credentials=DummyCredentials(),
        http_options=http_options(base_url, **extra),
    )


def client_for(backend: str, base_url: str) -> genai.Client:
    return vertex_client(base_url) if backend == "vertex" else gemini_client(base_url)
