"""Which boto3/botocore method costline wraps for Bedrock, and how the official botocore span is kept from
doubling ours.

botocore generates its client classes at run time (`boto3.client("bedrock-runtime")` is a fresh subclass of
`botocore.client.BaseClient`), and every operation method of every client ends in
`BaseClient._make_api_call(operation_name, api_params)`. costline wraps that one method, as
opentelemetry-instrumentation-botocore does, and traces only the `bedrock-runtime` service's `Converse`,
`ConverseStream`, `InvokeModel` and `InvokeModelWithResponseStream`: any other AWS call costs one dict lookup
of its operation name before it goes through untouched.

aiobotocore's `AioBaseClient` overrides `_make_api_call` with a coroutine that does not call botocore's, so
costline wraps that one too (`async_api_call_wrapper`); its event streams are iterated with `async for`.

Streams: the response dict's `stream` (ConverseStream) or `body` (InvokeModelWithResponseStream) is a botocore
`EventStream`; costline puts a transparent proxy of it in its place (still an `EventStream` to `isinstance`),
and the span ends once, when the stream is read to its end, closed, fails, or is dropped.

opentelemetry-instrumentation-botocore, when installed, also makes a GenAI span for these four operations
(its `bedrock-runtime` extension), with the Converse input counts exclusive of the cache tokens. One call must
yield one GenAI span, so while costline is instrumenting, that extension is told not to trace those four
operations (its `should_trace_service_call` returns False); its spans of every other AWS call, and its X-Ray
header injection, are untouched, and uninstrumenting costline gives its Bedrock spans back. Whichever of the
two wraps `_make_api_call` first, the answer is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry.trace import Tracer

from costline import attributes as a
from costline import bedrock_converse as converse
from costline import bedrock_invoke as invoke
from costline._config import Settings
from costline._patching import Patch, custom_patch, resolve
from costline._providers import detect_bedrock
from costline._safety import report_internal_error
from costline._span import IN_COSTLINE_CALL, Call, Request, StreamState, Surface
from costline._stream import AsyncStreamProxy, SyncStreamProxy
from costline._wrapper import Starter, Wrapper, activate

SERVICE: Final = "bedrock-runtime"
_EXTENSION_MODULE: Final = "opentelemetry.instrumentation.botocore.extensions.bedrock"
_STREAM_KEYS: Final = ("stream", "body")  # where ConverseStream / InvokeModelWithResponseStream put it


def _surfaces() -> dict[str, Surface]:
    common: dict[str, Any] = {"client_attribute": "meta", "detect_endpoint": detect_bedrock}
    chat, bedrock = a.OPERATION_CHAT, a.PROVIDER_AWS_BEDROCK
    return {
        "Converse": Surface(
            "bedrock.converse", chat, bedrock, converse.read_request, converse.read_response, **common
        ),
        "ConverseStream": Surface(
            "bedrock.converse_stream",
            chat,
            bedrock,
            converse.read_stream_request,
            converse.read_response,
            **common,
        ),
        "InvokeModel": Surface(
            "bedrock.invoke_model", chat, bedrock, invoke.read_request, invoke.read_response, **common
        ),
        "InvokeModelWithResponseStream": Surface(
            "bedrock.invoke_model_with_response_stream",
            chat,
            bedrock,
            invoke.read_stream_request,
            invoke.read_response,
            **common,
        ),
    }


OPERATIONS: Final = frozenset(_surfaces())


def _stream_returned(call: Call, state: StreamState, result: Any, *, awaited: bool = False) -> Any:
    """Put a proxy of the response dict's event stream in its place; the proxy ends the call."""
    try:
        key = next(key for key in _STREAM_KEYS if key in result)
        stream = result[key]
        if isinstance(state, converse.ConverseStreamState | invoke.InvokeStreamState):
            state.request_id = converse.request_id(result)
        if awaited:  # aiobotocore's AioEventStream: `__aiter__` hands out its async generator
            result[key] = AsyncStreamProxy(stream, call, state, stream.__aiter__().__anext__)
        else:
            result[key] = SyncStreamProxy(stream, call, state, iter(stream).__next__)
    except Exception as exc:
        report_internal_error(f"{call.surface.name}.returned", exc)
        call.end_response(None)
    return result


def _start(
    starters: dict[str, Starter], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Call, Request] | None:
    """The call's span, for the four Bedrock Runtime operations; None for any other AWS call."""
    starter = starters.get(args[0]) if args else None
    if starter is None or instance.meta.service_model.service_name != SERVICE:
        return None
    params = args[1] if len(args) > 1 else kwargs.get("api_params")
    return starter.start(instance, params if isinstance(params, dict) else {})


def api_call_wrapper(starters: dict[str, Starter]) -> Wrapper:
    """`BaseClient._make_api_call(operation_name, api_params)`, traced for the four Bedrock operations."""

    def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        started = _start(starters, instance, args, kwargs)
        if started is None:
            return wrapped(*args, **kwargs)
        call, request = started
        # run_sync, inlined: this is the hot path of every Bedrock call.
        token, flag = activate(call)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.end_error(exc)
            raise
        finally:
            IN_COSTLINE_CALL.reset(flag)
            otel_context.detach(token)  # type: ignore[arg-type]
        if request.state is None:
            call.end_response(result)
            return result
        return _stream_returned(call, request.state, result)

    return traced


def async_api_call_wrapper(starters: dict[str, Starter]) -> Wrapper:
    """aiobotocore's `AioBaseClient._make_api_call`: the same four operations, awaited."""

    async def traced(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        started = _start(starters, instance, args, kwargs)
        if started is None:
            return await wrapped(*args, **kwargs)
        call, request = started
        token, flag = activate(call)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.end_error(exc)
            raise
        finally:
            IN_COSTLINE_CALL.reset(flag)
            otel_context.detach(token)  # type: ignore[arg-type]
        if request.state is None:
            call.end_response(result)
            return result
        return _stream_returned(call, request.state, result, awaited=True)

    return traced


def _defer_to_costline(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The botocore instrumentation's Bedrock extension: no span of its own for the calls costline traces."""
    if getattr(getattr(instance, "_call_context", None), "operation", None) in OPERATIONS:
        return False
    return wrapped(*args, **kwargs)


def patches(tracer: Tracer, settings: Settings) -> list[Patch]:
    """The patches for the installed botocore; empty when it is not importable."""
    client = resolve("botocore.client", "BaseClient")
    if client is None:
        return []
    starters = {operation: Starter(tracer, settings, surface) for operation, surface in _surfaces().items()}
    found = [
        custom_patch(client, "_make_api_call", api_call_wrapper(starters)),
        custom_patch(
            resolve("aiobotocore.client", "AioBaseClient"), "_make_api_call", async_api_call_wrapper(starters)
        ),
        custom_patch(
            resolve(_EXTENSION_MODULE, "_BedrockRuntimeExtension"),
            "should_trace_service_call",
            _defer_to_costline,
        ),
    ]
    return [patch for patch in found if patch is not None]
