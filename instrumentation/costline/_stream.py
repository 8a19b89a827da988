"""Transparent proxies for what SDK calls return when the span cannot end at return time.

Streams, raw responses and stream-helper managers are wrapped in `wrapt.ObjectProxy` subclasses, so
`isinstance(x, openai.Stream)` (etc.) stays true and every attribute we do not intercept is the SDK's.
Our state lives in `_self_*` attributes (wrapt keeps those on the proxy). The span ends exactly once:
on exhaustion, `close()`, `with` exit, an exception mid-iteration (re-raised unchanged), a caller
exception inside `with`, or garbage collection of an abandoned stream (`weakref.finalize`).
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any

import wrapt

from costline._safety import report_internal_error
from costline._span import Call, StreamState


def _register_abandon(proxy: object, call: Call) -> weakref.finalize[Any, Any]:
    # The callback holds the call, never the proxy, so the proxy can be collected.
    finalizer = weakref.finalize(proxy, call.abandon)
    finalizer.atexit = False  # exporters are gone at interpreter exit; nothing useful to do then
    return finalizer


def _report_observe_error(call: Call, exc: Exception) -> None:
    """A bug of ours in feeding an item to the stream state: reported; the app still gets the item."""
    report_internal_error(f"{call.surface.name}.observe", exc)


def _observed_items(
    next_item: Callable[[], Any],
    observe: Callable[[Any], bool],
    call: Call,
    first_item: Callable[[], Any] | None,
) -> Iterator[Any]:
    """The per-item hot path, as one generator that both `next(proxy)` and `for item in proxy` resume.

    Resuming a generator reuses its frame, and a `for` loop over the proxy calls the generator's own
    C-level `__next__`: no Python call per chunk on either path. `first_item`, if given, fetches the first
    item instead of `next_item` (google-genai's generator sends its request at its first step, which must
    run in the call's context). The `yield` stays outside both `try` blocks: closing this generator early
    (GeneratorExit) must not end the call as failed.
    """
    fetch = first_item or next_item
    while True:
        try:
            item = fetch()
        except StopIteration:
            call.end_stream(complete=True)
            return
        except BaseException as exc:
            call.end_stream(complete=False, error=exc)
            raise
        fetch = next_item
        try:  # inlined, not a helper: this runs for every chunk of every stream
            hidden = observe(item)  # True: an injected usage chunk the caller must not see
        except Exception as exc:
            _report_observe_error(call, exc)
            hidden = False
        if not hidden:
            yield item


class SyncStreamProxy(wrapt.ObjectProxy[Any]):
    """A sync SDK stream (openai.Stream, anthropic.Stream, a google-genai generator) that reports its items
    to a `StreamState`. `next_item` replaces the stream's own `__next__`; `first_item` fetches the first
    item only (see `_observed_items`). `iter(proxy)` is that generator, as `iter()` of an openai or
    anthropic stream is a generator of the SDK's."""

    def __init__(
        self,
        wrapped: Any,
        call: Call,
        state: StreamState,
        next_item: Callable[[], Any] | None = None,
        first_item: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__(wrapped)
        self._self_call = call
        items = _observed_items(next_item or wrapped.__next__, state.observe, call, first_item)
        self._self_items = items
        self._self_step = items.__next__
        # On the generator, not the proxy: `for chunk in stream` keeps only the generator alive.
        _register_abandon(items, call)

    def __iter__(self) -> Iterator[Any]:
        return self._self_items

    def __next__(self) -> Any:
        return self._self_step()

    def __enter__(self) -> SyncStreamProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self._self_call.end_stream(complete=False, error=exc)
        self.close()

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_call.end_stream(complete=False)


def _async_step(
    next_item: Callable[[], Awaitable[Any]], observe: Callable[[Any], bool], call: Call
) -> Callable[[], Awaitable[Any]]:
    async def step() -> Any:
        while True:
            try:
                item = await next_item()
            except StopAsyncIteration:
                call.end_stream(complete=True)
                raise
            except BaseException as exc:
                call.end_stream(complete=False, error=exc)
                raise
            try:  # inlined, not a helper: this runs for every chunk of every stream
                if not observe(item):  # True: an injected usage chunk the caller must not see
                    return item
            except Exception as exc:
                _report_observe_error(call, exc)
                return item

    return step


class AsyncStreamProxy(wrapt.ObjectProxy[Any]):
    """The async twin of `SyncStreamProxy` (openai.AsyncStream, anthropic.AsyncStream, async generators)."""

    def __init__(
        self,
        wrapped: Any,
        call: Call,
        state: StreamState,
        next_item: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_step = _async_step(next_item or wrapped.__anext__, state.observe, call)
        _register_abandon(self, call)

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    def __anext__(self) -> Awaitable[Any]:
        return self._self_step()

    async def __aenter__(self) -> AsyncStreamProxy:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self._self_call.end_stream(complete=False, error=exc)
        await self.close()

    async def close(self) -> None:
        try:
            closing = self.__wrapped__.close()
            if inspect.isawaitable(closing):  # aiobotocore's event stream closes synchronously
                await closing
        finally:
            self._self_call.end_stream(complete=False)

    async def aclose(self) -> None:
        """An async generator's close."""
        try:
            await self.__wrapped__.aclose()
        finally:
            self._self_call.end_stream(complete=False)


def wrap_stream(stream: Any, call: Call, state: StreamState | None) -> Any:
    """The proxy for an SDK stream of either kind; the stream itself if it is of neither kind."""
    surface = call.surface
    state = state or StreamState()
    if isinstance(stream, surface.stream_types):
        return SyncStreamProxy(stream, call, state)
    if isinstance(stream, surface.async_stream_types):
        return AsyncStreamProxy(stream, call, state)
    call.end_response(stream)
    return stream


class _RawBase(wrapt.ObjectProxy[Any]):
    def __init__(self, wrapped: Any, call: Call, state: StreamState | None) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_state = state
        self._self_adopted: tuple[Any, Any] | None = None
        self._self_finalizer = _register_abandon(self, call)

    def _self_adopt(self, parsed: Any, custom: bool) -> Any:
        """What `parse()` returns, proxied if it is a stream (the same proxy for the same cached stream).

        `custom`: the app asked for its own type (`parse(to=...)`), which costline does not read.
        """
        adopted = self._self_adopted
        if adopted is not None and adopted[0] is parsed:
            return adopted[1]
        call = self._self_call
        try:
            if isinstance(parsed, call.surface.all_stream_types):
                proxy = wrap_stream(parsed, call, self._self_state)
                self._self_adopted = (parsed, proxy)
                # The stream proxy now owns the call: dropping this response must not end it.
                self._self_finalizer.detach()
                return proxy
            if not custom:
                call.end_response(parsed)
        except Exception as exc:
            report_internal_error(f"{call.surface.name}.raw_parse", exc)
        return parsed

    def _self_body_to_parse(self) -> bool:
        """After close (or a custom parse): whether the call can still end with its parsed body."""
        call = self._self_call
        if call.done or self._self_adopted is not None:
            return False
        http_response = getattr(self.__wrapped__, "http_response", None)
        read = http_response is not None and hasattr(http_response, "_content")
        if read and self._self_state is None:
            return True
        call.end_stream(complete=False)
        return False


class SyncRawProxy(_RawBase):
    """`with_raw_response` / `with_streaming_response` results whose `parse()` is sync."""

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        parsed = self.__wrapped__.parse(*args, **kwargs)
        custom = bool(args or kwargs)
        adopted = self._self_adopt(parsed, custom)
        if custom:
            self._self_end_with_body()
        return adopted

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end_with_body()

    def _self_end_with_body(self) -> None:
        if self._self_body_to_parse():
            try:
                parsed = self.__wrapped__.parse()
            except Exception:  # an unparsable body: the app sees that error itself
                parsed = None
            self._self_call.end_response(parsed)


class AsyncRawProxy(_RawBase):
    """`with_streaming_response` results of async clients (`parse()` and `close()` are coroutines)."""

    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        parsed = await self.__wrapped__.parse(*args, **kwargs)
        custom = bool(args or kwargs)
        adopted = self._self_adopt(parsed, custom)
        if custom:
            await self._self_end_with_body()
        return adopted

    async def close(self) -> None:
        try:
            closing = self.__wrapped__.close()
            if inspect.isawaitable(closing):  # aiobotocore's event stream closes synchronously
                await closing
        finally:
            await self._self_end_with_body()

    async def _self_end_with_body(self) -> None:
        if self._self_body_to_parse():
            try:
                parsed = await self.__wrapped__.parse()
            except Exception:  # an unparsable body: the app sees that error itself
                parsed = None
            self._self_call.end_response(parsed)


EnterHook = Callable[[Callable[[], Any]], tuple[Any, Call | None]]


class SyncManagerProxy(wrapt.ObjectProxy[Any]):
    """A stream helper's context manager (`messages.stream()`, `chat.completions.stream()`).

    `enter` runs the real `__enter__` (where the request happens) and returns the stream plus its Call;
    `__exit__` records a caller exception raised inside the `with` and ends the call.
    """

    def __init__(self, wrapped: Any, enter: EnterHook) -> None:
        super().__init__(wrapped)
        self._self_enter = enter
        self._self_call: Call | None = None

    def __enter__(self) -> Any:
        stream, self._self_call = self._self_enter(self.__wrapped__.__enter__)
        return stream

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        call = self._self_call
        if call is not None and exc is not None:
            call.end_stream(complete=False, error=exc)
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            if call is not None:
                call.end_stream(complete=False)


class AsyncManagerProxy(wrapt.ObjectProxy[Any]):
    """The async twin of `SyncManagerProxy`; `enter` receives the real `__aenter__` coroutine function."""

    def __init__(self, wrapped: Any, enter: Callable[[Callable[[], Any]], Any]) -> None:
        super().__init__(wrapped)
        self._self_enter = enter
        self._self_call: Call | None = None

    async def __aenter__(self) -> Any:
        stream, self._self_call = await self._self_enter(self.__wrapped__.__aenter__)
        return stream

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        call = self._self_call
        if call is not None and exc is not None:
            call.end_stream(complete=False, error=exc)
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            if call is not None:
                call.end_stream(complete=False)
