"""The one generic wrapper: sync, async, streams, raw responses and stream helpers, for every surface.

Wrapper *factories* capture the tracer, settings and surface once at instrument time and return
`traced(wrapped, instance, args, kwargs)` for `wrapt.wrap_function_wrapper`. Per call: read the request,
start a CLIENT span named "{operation} {model}" with the attribution in force, run the SDK call with the
span current, the attribution hidden from outbound propagation and the anthropic SDK's own span
suppressed, then end the span (or hand it to a stream proxy). SDK exceptions are re-raised unchanged;
our own failures are reported and the call proceeds untouched.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer

from costline import attributes as a
from costline._config import Settings
from costline._providers import EndpointCache
from costline._safety import report_internal_error
from costline._span import CALL_SINK, IN_COSTLINE_CALL, AttrDict, Call, Request, StreamState, Surface
from costline._stream import (
    AsyncManagerProxy,
    AsyncRawProxy,
    SyncManagerProxy,
    SyncRawProxy,
    SyncStreamProxy,
    wrap_stream,
)
from costline.baggage import attribution_in_baggage, current_attribution, with_hidden_attribution

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]
# Called with the stream a helper's `__enter__` returned, once the call is known (anthropic helpers).
OnEntered = Callable[[Any, Call, Request], None]


class Starter:
    """Everything a surface's wrappers share, captured once: tracer, settings, endpoint cache."""

    __slots__ = ("client_attribute", "endpoints", "settings", "surface", "tracer")

    def __init__(self, tracer: Tracer, settings: Settings, surface: Surface) -> None:
        self.tracer = tracer
        self.settings = settings
        self.surface = surface
        self.client_attribute = surface.client_attribute
        fixed = {a.GEN_AI_OPERATION_NAME: surface.operation, a.LLM_INSTRUMENTATION: surface.name}
        self.endpoints = EndpointCache(
            surface.default_provider, settings.provider_overrides, fixed, surface.detect_endpoint
        )

    def start(self, instance: Any, kwargs: dict[str, Any]) -> tuple[Call, Request] | None:
        """Start the span of one call; None when even that failed (the call then runs untraced)."""
        try:
            surface = self.surface
            endpoint = self.endpoints.attributes(getattr(instance, self.client_attribute))
            try:
                request = surface.read_request(kwargs, self.settings, endpoint)
            except Exception as exc:  # still trace the call, with what we know
                report_internal_error(f"{surface.name}.read_request", exc)
                request = Request(
                    model=None, stream=kwargs.get("stream") is True, attributes={}, kwargs=kwargs
                )
            attrs: AttrDict = {**endpoint, **request.attributes}
            attribution = current_attribution()
            attrs.update(attribution)
            # A request may name its own operation (a Bedrock InvokeModel of an embedding model).
            operation = request.attributes.get(a.GEN_AI_OPERATION_NAME) or surface.operation
            name = f"{operation} {request.model}" if request.model else str(operation)
            span = self.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attrs)
            call = Call(span, surface, self.settings, request.state, attribution)
            sink = CALL_SINK.get()
            if sink is not None:
                sink.append(call)
            return call, request
        except Exception as exc:
            report_internal_error(f"{self.surface.name}.start", exc)
            return None


def returned(call: Call, request: Request, result: Any) -> Any:
    """End the call now, or hand it to a proxy; the app gets `result` or a transparent proxy of it."""
    try:
        surface = call.surface
        if isinstance(result, surface.raw_types):
            return _raw(call, request, result)
        if request.stream or isinstance(result, surface.all_stream_types):
            return wrap_stream(result, call, request.state)
        call.end_response(result)
    except Exception as exc:
        report_internal_error(f"{call.surface.name}.returned", exc)
        call.end_response(None)
    return result


def _raw(call: Call, request: Request, result: Any) -> Any:
    http_response = getattr(result, "http_response", None)
    body_read = http_response is not None and hasattr(http_response, "_content")
    if not request.stream and body_read and not inspect.iscoroutinefunction(result.parse):
        # `with_raw_response`: the body is already here; parse() caches, so the app's own parse() is free.
        try:
            parsed = result.parse()
        except Exception:  # the app sees the same parse error when it parses
            parsed = None
        call.end_response(parsed)
        return result
    if inspect.iscoroutinefunction(result.parse):
        return AsyncRawProxy(result, call, request.state)
    return SyncRawProxy(result, call, request.state)


def activate(call: Call) -> tuple[object, contextvars.Token[bool]]:
    """Make the call's span current, with the attribution hidden from outbound propagation.

    This is `costline.outbound.hide_attribution_from_propagation()` fused with `use_span`: one context
    attach instead of two on the hot path (same helpers, same resulting context).
    """
    context = otel_context.get_current()
    if call.attribution:
        try:
            if attribution_in_baggage(context):
                context = with_hidden_attribution(call.attribution, context)
        except Exception as exc:  # the SDK call must run even if hiding fails
            report_internal_error("outbound.hide", exc)
    token = otel_context.attach(trace.set_span_in_context(call.span, context))
    return token, IN_COSTLINE_CALL.set(True)


