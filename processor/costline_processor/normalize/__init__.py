"""Turn a GenAI span of any instrumentation into one `LlmCall` in the inclusive semconv usage model.

Pure: no I/O, no clock. Hostile spans never raise: an impossible usage becomes `usage=None` with
`usage_error` set (priced as `invalid_usage`), a GenAI span without usage gets `usage=None` (priced as
`no_usage`), and a span that is not an LLM call (agent, tool, HTTP, outcome spans, ...) returns None.
So does a framework's LLM span that costline's instrumentation marked `llm.mirrored_by`: costline's own span
of the same call (in another trace, and often the framework's span has no response id) is the one counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from costline import attributes as attr
from costline._safety import report_internal_error
from costline._validation import is_valid_value
from costline_processor.model import LlmCall, Outcome, Usage
from costline_processor.normalize import bedrock, gemini
from costline_processor.normalize import foreign_names as fn
from costline_processor.normalize._values import Attributes, BadUsage, flag, label, text
from costline_processor.normalize.attribution import read_attribution
from costline_processor.normalize.providers import normalize_provider, provider_from_host, provider_from_scope
from costline_processor.normalize.sources import (
    OPENINFERENCE_KEYS,
    SEMCONV_KEYS,
    SOURCE_ANTHROPIC_SDK,
    SOURCE_COSTLINE,
    SOURCE_OPENINFERENCE,
    SOURCES,
    TRACELOOP_MARKERS,
    detect,
    keys_for,
    read_usage,
)
from costline_processor.normalize.wire import AttributeDecoder, WireSpan, lean_resource_attributes, lean_span

__all__ = [
    "SOURCES",
    "ScopeView",
    "extract_outcome",
    "normalize_in_scope",
    "normalize_span",
    "outcome_in_scope",
    "scope_view",
    "wire_scope_view",
]

# Operations that are one billable model call; agent/tool/workflow spans aggregate or cost nothing.
LLM_OPERATIONS: Final = frozenset(
    {
        attr.OPERATION_CHAT,
        attr.OPERATION_TEXT_COMPLETION,
        attr.OPERATION_GENERATE_CONTENT,
        attr.OPERATION_EMBEDDINGS,
        "completion",
        "embedding",
        "responses",
        "response",
    }
)
_OPENINFERENCE_KINDS: Final = {
    fn.OPENINFERENCE_KIND_LLM: attr.OPERATION_CHAT,
    fn.OPENINFERENCE_KIND_EMBEDDING: attr.OPERATION_EMBEDDINGS,
}
# Provider-specific tier names -> costline's provider-neutral ones (default, flex, priority, batch).
_TIERS: Final = {
    "default": "default",
    "standard": "default",
    "auto": "default",
    "scale": "default",
    "standard_only": "default",
    "flex": "flex",
    "priority": "priority",
    "fast": "fast",
    "batch": "batch",
}
_OPENINFERENCE_MODELS: Final = (fn.OI_RESPONSE_MODEL_NAME, fn.OI_MODEL_NAME, fn.OI_EMBEDDING_MODEL_NAME)
_PROVIDER_KEYS: Final = (attr.GEN_AI_PROVIDER_NAME, attr.GEN_AI_SYSTEM, fn.OI_PROVIDER, fn.OI_SYSTEM)
_TIER_KEYS: Final = (  # response tiers (what was served) before request tiers (what was asked for)
    attr.LLM_SERVICE_TIER,
    attr.GEN_AI_OPENAI_RESPONSE_SERVICE_TIER,
    fn.ANTHROPIC_RESPONSE_SERVICE_TIER,
    fn.OPENAI_RESPONSE_SERVICE_TIER,
    attr.GEN_AI_OPENAI_REQUEST_SERVICE_TIER,
    fn.ANTHROPIC_REQUEST_SERVICE_TIER,
    fn.OPENAI_REQUEST_SERVICE_TIER,
)
# Every span attribute the normaliser reads; the others (message content, ...) are never decoded.
_SPAN_KEYS: Final = frozenset(
    {
        *SEMCONV_KEYS.all(),
        *OPENINFERENCE_KEYS.all(),
        *TRACELOOP_MARKERS,
        *_PROVIDER_KEYS,
        *_TIER_KEYS,
        *_OPENINFERENCE_MODELS,
        *attr.ATTRIBUTION_KEYS,
        attr.LLM_ATTRIBUTION_REJECTED,
        fn.OPENINFERENCE_SPAN_KIND,
        fn.OI_REQUEST_MODEL_NAME,
        attr.GEN_AI_OPERATION_NAME,
        attr.GEN_AI_REQUEST_MODEL,
        attr.GEN_AI_RESPONSE_MODEL,
        attr.GEN_AI_RESPONSE_ID,
        attr.AWS_REQUEST_ID,
        fn.OI_TOTAL_TOKENS,
        attr.LLM_USAGE_ESTIMATED,
        attr.LLM_REQUEST_BATCH,
        attr.ERROR_TYPE,
        attr.SERVER_ADDRESS,
        attr.LLM_OUTCOME_NAME,
        attr.LLM_OUTCOME_COUNT,
        attr.LLM_BUDGET_BLOCKED,
        attr.LLM_BUDGET_SCOPE,
        attr.LLM_BUDGET_PERIOD,
        attr.LLM_MIRRORED_BY,
    }
)
_RESOURCE_KEYS: Final = frozenset({fn.SERVICE_NAME, fn.SERVICE_INSTANCE_ID, fn.TELEMETRY_SDK_NAME})
_ATTRIBUTES: Final = AttributeDecoder(
    _SPAN_KEYS | _RESOURCE_KEYS, unique_keys=(attr.GEN_AI_RESPONSE_ID, attr.AWS_REQUEST_ID)
)
_OTHER_ERROR: Final = "_OTHER"
_MAX_OUTCOME_COUNT: Final = 1_000_000
_OUTCOME_KEYS: Final = (attr.WORKFLOW_ID,)  # the only attribution an outcome is recorded with


@dataclass(frozen=True, slots=True)
class ScopeView:
    """What every span of one ResourceSpans/ScopeSpans shares, read once instead of once per span."""

    scope_name: str
    sdk_name: str | None
    service_name: str
    service_instance_id: str | None


def scope_view(resource: Resource, scope: InstrumentationScope) -> ScopeView:
    return wire_scope_view(lean_resource_attributes(resource), scope.name)


def wire_scope_view(resource_attributes: Iterable[bytes], scope_name: str) -> ScopeView:
    """`scope_view` of a lean-decoded request (normalize.wire): the batch path."""
    res = _ATTRIBUTES.decode(resource_attributes, _RESOURCE_KEYS)
    return ScopeView(
        scope_name=scope_name,
        sdk_name=text(res, fn.TELEMETRY_SDK_NAME),
        service_name=label(text(res, fn.SERVICE_NAME) or "unknown_service"),
        service_instance_id=text(res, fn.SERVICE_INSTANCE_ID),
    )


def normalize_span(span: Span, resource: Resource, scope: InstrumentationScope) -> LlmCall | None:
    """The LLM call `span` records, or None when it is not one. Never raises on hostile input."""
    try:
        view = scope_view(resource, scope)
        wire_span = lean_span(span)
    except Exception as exc:  # a bug here must not drop the whole batch (re-raised under pytest)
        report_internal_error("normalize_span", exc)
        return None
    return normalize_in_scope(wire_span, view)


def normalize_in_scope(span: WireSpan, view: ScopeView) -> LlmCall | None:
    """`normalize_span` for a lean-decoded span of the scope `view` was read from (the batch path)."""
    try:
        return _normalize(span, view)
    except Exception as exc:  # a bug here must not drop the whole batch (re-raised under pytest)
        report_internal_error("normalize_span", exc)
        return None


def _normalize(span: WireSpan, view: ScopeView) -> LlmCall | None:
    name = span.name
    if name == attr.OUTCOME_SPAN_NAME:
        return None
    attrs = _ATTRIBUTES.decode(span.attributes, _SPAN_KEYS)
    source = detect(view.scope_name, attrs, view.sdk_name)
    if source != SOURCE_COSTLINE and attr.LLM_MIRRORED_BY in attrs:
        return None
    operation = _operation(name, attrs, source)
    if operation is None:
        return None
    request_model = _bounded(text(attrs, attr.GEN_AI_REQUEST_MODEL, fn.OI_REQUEST_MODEL_NAME))
    response_model = _bounded(text(attrs, attr.GEN_AI_RESPONSE_MODEL, *_OPENINFERENCE_MODELS))
    provider = _provider(attrs, view.scope_name)
    by_bedrock = provider == attr.PROVIDER_AWS_BEDROCK
    if provider in gemini.GEMINI_PROVIDERS:
        request_model, response_model = gemini.model_id(request_model), gemini.model_id(response_model)
    elif by_bedrock:
        request_model, response_model = bedrock.model_id(request_model), bedrock.model_id(response_model)
    usage, usage_error = _usage(attrs, source, view.scope_name, provider, response_model or request_model)
    tier, batch = _service_tier(attrs)
    attribution, rejected = read_attribution(attrs)
    estimated = flag(attrs, attr.LLM_USAGE_ESTIMATED)
    if by_bedrock and not estimated:
        estimated = bedrock.estimated_by_peer(view.scope_name, response_model or request_model)
    return LlmCall(
        trace_id=span.trace_id,
        span_id=span.span_id,
        start_time_ns=span.start_time_unix_nano,
        end_time_ns=span.end_time_unix_nano,
        source=source,
        provider=provider,
        operation=operation,
        request_model=request_model,
        response_model=response_model,
        # Bedrock's Converse has no response id: the AWS request id identifies the call across spans.
        response_id=text(attrs, attr.GEN_AI_RESPONSE_ID)
        or (text(attrs, attr.AWS_REQUEST_ID) if by_bedrock else None),
        usage=usage,
        usage_error=usage_error,
        service_name=view.service_name,
        service_instance_id=view.service_instance_id,
        attribution=attribution,
        service_tier=tier,
        batch=batch,
        estimated=estimated,
        error_type=text(attrs, attr.ERROR_TYPE)
        or (_OTHER_ERROR if span.status.code == Status.STATUS_CODE_ERROR else None),
        rejected_attribution=rejected,
        blocked_by=_blocked_by(attrs),
    )


def _blocked_by(attrs: Attributes) -> tuple[str, str] | None:
    if not flag(attrs, attr.LLM_BUDGET_BLOCKED):
        return None
    # not truncated: only looked up among the budgets file's ids, never stored
    return text(attrs, attr.LLM_BUDGET_SCOPE) or "", text(attrs, attr.LLM_BUDGET_PERIOD) or ""


def _usage(
    attrs: Attributes, source: str, scope_name: str, provider: str, model: str | None
) -> tuple[Usage | None, str | None]:
    """The inclusive usage (None when there is none) and why it is impossible (None when it is not)."""
    model_hint = (model or "").lower()
    anthropic_served = provider == attr.PROVIDER_ANTHROPIC or "claude" in model_hint
    excluded = provider == attr.PROVIDER_AWS_BEDROCK and bedrock.input_excludes_cache(
        source, scope_name, attrs
    )
    try:
        usage = read_usage(attrs, source, anthropic_served, excluded)
    except BadUsage as exc:
        return None, str(exc)
    if usage is not None and provider in gemini.GEMINI_PROVIDERS:
        usage = gemini.with_unreported_thoughts(usage, attrs)
    return usage, None


def _bounded(value: str | None) -> str | None:
    return label(value) if value is not None else None


def _operation(span_name: str, attrs: Attributes, source: str) -> str | None:
    """The span's GenAI operation when it is one billable model call, else None."""
    if source == SOURCE_OPENINFERENCE:
        kind = attrs.get(fn.OPENINFERENCE_SPAN_KIND)
        return _OPENINFERENCE_KINDS.get(kind) if isinstance(kind, str) else None
    operation = text(attrs, attr.GEN_AI_OPERATION_NAME, fn.TRACELOOP_LLM_REQUEST_TYPE)
    if source == SOURCE_ANTHROPIC_SDK and span_name != fn.ANTHROPIC_MESSAGES_CREATE_SPAN:
        return None  # count_tokens, sessions, tools: spans of the SDK that are not a billed message
    if operation is not None:
        return operation if operation in LLM_OPERATIONS else None
    has_model = text(attrs, attr.GEN_AI_REQUEST_MODEL, attr.GEN_AI_RESPONSE_MODEL) is not None
    has_usage = any(key in attrs for key in keys_for(source).all())
    if has_model and (has_usage or source == SOURCE_COSTLINE):
        return attr.OPERATION_CHAT
    return None


