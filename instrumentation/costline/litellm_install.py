"""Which LiteLLM functions costline wraps: its public entry points, whatever path serves the call.

LiteLLM reaches most providers over its own HTTP code (Anthropic, Gemini, Bedrock...), its Rust core serves
some routes, and even its OpenAI calls go through `OpenAI.post()`, under the SDK resource methods costline
wraps. So the entry points are wrapped: `litellm.completion`, `acompletion`, `embedding`, `aembedding` (each
if present: found with hasattr, so older and newer LiteLLM versions alike). One call is one span, with the
usage LiteLLM returns. Where LiteLLM does call a wrapped SDK method inside (embeddings with
`encoding_format`, some providers' SDKs), that inner call gets no span of its own (`IN_COSTLINE_CALL`).

The module attributes are wrapped, so code that calls `litellm.completion(...)` (CrewAI, LangChain's
`ChatLiteLLM`, the Agents SDK's `LitellmModel`) is covered, and so is `from litellm import completion` run
after instrumenting (under `opentelemetry-instrument`, before the app's imports). `completion(...,
acompletion=True)` is served by LiteLLM's unwrapped `acompletion` and yields no span: call `acompletion`.

`batch_completion` and its siblings run each call in a thread pool of their own that does not copy the
caller's context, so the workflow would be lost there: their module gets a pool that runs each task in a
copy of the submitter's context (what `asyncio.to_thread` does).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from opentelemetry.trace import Tracer

from costline import attributes as a
from costline import litellm_calls
from costline._config import Settings
from costline._patching import Patch, custom_patch, method_patch, resolve
from costline._span import Surface
from costline._wrapper import Starter

MODULE = "litellm"
_BATCH_MODULE = "litellm.batch_completion.main"


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A thread pool whose tasks run in a copy of the context they were submitted from."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


def _context_pool(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> ThreadPoolExecutor:
    return ContextThreadPoolExecutor(*args, **kwargs)


def _stream_types() -> tuple[type, ...]:
    found = resolve(MODULE, "CustomStreamWrapper") or resolve("litellm.utils", "CustomStreamWrapper")
    return (found,) if isinstance(found, type) else ()


def _surfaces() -> dict[str, Surface]:
    streams = _stream_types()
    common: dict[str, Any] = {"client_attribute": None, "current_span_writable": False}
    return {
        "completion": Surface(
            "litellm.completion",
            a.OPERATION_CHAT,
            a.PROVIDER_UNKNOWN,
            litellm_calls.read_completion_request,
            litellm_calls.read_response,
            stream_types=streams,
            **common,
        ),
        "acompletion": Surface(
            "litellm.acompletion",
            a.OPERATION_CHAT,
            a.PROVIDER_UNKNOWN,
            litellm_calls.read_completion_request,
            litellm_calls.read_response,
            async_stream_types=streams,  # the same class, iterated with `async for`
            **common,
        ),
        "embedding": Surface(
            "litellm.embedding",
            a.OPERATION_EMBEDDINGS,
            a.PROVIDER_UNKNOWN,
            litellm_calls.read_embedding_request,
            litellm_calls.read_response,
            **common,
        ),
    }


# (entry point, surface)
_TARGETS: tuple[tuple[str, str], ...] = (
    ("completion", "completion"),
    ("acompletion", "acompletion"),
    ("embedding", "embedding"),
    ("aembedding", "embedding"),
)


def patches(tracer: Tracer, settings: Settings) -> list[Patch]:
    """Every patch for the installed LiteLLM; empty when it is not importable."""
    module = resolve(MODULE)
    if module is None:
        return []
    starters = {name: Starter(tracer, settings, surface) for name, surface in _surfaces().items()}
    found = [method_patch(module, function, starters[surface]) for function, surface in _TARGETS]
    found.append(custom_patch(resolve(_BATCH_MODULE), "ThreadPoolExecutor", _context_pool))
    return [patch for patch in found if patch is not None]