def run_sync(call: Call, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run the SDK code with the call's span current; an SDK exception ends the span and propagates."""
    token, flag = activate(call)
    try:
        return function(*args, **kwargs)
    except BaseException as exc:
        call.end_error(exc)
        raise
    finally:
        IN_COSTLINE_CALL.reset(flag)
        otel_context.detach(token)  # type: ignore[arg-type]


async def run_async(call: Call, function: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
    token, flag = activate(call)
    try:
        return await function(*args, **kwargs)
    except BaseException as exc:
        call.end_error(exc)
        raise
    finally:
        IN_COSTLINE_CALL.reset(flag)
        otel_context.detach(token)  # type: ignore[arg-type]


def sync_wrapper(starter: Starter) -> Wrapper:
    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        started = starter.start(instance, kwargs)
        if started is None:
            return wrapped(*args, **kwargs)
        call, request = started
        # run_sync, inlined: this is the hot path of every non-streamed call.
        token, flag = activate(call)
        try:
            result = wrapped(*args, **request.kwargs)
        except BaseException as exc:
            call.end_error(exc)
            raise
        finally:
            IN_COSTLINE_CALL.reset(flag)
            otel_context.detach(token)  # type: ignore[arg-type]
        return returned(call, request, result)

    return traced


def async_wrapper(starter: Starter) -> Wrapper:
    async def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        started = starter.start(instance, kwargs)
        if started is None:
            return await wrapped(*args, **kwargs)
        call, request = started
        token, flag = activate(call)
        try:
            result = await wrapped(*args, **request.kwargs)
        except BaseException as exc:
            call.end_error(exc)
            raise
        finally:
            IN_COSTLINE_CALL.reset(flag)
            otel_context.detach(token)  # type: ignore[arg-type]
        return returned(call, request, result)

    return traced


def _first_in_context(call: Call, next_item: Callable[[], Any]) -> Callable[[], Any]:
    """`next_item` whose first call runs like the SDK call itself (span current, attribution hidden)."""
    first = True

    def step() -> Any:
        nonlocal first
        if not first:
            return next_item()
        first = False
        token, flag = activate(call)
        try:
            return next_item()
        finally:
            IN_COSTLINE_CALL.reset(flag)
            otel_context.detach(token)  # type: ignore[arg-type]

    return step


def generator_wrapper(starter: Starter) -> Wrapper:
    """For sync generator functions that send their request at the first `next()` (google-genai streams)."""

    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        started = starter.start(instance, kwargs)
        if started is None:
            return wrapped(*args, **kwargs)
        call, request = started
        generator = run_sync(call, wrapped, *args, **request.kwargs)
        try:
            first = _first_in_context(call, generator.__next__)
            return SyncStreamProxy(generator, call, request.state or StreamState(), first)
        except Exception as exc:
            report_internal_error(f"{call.surface.name}.returned", exc)
            call.end_response(None)
            return generator

    return traced


def _collect_sync(enter: Callable[[], Any]) -> tuple[Any, Call | None]:
    sink: list[Call] = []
    token = CALL_SINK.set(sink)
    try:
        stream = enter()
    finally:
        CALL_SINK.reset(token)
    return stream, (sink[-1] if sink else None)


async def _collect_async(aenter: Callable[[], Awaitable[Any]]) -> tuple[Any, Call | None]:
    sink: list[Call] = []
    token = CALL_SINK.set(sink)
    try:
        stream = await aenter()
    finally:
        CALL_SINK.reset(token)
    return stream, (sink[-1] if sink else None)


def helper_wrapper(is_async: bool) -> Wrapper:
    """For helpers whose `__enter__` calls the already-wrapped `create` (openai `.stream()` helpers)."""

    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        manager = wrapped(*args, **kwargs)
        if is_async:
            return AsyncManagerProxy(manager, _collect_async)
        return SyncManagerProxy(manager, _collect_sync)

    return traced


def deferred_wrapper(starter: Starter, is_async: bool, on_entered: OnEntered) -> Wrapper:
    """For helpers that send the request themselves in `__enter__` (anthropic `messages.stream()`)."""

    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        manager = wrapped(*args, **kwargs)

        def enter(real_enter: Callable[[], Any]) -> tuple[Any, Call | None]:
            started = starter.start(instance, kwargs)
            if started is None:
                return real_enter(), None
            call, request = started
            stream = run_sync(call, real_enter)
            _entered(on_entered, stream, call, request)
            return stream, call

        async def aenter(real_aenter: Callable[[], Awaitable[Any]]) -> tuple[Any, Call | None]:
            started = starter.start(instance, kwargs)
            if started is None:
                return await real_aenter(), None
            call, request = started
            stream = await run_async(call, real_aenter)
            _entered(on_entered, stream, call, request)
            return stream, call

        if is_async:
            return AsyncManagerProxy(manager, aenter)
        return SyncManagerProxy(manager, enter)

    return traced


def _entered(on_entered: OnEntered, stream: Any, call: Call, request: Request) -> None:
    try:
        on_entered(stream, call, request)
    except Exception as exc:
        report_internal_error(f"{call.surface.name}.entered", exc)


__all__ = [
    "OnEntered",
    "Starter",
    "StreamState",
    "activate",
    "async_wrapper",
    "deferred_wrapper",
    "generator_wrapper",
    "helper_wrapper",
    "returned",
    "run_async",
    "run_sync",
    "sync_wrapper",
]