def _provider(attrs: Attributes, scope_name: str) -> str:
    raw = text(attrs, *_PROVIDER_KEYS)
    if raw is not None:
        return normalize_provider(raw)
    return (
        provider_from_host(text(attrs, attr.SERVER_ADDRESS))
        or provider_from_scope(scope_name)
        or attr.PROVIDER_UNKNOWN
    )


def _service_tier(attrs: Attributes) -> tuple[str | None, bool]:
    raw = text(attrs, *_TIER_KEYS)
    tier = _TIERS.get(raw.lower()) if raw is not None else None
    batch = flag(attrs, attr.LLM_REQUEST_BATCH) or tier == "batch"
    return tier, batch


def extract_outcome(span: Span, resource: Resource) -> Outcome | None:
    """The business outcome a `costline.outcome` span records; None for any other (or a malformed) span."""
    if span.name != attr.OUTCOME_SPAN_NAME:
        return None
    return outcome_in_scope(lean_span(span), scope_view(resource, InstrumentationScope()))


def outcome_in_scope(span: WireSpan, view: ScopeView) -> Outcome | None:
    """`extract_outcome` for a lean-decoded span of the scope `view` was read from (the batch path)."""
    if span.name != attr.OUTCOME_SPAN_NAME:
        return None
    attrs = _ATTRIBUTES.decode(span.attributes, _SPAN_KEYS)
    outcome = text(attrs, attr.LLM_OUTCOME_NAME)
    count = attrs.get(attr.LLM_OUTCOME_COUNT, 1)
    # The name follows the rule record_outcome() enforces in the app; anything else is not an outcome of ours.
    if not is_valid_value(outcome) or isinstance(count, bool) or not isinstance(count, int):
        return None
    if not 1 <= count <= _MAX_OUTCOME_COUNT:
        return None
    attribution, rejected = read_attribution(attrs, _OUTCOME_KEYS)
    return Outcome(
        trace_id=span.trace_id,
        span_id=span.span_id,
        time_ns=span.end_time_unix_nano or span.start_time_unix_nano,
        workflow_id=attribution.get(attr.WORKFLOW_ID, attr.UNATTRIBUTED),
        outcome=outcome,
        count=count,
        service_name=view.service_name,
        rejected_attribution=rejected,
    )
