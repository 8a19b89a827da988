"""The collector's routing condition sends every span costline would bill to costline, and plain spans not.

No collector runs here, so the OTTL condition is evaluated by a small interpreter of exactly the forms it
uses (anything else fails the test). The oracle is costline's own normaliser: every span for which
`normalize_span` returns a call must be routed to costline. The spans are real OTLP protobuf spans: costline's
own (the OTel SDK, as tests/genai_spans.py emits them) and one per foreign convention the normaliser reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline import attributes as attr
from costline_processor.normalize import foreign_names as fn
from costline_processor.normalize import normalize_span
from genai_spans import (  # type: ignore[import-not-found,unused-ignore]  # tests/ is on sys.path under pytest
    Call,
    OutcomeSpec,
    encode_request,
    make_spans,
)

CONFIG = Path(__file__).resolve().parents[2] / "collector-config" / "otelcol-costline.yaml"
_TERM = re.compile(
    r'attributes\["(?P<key>[^"]+)"\] (?P<op>!=|==) (?:nil|"(?P<value>[^"]*)")'
    r'|(?P<field>name|instrumentation_scope\.name) == "(?P<expected>[^"]*)"'
)
Routed = tuple[Span, InstrumentationScope]


def _condition() -> str:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    (route,) = config["connectors"]["routing/genai"]["table"]
    condition: str = route["condition"]
    return condition


def _value(any_value: AnyValue) -> object:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def routes_to_costline(condition: str, span: Span, scope: InstrumentationScope) -> bool:
    """Evaluate `t1 or t2 or ...` where each term is one of the forms in `_TERM`."""
    attrs = {kv.key: _value(kv.value) for kv in span.attributes}
    for term in condition.split(" or "):
        match = _TERM.fullmatch(term.strip())
        assert match, f"the test's OTTL interpreter does not know {term!r}"
        if match["field"]:
            actual = span.name if match["field"] == "name" else scope.name
            hit = actual == match["expected"]
        elif match["op"] == "!=":
            hit = attrs.get(match["key"]) is not None
        else:
            hit = attrs.get(match["key"]) == match["value"]
        if hit:
            return True
    return False


def _span(name: str, attributes: Mapping[str, str | int] | None = None) -> Span:
    span = Span(name=name, trace_id=b"\x01" * 16, span_id=b"\x02" * 8, kind=Span.SPAN_KIND_CLIENT)
    span.start_time_unix_nano, span.end_time_unix_nano = 1, 2
    for key, value in (attributes or {}).items():
        any_value = AnyValue(int_value=value) if isinstance(value, int) else AnyValue(string_value=value)
        span.attributes.append(KeyValue(key=key, value=any_value))
    return span


def _costline_spans() -> list[Routed]:
    """Spans costline's instrumentation emits (calls, an outcome) plus the app's plain spans."""
    spans = make_spans(
        [
            Call("openai", "gpt-4o-mini", 100, 20),
            Call("anthropic", "claude-sonnet-4-5", 200, 30, cache_read=50),
        ],
        plain_spans=2,
        outcomes=[OutcomeSpec("support", "ticket_resolved")],
    )
    request = encode_request(spans)
    return [(span, ss.scope) for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]


def _foreign_spans() -> list[Routed]:
    """One span per convention the normaliser bills, with only that convention's attributes."""
    usage: dict[str, str | int] = {attr.GEN_AI_USAGE_INPUT_TOKENS: 10, attr.GEN_AI_USAGE_OUTPUT_TOKENS: 5}
    other = InstrumentationScope(name="some.instrumentation")
    return [
        (
            _span(
                "chat gpt-4o",
                {attr.GEN_AI_OPERATION_NAME: attr.OPERATION_CHAT, attr.GEN_AI_REQUEST_MODEL: "gpt-4o"}
                | usage,
            ),
            other,
        ),
        (
            _span(
                "openai.chat",
                {fn.TRACELOOP_LLM_REQUEST_TYPE: "chat", attr.GEN_AI_RESPONSE_MODEL: "gpt-4o"} | usage,
            ),
            other,
        ),
        (_span("completion", {attr.GEN_AI_REQUEST_MODEL: "gpt-4o"} | usage), other),
        (
            _span(
                "ChatCompletion",
                {
                    fn.OPENINFERENCE_SPAN_KIND: fn.OPENINFERENCE_KIND_LLM,
                    fn.OI_PROMPT_TOKENS: 10,
                    fn.OI_COMPLETION_TOKENS: 5,
                },
            ),
            other,
        ),
        (
            _span(
                "Embeddings",
                {fn.OPENINFERENCE_SPAN_KIND: fn.OPENINFERENCE_KIND_EMBEDDING, fn.OI_PROMPT_TOKENS: 10},
            ),
            other,
        ),
        (
            _span(
                fn.ANTHROPIC_MESSAGES_CREATE_SPAN, {attr.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5"} | usage
            ),
            InstrumentationScope(name=fn.ANTHROPIC_SDK_SCOPE),
        ),
        (_span("GET /orders", {"http.request.method": "GET"}), other),
        (_span("Retriever", {fn.OPENINFERENCE_SPAN_KIND: "RETRIEVER"}), other),
    ]


@pytest.mark.parametrize("source", ["costline", "foreign"])
def test_every_billable_span_is_routed_to_costline(source: str) -> None:
    condition = _condition()
    spans = _costline_spans() if source == "costline" else _foreign_spans()
    billable = plain = 0
    for span, scope in spans:
        call = normalize_span(span, Resource(), scope)
        routed = routes_to_costline(condition, span, scope)
        if call is not None:
            billable += 1
            assert routed, f"{span.name} ({scope.name}) is billed by costline but not routed to it"
        elif span.name == attr.OUTCOME_SPAN_NAME:
            assert routed, "outcome spans must reach costline"
        elif not any(kv.key.startswith(("gen_ai.", "llm.")) for kv in span.attributes):
            plain += 1
            assert not routed, f"plain span {span.name} routed to costline"
    assert billable >= 2
    assert plain >= 1


def test_the_interpreter_rejects_forms_it_does_not_know() -> None:
    with pytest.raises(AssertionError, match="does not know"):
        routes_to_costline('IsMatch(name, "chat.*")', _span("chat"), InstrumentationScope())
