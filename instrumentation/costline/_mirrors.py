"""Framework spans that mirror one of costline's calls: marked, so the processor counts the call once.

Framework instrumentations (OpenInference's and OpenLLMetry's for LangChain, OpenInference's for the
Agents SDK...) record a model call as their own LLM span, from the framework's callbacks, while the SDK call
underneath gets costline's span. Their span is started without being made current, so costline's span lands
in another trace, and some carry no response id: nothing ties the two together downstream. Here, in the
process where both are open, costline ties them: while a framework span is open, the next costline call of
the same model marks it with `llm.mirrored_by` (costline's span id, hex), and the processor does not count a
marked span as a call.

Pairing is one to one (a framework span is marked once, by one costline span), by model and by time (the
framework span is open when costline's call starts), process-wide (frameworks run their callbacks in other
threads and tasks than the call). Two concurrent calls of one model may be paired crosswise; both framework
spans are then still marked once each, and costline's two spans, which carry the usage, are what is counted.

LiteLLM's OTel callback is the other way round: it records a call after the call is done, as a span started
then with the call's (past) start time, in another trace when the call was a stream, as a child when
`USE_OTEL_LITELLM_REQUEST_SPAN` is set. So costline's LiteLLM calls are remembered as they start
(`call_started`), and a LiteLLM span is marked when it starts (`late_span_started`), by the newest
remembered call that started no later than it did: again one to one, again crosswise at worst.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import Any, Final

from opentelemetry.trace import Span

from costline import attributes as a

# Instrumentation scopes whose LLM spans describe a call made through an SDK below the framework.
FRAMEWORK_SCOPES: Final = frozenset(
    {
        "openinference.instrumentation.langchain",
        "opentelemetry.instrumentation.langchain",
        "openinference.instrumentation.openai_agents",
        "openinference.instrumentation.llama_index",
        "opentelemetry.instrumentation.llamaindex",
        "openinference.instrumentation.crewai",
        "opentelemetry.instrumentation.crewai",
    }
)
# Instrumentation scopes whose spans record a call after it is done (LiteLLM's OTel callback).
LATE_SCOPES: Final = frozenset({"litellm"})
# Spans of those scopes that are not the call: the raw request and guardrail spans under it.
_LATE_SPANS_NOT_CALLS: Final = frozenset({"raw_gen_ai_request", "guardrail"})
# costline's surfaces whose calls such a scope records.
_LATE_RECORDED_SURFACES: Final = "litellm."
# Where frameworks' spans name the model (semconv, OpenInference).
_MODEL_KEYS: Final = (a.GEN_AI_REQUEST_MODEL, "llm.model_name", a.GEN_AI_RESPONSE_MODEL)
# Bounded: a framework span that never ends (a leak in a framework) must not grow this forever.
MAX_OPEN: Final = 4096

_lock = threading.Lock()
_open: OrderedDict[int, Span] = OrderedDict()  # id(span) -> span, oldest first
_started: deque[tuple[int, int]] = deque(maxlen=MAX_OPEN)  # (start ns, costline's span id), oldest first


def is_framework_span(span: Any) -> bool:
    scope = getattr(span, "instrumentation_scope", None)
    return scope is not None and scope.name in FRAMEWORK_SCOPES


def opened(span: Span) -> None:
    """A framework span started (`AttributionSpanProcessor.on_start`)."""
    with _lock:
        _open[id(span)] = span
        if len(_open) > MAX_OPEN:
            _open.popitem(last=False)


def closed(span: Any) -> None:
    """A span ended; forget it if it was an open framework span."""
    if _open:
        with _lock:
            _open.pop(id(span), None)


def _model_of(span: Any) -> str | None:
    attributes = getattr(span, "attributes", None) or {}
    for key in _MODEL_KEYS:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _same_model(framework_model: str | None, model: str | None) -> bool:
    """A framework may name the model as the app gave it (`openai/gpt-4o`) or as sent (`gpt-4o`)."""
    if framework_model is None or model is None:
        return True  # not named (yet): the time window is what pairs them
    if framework_model == model:
        return True
    return framework_model.endswith("/" + model) or model.endswith("/" + framework_model)


def mark_mirror(ours: Span, model: str | None) -> None:
    """Mark the newest open, unmarked framework span of `model` as mirrored by `ours` (if there is one)."""
    if not _open:
        return
    with _lock:
        for key in reversed(_open):
            candidate = _open[key]
            if _same_model(_model_of(candidate), model):
                del _open[key]
                break
        else:
            return
    candidate.set_attribute(a.LLM_MIRRORED_BY, format(ours.get_span_context().span_id, "016x"))


def records_late(span: Any) -> bool:
    """Whether `span` is costline's span of a call that a late scope also records (a LiteLLM entry point)."""
    attributes = getattr(span, "attributes", None) or {}
    surface = attributes.get(a.LLM_INSTRUMENTATION)
    return isinstance(surface, str) and surface.startswith(_LATE_RECORDED_SURFACES)


def call_started(span: Any) -> None:
    """costline's span of a LiteLLM call started: remember it for the LiteLLM span that may follow."""
    with _lock:
        _started.append((getattr(span, "start_time", None) or 0, span.get_span_context().span_id))


def is_late_framework_span(span: Any) -> bool:
    scope = getattr(span, "instrumentation_scope", None)
    return scope is not None and scope.name in LATE_SCOPES and span.name not in _LATE_SPANS_NOT_CALLS


def late_span_started(span: Any) -> None:
    """Mark a LiteLLM span (just started, with its call's start time) as mirrored by costline's span."""
    start = getattr(span, "start_time", None) or 0
    with _lock:
        for index in range(len(_started) - 1, -1, -1):
            started, ours = _started[index]
            if started <= start:
                del _started[index]
                break
        else:
            return
    span.set_attribute(a.LLM_MIRRORED_BY, format(ours, "016x"))
