"""The one generic wrapper: sync, async, streams and raw responses, for every surface (stream-helper
managers: `_helper_wrappers`).

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
from opentelemetry.trace import NonRecordingSpan, SpanKind, Tracer

from costline import _budget_guard
from costline import attributes as a
from costline._budget_calls import apply_verdict, checked, downgrade_target, rejected_downgrade
from costline._budget_snapshot import Verdict, match
from costline._config import Settings
from costline._mirrors import mark_mirror
from costline._providers import EndpointCache
from costline._safety import report_internal_error
from costline._span import CALL_SINK, IN_COSTLINE_CALL, AttrDict, Call, Request, StreamState, Surface
from costline._stream import (
    AsyncRawProxy,
    SyncRawProxy,
    SyncStreamProxy,
    wrap_stream,
)
from costline.baggage import attribution_in_baggage, read_attribution, with_hidden_attribution

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]
# A budget check already done for a call: its verdict and the model the app asked for.
Decided = tuple[Verdict, Any]
# Returned by the SDK-call step when a provider refused a budget's downgrade model: send the call again.
RESEND: Any = object()


class Starter:
    """Everything a surface's wrappers share, captured once: tracer, settings, endpoint cache."""

    __slots__ = ("client_attribute", "endpoints", "fixed", "settings", "surface", "tracer")

    def __init__(self, tracer: Tracer, settings: Settings, surface: Surface) -> None:
        self.tracer = tracer
        self.settings = settings
        self.surface = surface
        self.client_attribute = surface.client_attribute
        fixed: AttrDict = {a.GEN_AI_OPERATION_NAME: surface.operation, a.LLM_INSTRUMENTATION: surface.name}
        self.fixed = fixed
        self.endpoints = EndpointCache(
            surface.default_provider, settings.provider_overrides, fixed, surface.detect_endpoint
        )

    def _endpoint(self, instance: Any) -> AttrDict:
        """The client's endpoint attributes; the fixed ones for surfaces with no client object (LiteLLM)."""
        if self.client_attribute is None:
            return self.fixed
        return self.endpoints.attributes(getattr(instance, self.client_attribute))

    def start(
        self, instance: Any, kwargs: dict[str, Any], decided: Decided | None = None
    ) -> tuple[Call, Request] | None:
        """Start the span of one call; None when even that failed (the call then runs untraced), and None
        inside another costline call, which already has this call's span (`IN_COSTLINE_CALL`).

        Raises `BudgetExceeded` (after ending the call's span) when a budget blocks the call. `decided`:
        the verdict and requested model of a call whose budget check already ran (stream helpers).
        """
        if IN_COSTLINE_CALL.get():
            return None
        verdict: Verdict | None = None
        try:
            surface = self.surface
            endpoint = self._endpoint(instance)
            try:
                request = surface.read_request(kwargs, self.settings, endpoint)
            except Exception as exc:  # still trace the call, with what we know
                report_internal_error(f"{surface.name}.read_request", exc)
                request = Request(
                    model=None, stream=kwargs.get("stream") is True, attributes={}, kwargs=kwargs
                )
            attrs: AttrDict = {**endpoint, **request.attributes}
            attribution = read_attribution()
            attrs.update(attribution.span_attributes())
            requested = request.model
            if decided is not None:
                verdict, requested = decided
            elif index := _budget_guard.INDEX:  # () without a guard or without a stopped budget
                verdict = match(index, attribution.values)
            if verdict is not None:
                apply_verdict(verdict, request, attrs, surface, requested)
            # A request may name its own operation (a Bedrock InvokeModel of an embedding model).
            operation = request.attributes.get(a.GEN_AI_OPERATION_NAME) or surface.operation
            name = f"{operation} {request.model}" if request.model else str(operation)
            span = self.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attrs)
            mark_mirror(span, request.model)
            call = Call(span, surface, self.settings, request.state, attribution.values)
        except Exception as exc:
            report_internal_error(f"{self.surface.name}.start", exc)
            if verdict is not None and verdict.error is not None:
                raise verdict.error() from None  # the budget still blocks, traced or not
            return None
        if verdict is not None and verdict.error is not None:
            error = verdict.error()
            call.end_error(error)
            raise error
        sink = CALL_SINK.get()
        if sink is not None:
            sink.append(call)
        return call, request

    def precheck(self, instance: Any, kwargs: dict[str, Any]) -> tuple[Decided | None, dict[str, Any]]:
        """For helpers that build the request before `start` (anthropic `messages.stream()`): the budget
        verdict now, and the kwargs to build it with. Raises `BudgetExceeded` (with its span) when blocked."""
        guard = _budget_guard.ACTIVE
        if guard is None:
            return None, kwargs
        verdict = checked(guard, read_attribution().values)
        if verdict is None:
            return None, kwargs
        if verdict.error is not None:
            self.start(instance, kwargs)  # records the blocked call and raises
        requested = kwargs.get("model")
        provider = self._endpoint(instance).get(a.GEN_AI_PROVIDER_NAME)
        target = downgrade_target(verdict, self.surface, provider, requested)
        return (verdict, requested), kwargs if target is None else {**kwargs, "model": target}


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


