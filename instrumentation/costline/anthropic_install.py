"""Which `anthropic` SDK methods costline wraps, and how the SDK's own span is kept from doubling ours.

anthropic 2.x traces itself: with a tracer provider present it emits a CLIENT span per call (scope
`com.anthropic.sdk.python`, `anthropic.messages.create`) from `_base_client.start_api_call_span`.
costline must yield exactly one GenAI span per call, and chooses to SUPPRESS the native span while its
own wrapper runs, rather than enrich it:

- enriching needs the native span object, which the SDK ends inside `create()` before returning for
  non-streamed calls, and which does not exist at all when the user disabled it
  (`ANTHROPIC_OPEN_TELEMETRY=false`, `open_telemetry=False`): costline would need two code paths;
- costline's span carries what the native one lacks (1-hour cache writes under our name, attribution,
  the estimated flag, a consistent shape across SDKs and versions).

Suppression is per call and scoped: `start_api_call_span` is wrapped to return None (the SDK's own
"no span" path) only while `IN_COSTLINE_CALL` is set, i.e. inside costline's wrapper. Calls costline
does not wrap (`count_tokens`, sessions, ...) and every call when costline is not instrumenting keep
the SDK's spans, and the user's settings are never touched. Without its span the SDK injects no trace
headers; that also keeps attribution baggage out of its requests (`outbound` covers everyone else).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.trace import Tracer

from costline import anthropic_messages
from costline import attributes as a
from costline._config import Settings
from costline._helper_wrappers import deferred_wrapper
from costline._patching import Patch, custom_patch, method_patch, resolve
from costline._span import IN_COSTLINE_CALL, Surface
from costline._wrapper import Starter


def _types() -> dict[str, Any]:
    def found(*candidates: object) -> tuple[type, ...]:
        return tuple(c for c in candidates if isinstance(c, type))

    return {
        "stream_types": found(resolve("anthropic", "Stream")),
        "async_stream_types": found(resolve("anthropic", "AsyncStream")),
        "raw_types": found(
            resolve("anthropic._legacy_response", "LegacyAPIResponse"),
            resolve("anthropic._response", "BaseAPIResponse"),
        ),
    }


def _suppress_native_span(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if IN_COSTLINE_CALL.get():
        return None
    return wrapped(*args, **kwargs)


_MODULES = ("anthropic.resources.messages.messages", "anthropic.resources.beta.messages.messages")


def patches(tracer: Tracer, settings: Settings) -> list[Patch]:
    """Every patch for the installed anthropic version; empty when anthropic is not importable."""
    if resolve("anthropic") is None:
        return []
    types = _types()
    messages = Surface(
        "anthropic.messages",
        a.OPERATION_CHAT,
        a.PROVIDER_ANTHROPIC,
        anthropic_messages.read_request,
        anthropic_messages.read_response,
        **types,
    )
    helper = Surface(
        "anthropic.messages.stream",
        a.OPERATION_CHAT,
        a.PROVIDER_ANTHROPIC,
        anthropic_messages.read_helper_request,
        anthropic_messages.read_response,
        **types,
    )
    starter, helper_starter = Starter(tracer, settings, messages), Starter(tracer, settings, helper)
    found: list[Patch | None] = []
    for module in _MODULES:
        for class_name in ("Messages", "AsyncMessages"):
            owner = resolve(module, class_name)
            found += [method_patch(owner, method, starter) for method in ("create", "parse")]
            stream = deferred_wrapper(
                helper_starter, class_name.startswith("Async"), anthropic_messages.on_helper_entered
            )
            found.append(custom_patch(owner, "stream", stream))
    found.append(
        custom_patch(resolve("anthropic._base_client"), "start_api_call_span", _suppress_native_span)
    )
    return [patch for patch in found if patch is not None]
