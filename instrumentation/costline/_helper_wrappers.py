"""Wrappers for stream-helper managers: openai's `.stream()` helpers and anthropic's `messages.stream()`.

The helper returns a context manager; the request is sent at `__enter__`. openai's helpers call the
already-wrapped `create` there, so the manager proxy only collects that call; anthropic's send the request
themselves, so the span starts at `__enter__` with the budget verdict taken when the helper was called.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from costline._budget_calls import rejected_downgrade
from costline._safety import report_internal_error
from costline._span import CALL_SINK, Call, Request
from costline._stream import AsyncManagerProxy, SyncManagerProxy
from costline._wrapper import RESEND, Decided, Starter, Wrapper, run_async, run_sync

# Called with the stream a helper's `__enter__` returned, once the call is known (anthropic helpers).
OnEntered = Callable[[Any, Call, Request], None]


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
    """For helpers that send the request themselves in `__enter__` (anthropic `messages.stream()`).

    The helper builds its request when called, so the budget check runs then (`precheck`: a blocked call
    raises from `stream(...)` itself, a downgraded one is built with the cheaper model); the span starts
    at `__enter__`, when the request is sent.
    """

    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        decided, sent = starter.precheck(instance, kwargs)
        proxy: Any = None

        def resend() -> Any:
            """The provider refused the downgrade model: the app's own request, in a new manager."""
            replacement = wrapped(*args, **kwargs)
            proxy.__wrapped__ = replacement  # the proxy's __exit__ now closes this one
            return replacement

        def enter(real_enter: Callable[[], Any], sent: dict[str, Any], decided: Decided | None) -> Any:
            started = starter.start(instance, sent, decided)
            if started is None:
                return real_enter(), None
            call, request = started
            try:
                stream = run_sync(call, real_enter)
            except Exception as exc:
                if not rejected_downgrade(request, exc):
                    raise
                stream = RESEND
            if stream is RESEND:
                return enter(resend().__enter__, kwargs, None)
            _entered(on_entered, stream, call, request)
            return stream, call

        async def aenter(
            real_aenter: Callable[[], Awaitable[Any]], sent: dict[str, Any], decided: Decided | None
        ) -> Any:
            started = starter.start(instance, sent, decided)
            if started is None:
                return await real_aenter(), None
            call, request = started
            try:
                stream = await run_async(call, real_aenter)
            except Exception as exc:
                if not rejected_downgrade(request, exc):
                    raise
                stream = RESEND
            if stream is RESEND:
                return await aenter(resend().__aenter__, kwargs, None)
            _entered(on_entered, stream, call, request)
            return stream, call

        manager = wrapped(*args, **sent)
        if is_async:
            proxy = AsyncManagerProxy(manager, lambda real: aenter(real, sent, decided))
        else:
            proxy = SyncManagerProxy(manager, lambda real: enter(real, sent, decided))
        return proxy

    return traced


def _entered(on_entered: OnEntered, stream: Any, call: Call, request: Request) -> None:
    try:
        on_entered(stream, call, request)
    except Exception as exc:
        report_internal_error(f"{call.surface.name}.entered", exc)


__all__ = ["OnEntered", "deferred_wrapper", "helper_wrapper"]
