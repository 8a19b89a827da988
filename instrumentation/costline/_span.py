"""One LLM call's span, from start to its single end, and the small contracts SDK modules implement.

An SDK surface (`openai_chat`, `anthropic_messages`, ...) supplies a `Surface`: how to read the request,
how to read a response, and a `StreamState` for streaming calls. Everything else (span start, context,
errors, end-exactly-once) is here and in `_wrapper`/`_stream`, written once.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from costline import attributes as a
from costline._config import Settings
from costline._providers import Detector, detect
from costline._safety import report_internal_error

AttrDict = dict[str, AttributeValue]

# True while costline's wrapper runs an SDK call: the anthropic SDK's own call span is then suppressed
# (see anthropic_install), and so is costline's own span of an SDK call made inside it (LiteLLM routing a
# call through the openai SDK: the outer call is the one billed call), so each call yields one GenAI span.
IN_COSTLINE_CALL: Final[contextvars.ContextVar[bool]] = contextvars.ContextVar(
    "costline_in_call", default=False
)
# Set by a stream-helper proxy (e.g. `chat.completions.stream`) around the inner `create` it triggers, so
# the helper learns the `Call` that `create` started and can end it when the helper's `with` exits.
CALL_SINK: Final[contextvars.ContextVar[list[Call] | None]] = contextvars.ContextVar(
    "costline_call_sink", default=None
)


class StreamState:
    """Accumulates what a stream reveals, item by item. Subclasses keep state in `__slots__`."""

    __slots__ = ()

    def observe(self, item: Any) -> bool:
        """Look at one item; return True to hide it from the caller (an item costline asked for)."""
        return False

    def finish(self, attrs: AttrDict, complete: bool) -> None:
        """Write what is known into `attrs`; `complete` is False when the stream was cut short.

        Usage that never arrived is omitted and `llm.usage.estimated` set: never a silent 0.
        """
        attrs[a.LLM_USAGE_ESTIMATED] = True


@dataclass(slots=True)  # not frozen: built on every call, and frozen dataclasses initialise slowly
class Request:
    """What the wrapper needs from a request: span name parts, start attributes, the kwargs to send."""

    model: str | None
    stream: bool
    attributes: AttrDict
    kwargs: dict[str, Any]
    state: StreamState | None = None
    # Set when a budget downgraded the call: (gen_ai.provider.name, model sent instead of the app's).
    downgraded_to: tuple[Any, str] | None = None


@dataclass(frozen=True, slots=True)
class Surface:
    """One SDK method family, e.g. OpenAI chat completions. Callbacks must be cheap; they may raise."""

    name: str  # llm.instrumentation
    operation: str
    default_provider: str
    # (kwargs, settings, endpoint attributes incl. gen_ai.provider.name) -> Request
    read_request: Callable[[dict[str, Any], Settings, AttrDict], Request]
    read_response: Callable[[Any, AttrDict, Settings], None]
    # SDK classes, resolved at instrument time: streams the call may return, raw-response wrappers.
    stream_types: tuple[type, ...] = ()
    async_stream_types: tuple[type, ...] = ()
    raw_types: tuple[type, ...] = ()
    # Where the wrapped method's owner keeps its client, and how that client's endpoint is detected; None
    # for module functions (LiteLLM's), whose `read_request` writes the endpoint from the call's arguments.
    client_attribute: str | None = "_client"
    detect_endpoint: Detector = detect
    # False where the wrapped code writes its own record of the call onto whatever span is current, often
    # after the call has ended (LiteLLM's OTel callback): the call's span is then current only by its
    # context (a non-recording span), so those writes neither change costline's span nor warn that it ended.
    current_span_writable: bool = True
    all_stream_types: tuple[type, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "all_stream_types", self.stream_types + self.async_stream_types)


def error_type(exc: BaseException) -> str:
    """`error.type`: a failed response's HTTP status, an in-stream error's type or code, else the class."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status >= 400:
        return str(status)
    code = getattr(exc, "code", None)  # google-genai's APIError names the HTTP status `code`
    if type(code) is int and 400 <= code <= 599:
        return str(code)
    kind = getattr(exc, "type", None)
    if isinstance(kind, str) and kind:
        return kind
    response = getattr(exc, "response", None)  # botocore's ClientError: a dict, as parsed from the reply
    if isinstance(response, dict):
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        if type(status) is int and 400 <= status <= 599:
            return str(status)
        code = (response.get("Error") or {}).get("Code")  # an in-stream error event has no HTTP status
        if isinstance(code, str) and code:
            return code
    return type(exc).__qualname__


class Call:
    """The span of one SDK call. Every `end_*` method is idempotent: the first one ends the span."""

    __slots__ = ("attribution", "done", "settings", "span", "state", "surface")

    def __init__(
        self,
        span: Span,
        surface: Surface,
        settings: Settings,
        state: StreamState | None,
        attribution: dict[str, str] | None = None,
    ) -> None:
        self.span = span
        self.attribution = attribution
        self.surface = surface
        self.settings = settings
        self.state = state
        self.done = False

    def end_response(self, response: Any) -> None:
        """End with a complete (non-streamed) response; `None` when it could not be obtained."""
        if self.done:
            return
        self.done = True
        attrs: AttrDict = {}
        try:
            if response is not None:
                self.surface.read_response(response, attrs, self.settings)
            else:
                attrs[a.LLM_USAGE_ESTIMATED] = True
        except Exception as exc:  # never the app's problem
            report_internal_error(f"{self.surface.name}.read_response", exc)
        finally:  # also when report_internal_error re-raises (under pytest): the span still ends
            self._finish(attrs, None)

    def end_stream(self, complete: bool, error: BaseException | None = None) -> None:
        """End a stream: read to the end, closed early, failed, or abandoned."""
        if self.done:
            return
        self.done = True
        attrs: AttrDict = {}
        state = self.state or StreamState()
        try:
            state.finish(attrs, complete)
        except Exception as exc:
            report_internal_error(f"{self.surface.name}.finish_stream", exc)
        finally:  # also when report_internal_error re-raises (under pytest): the span still ends
            self._finish(attrs, error)

    def end_error(self, exc: BaseException) -> None:
        """End a call the SDK raised from (HTTP error, connection error...)."""
        if self.done:
            return
        self.done = True
        self._finish({}, exc)

    def abandon(self) -> None:
        """Garbage collection of a stream nobody closed: end with what is known."""
        self.end_stream(complete=False)

    def _finish(self, attrs: AttrDict, error: BaseException | None) -> None:
        span = self.span
        try:
            # Cancellation (KeyboardInterrupt, CancelledError) is the app stopping, not a failed call.
            if isinstance(error, Exception):
                attrs[a.ERROR_TYPE] = error_type(error)
                span.set_status(Status(StatusCode.ERROR, str(error)[:256]))
            if attrs:
                span.set_attributes(attrs)
        except Exception as exc:
            report_internal_error(f"{self.surface.name}.finish", exc)
        finally:
            span.end()
