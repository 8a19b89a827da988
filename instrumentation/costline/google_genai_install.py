"""Which `google-genai` SDK methods costline wraps (google-genai 3.x; optional APIs found with hasattr).

costline wraps the per-request methods of `google.genai.models.Models` and `AsyncModels`:
`_generate_content`, `_generate_content_stream` and `_embed_content`, not the public `generate_content`,
`generate_content_stream` and `embed_content` above them. A public call may send several billed requests:
automatic function calling sends one per tool round, automatic continuation one per hop, and the SDK merges
what it returns. Wrapping the request level gives one span per billed request, each with its own usage, and
covers everything built on the public methods (chats' `send_message` and `send_message_stream`, sync and
`client.aio`). An SDK without a private method gets its public one wrapped instead.

`count_tokens` and `compute_tokens` are not wrapped: they are not billed calls, so they yield no GenAI span.

The sync stream method is a generator function: it sends its request at the first `next()`, so that first
step runs in the call's context (span current, attribution hidden from outbound propagation); the async one
sends it before returning its async generator, inside the wrapped call.
"""

from __future__ import annotations

import inspect
import types
from typing import Any

from opentelemetry.trace import Tracer

from costline import attributes as a
from costline import google_genai_models as models
from costline._config import Settings
from costline._patching import Patch, custom_patch, method_patch, resolve
from costline._providers import detect_genai
from costline._span import Surface
from costline._wrapper import Starter, generator_wrapper

_MODULE = "google.genai.models"
_CLASSES = ("Models", "AsyncModels")


def _surfaces() -> dict[str, Surface]:
    common: dict[str, Any] = {"client_attribute": "_api_client", "detect_endpoint": detect_genai}
    return {
        "generate": Surface(
            "google_genai.generate_content",
            a.OPERATION_GENERATE_CONTENT,
            a.PROVIDER_GEMINI,
            models.read_request,
            models.read_response,
            **common,
        ),
        "stream": Surface(
            "google_genai.generate_content_stream",
            a.OPERATION_GENERATE_CONTENT,
            a.PROVIDER_GEMINI,
            models.read_stream_request,
            models.read_response,
            stream_types=(types.GeneratorType,),
            async_stream_types=(types.AsyncGeneratorType,),
            **common,
        ),
        "embed": Surface(
            "google_genai.embed_content",
            a.OPERATION_EMBEDDINGS,
            a.PROVIDER_GEMINI,
            models.read_embed_request,
            models.read_embed_response,
            **common,
        ),
    }


# surface -> (the per-request method, the public method wrapped when an SDK version lacks it)
_TARGETS: tuple[tuple[str, str, str], ...] = (
    ("generate", "_generate_content", "generate_content"),
    ("stream", "_generate_content_stream", "generate_content_stream"),
    ("embed", "_embed_content", "embed_content"),
)


def _patch(owner: Any, private: str, public: str, starter: Starter) -> Patch | None:
    attribute = private if callable(getattr(owner, private, None)) else public
    function = getattr(owner, attribute, None)
    if function is not None and inspect.isgeneratorfunction(inspect.unwrap(function)):
        return custom_patch(owner, attribute, generator_wrapper(starter))
    return method_patch(owner, attribute, starter)


def patches(tracer: Tracer, settings: Settings) -> list[Patch]:
    """Every patch for the installed google-genai version; empty when it is not importable."""
    if resolve(_MODULE) is None:
        return []
    starters = {name: Starter(tracer, settings, surface) for name, surface in _surfaces().items()}
    found: list[Patch | None] = []
    for class_name in _CLASSES:
        owner = resolve(_MODULE, class_name)
        if owner is None:
            continue
        found += [_patch(owner, private, public, starters[name]) for name, private, public in _TARGETS]
    return [patch for patch in found if patch is not None]