# The last context hidden: (context, attribution, the context with its attribution hidden). Calls made one
# after another in one context (an app's loop, a framework's steps) hide it once; a pure function of the two.
_last_hidden: tuple[object, object, object] | None = None


def _hidden(context: Any, attribution: dict[str, str] | None) -> Any:
    """`context` with its attribution out of the baggage (also when no value was valid or trusted:
    attribution baggage never goes to the provider)."""
    global _last_hidden  # noqa: PLW0603 - a one-entry cache, swapped whole
    last = _last_hidden
    if last is not None and last[0] is context and last[1] is attribution:
        return last[2]
    hidden = context
    try:
        if attribution_in_baggage(context):
            hidden = with_hidden_attribution(attribution or {}, context)
    except Exception as exc:  # the SDK call must run even if hiding fails
        report_internal_error("outbound.hide", exc)
        return context
    _last_hidden = (context, attribution, hidden)
    return hidden


def activate(call: Call) -> tuple[object, contextvars.Token[bool]]:
    """Make the call's span current, with the attribution hidden from outbound propagation.

    This is `costline.outbound.hide_attribution_from_propagation()` fused with `use_span`: one context
    attach instead of two on the hot path (same helpers, same resulting context).
    """
    context = _hidden(otel_context.get_current(), call.attribution)
    span = call.span if call.surface.current_span_writable else NonRecordingSpan(call.span.get_span_context())
    token = otel_context.attach(trace.set_span_in_context(span, context))
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
            if request.downgraded_to is None or not rejected_downgrade(request, exc):
                raise
            result = RESEND
        finally:
            IN_COSTLINE_CALL.reset(flag)
            otel_context.detach(token)  # type: ignore[arg-type]
        if result is RESEND:  # outside the failed call's context: the new call is not its child
            return traced(wrapped, instance, args, kwargs)
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
            if request.downgraded_to is None or not rejected_downgrade(request, exc):
                raise
            result = RESEND
        finally:
            IN_COSTLINE_CALL.reset(flag)
            otel_context.detach(token)  # type: ignore[arg-type]
        if result is RESEND:  # outside the failed call's context: the new call is not its child
            return await traced(wrapped, instance, args, kwargs)
        return returned(call, request, result)

    return traced


def _in_call_context(call: Call, next_item: Callable[[], Any]) -> Callable[[], Any]:
    """`next_item` run like the SDK call itself (span current, attribution hidden)."""

    def step() -> Any:
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
            first = _in_call_context(call, generator.__next__)  # the step that sends the request
            return SyncStreamProxy(generator, call, request.state or StreamState(), first_item=first)
        except Exception as exc:
            report_internal_error(f"{call.surface.name}.returned", exc)
            call.end_response(None)
            return generator

    return traced


__all__ = [
    "Starter",
    "StreamState",
    "activate",
    "async_wrapper",
    "generator_wrapper",
    "returned",
    "run_async",
    "run_sync",
    "sync_wrapper",
]
