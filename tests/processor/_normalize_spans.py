"""Hand-built OTLP spans for the normaliser tests (the wire shape every instrumentation exports)."""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from costline_processor.model import LlmCall
from costline_processor.normalize import normalize_span

Value = str | int | float | bool | list[str]

START_NS = 1_762_000_000_000_000_000


def any_value(value: Value) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[AnyValue(string_value=item) for item in value]))
    return AnyValue(string_value=value)


def kvs(values: Mapping[str, Value]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(value)) for key, value in values.items()]


def make_span(values: Mapping[str, Value], name: str = "chat gpt-4o", error: bool = False) -> Span:
    status = Status(code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_UNSET)
    return Span(
        trace_id=b"\x0a" * 16,
        span_id=b"\x0b" * 8,
        name=name,
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=START_NS,
        end_time_unix_nano=START_NS + 5_000_000,
        attributes=kvs(values),
        status=status,
    )


RESOURCE = Resource(attributes=kvs({"service.name": "support-bot", "service.instance.id": "pod-7"}))


def normalize(
    values: Mapping[str, Value], scope: str = "", name: str = "chat gpt-4o", **kw: bool
) -> LlmCall | None:
    return normalize_span(
        make_span(values, name, **kw), RESOURCE, InstrumentationScope(name=scope, version="1.0")
    )


def normalized(values: Mapping[str, Value], scope: str = "", name: str = "chat gpt-4o") -> LlmCall:
    result = normalize(values, scope, name)
    assert result is not None
    return result
