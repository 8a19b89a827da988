"""Which `openai` SDK methods costline wraps (openai 1.x-3.x; optional APIs found with hasattr).

The resource classes' methods are wrapped, so every client (sync, async, Azure, any base_url) is
covered, and so is `with_raw_response`/`with_streaming_response`, which call the same methods. The
`.stream()` helpers call the wrapped `create` inside their `__enter__`; their managers are proxied
only to end the span when the `with` block exits.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Tracer

from costline import attributes as a
from costline import openai_chat, openai_responses
from costline._config import Settings
from costline._helper_wrappers import helper_wrapper
from costline._patching import Patch, custom_patch, method_patch, resolve
from costline._span import Surface
from costline._wrapper import Starter


def _types() -> dict[str, Any]:
    def found(*candidates: object) -> tuple[type, ...]:
        return tuple(c for c in candidates if isinstance(c, type))

    return {
        "stream_types": found(resolve("openai", "Stream")),
        "async_stream_types": found(resolve("openai", "AsyncStream")),
        "raw_types": found(
            resolve("openai._legacy_response", "LegacyAPIResponse"),
            resolve("openai._response", "BaseAPIResponse"),
        ),
    }


def _surfaces() -> dict[str, Surface]:
    types = _types()
    return {
        "chat": Surface(
            "openai.chat.completions",
            a.OPERATION_CHAT,
            a.PROVIDER_SELF_HOSTED,
            openai_chat.read_chat_request,
            openai_chat.read_response,
            **types,
        ),
        "completions": Surface(
            "openai.completions",
            a.OPERATION_TEXT_COMPLETION,
            a.PROVIDER_SELF_HOSTED,
            openai_chat.read_completion_request,
            openai_chat.read_response,
            **types,
        ),
        "responses": Surface(
            "openai.responses",
            a.OPERATION_CHAT,
            a.PROVIDER_SELF_HOSTED,
            openai_responses.read_request,
            openai_responses.read_response,
            **types,
        ),
        "embeddings": Surface(
            "openai.embeddings",
            a.OPERATION_EMBEDDINGS,
            a.PROVIDER_SELF_HOSTED,
            openai_responses.read_embeddings_request,
            openai_responses.read_embeddings_response,
            **types,
        ),
    }


# (surface, module, class names, methods wrapped with the generic wrapper, stream helpers)
_TARGETS: tuple[tuple[str, str, tuple[str, str], tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "chat",
        "openai.resources.chat.completions",
        ("Completions", "AsyncCompletions"),
        ("create", "parse"),
        ("stream",),
    ),
    # openai 1.x: structured outputs lived under beta (they call _post, not create).
    (
        "chat",
        "openai.resources.beta.chat.completions",
        ("Completions", "AsyncCompletions"),
        ("parse",),
        ("stream",),
    ),
    ("completions", "openai.resources.completions", ("Completions", "AsyncCompletions"), ("create",), ()),
    (
        "responses",
        "openai.resources.responses",
        ("Responses", "AsyncResponses"),
        ("create", "parse"),
        ("stream",),
    ),
    ("embeddings", "openai.resources.embeddings", ("Embeddings", "AsyncEmbeddings"), ("create",), ()),
)


def patches(tracer: Tracer, settings: Settings) -> list[Patch]:
    """Every patch for the installed openai version; empty when openai is not importable."""
    if resolve("openai") is None:
        return []
    surfaces = _surfaces()
    starters = {name: Starter(tracer, settings, surface) for name, surface in surfaces.items()}
    found: list[Patch | None] = []
    for surface, module, classes, methods, helpers in _TARGETS:
        for class_name in classes:
            owner = resolve(module, class_name)
            if owner is None:
                continue
            found += [method_patch(owner, method, starters[surface]) for method in methods]
            is_async = class_name.startswith("Async")
            found += [custom_patch(owner, helper, helper_wrapper(is_async)) for helper in helpers]
    return [patch for patch in found if patch is not None]
