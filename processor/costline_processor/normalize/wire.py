"""The spans of an OTLP trace request as the normaliser reads them: each attribute kept as its encoded bytes.

Reading an attribute through the generated `KeyValue` message creates three Python objects (the pair, its
`AnyValue`, the string) and asks the oneof which field is set: ~0.45 µs an attribute, ~6 µs of the ~30 µs a
span took through the pipeline. This module decodes the same bytes with a lean schema in which a span's
attributes are `repeated bytes` (the wire format of a message and of bytes is the same), so the protobuf
runtime only slices them; then each encoded attribute is looked up in a memo of the ones seen before.
Across calls most attributes are byte-for-byte the same (provider, operation, model, server, attribution,
and most token counts); only the new ones are decoded, a common encoding in a few slices and anything else
through the generated message, so every value is the one `KeyValue` would give.

The lean schema carries only what the normaliser reads; everything else stays unknown fields, never
decoded. The receivers have already parsed the request with the full schema (which checks UTF-8 and
structure), so these bytes are well-formed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, Protocol, cast

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

_SKIP: Final = object()  # a value the normaliser never reads (no oneof set, maps, bytes)
_MEMO_LIMIT: Final = 100_000  # distinct encoded attributes remembered (~10 MB); then it starts over
_STRING, _BOOL, _INT = 0x0A, 0x10, 0x18  # AnyValue field tags: string_value, bool_value, int_value
_KEY, _VALUE = 0x0A, 0x12  # KeyValue field tags
_SMALL: Final = 256  # bytes: an ignored attribute up to this size is memoised (content attributes are not)
_IGNORED: Final = ("", None)  # memo entry of an ignored attribute: no wanted set holds the key ""


class WireStatus(Protocol):
    code: int


class WireSpan(Protocol):
    """The fields of a span the normaliser reads (the lean decoding has these and nothing else)."""

    trace_id: bytes
    span_id: bytes
    name: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    attributes: Iterable[bytes]
    status: WireStatus


def _schema() -> descriptor_pb2.FileDescriptorProto:
    field = descriptor_pb2.FieldDescriptorProto
    one, many = field.LABEL_OPTIONAL, field.LABEL_REPEATED
    messages: dict[str, list[tuple[str, int, int, int, str]]] = {
        # the field numbers of opentelemetry/proto/{trace,resource,common}/v1
        "Status": [("code", 3, field.TYPE_INT32, one, "")],
        "Span": [
            ("trace_id", 1, field.TYPE_BYTES, one, ""),
            ("span_id", 2, field.TYPE_BYTES, one, ""),
            ("name", 5, field.TYPE_STRING, one, ""),
            ("start_time_unix_nano", 7, field.TYPE_FIXED64, one, ""),
            ("end_time_unix_nano", 8, field.TYPE_FIXED64, one, ""),
            ("attributes", 9, field.TYPE_BYTES, many, ""),
            ("status", 15, field.TYPE_MESSAGE, one, "Status"),
        ],
        "Scope": [("name", 1, field.TYPE_STRING, one, "")],
        "Resource": [("attributes", 1, field.TYPE_BYTES, many, "")],
        "ScopeSpans": [
            ("scope", 1, field.TYPE_MESSAGE, one, "Scope"),
            ("spans", 2, field.TYPE_MESSAGE, many, "Span"),
        ],
        "ResourceSpans": [
            ("resource", 1, field.TYPE_MESSAGE, one, "Resource"),
            ("scope_spans", 2, field.TYPE_MESSAGE, many, "ScopeSpans"),
        ],
        "Request": [("resource_spans", 1, field.TYPE_MESSAGE, many, "ResourceSpans")],
    }
    schema = descriptor_pb2.FileDescriptorProto(
        name="costline/lean_trace.proto", package="costline.lean", syntax="proto3"
    )
    for name, fields in messages.items():
        message = schema.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            entry = message.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                entry.type_name = f".costline.lean.{type_name}"
    return schema


_POOL: Final = descriptor_pool.DescriptorPool()
_POOL.Add(_schema())
LeanRequest: Final = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("costline.lean.Request"))
LeanSpan: Final = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("costline.lean.Span"))
LeanResource: Final = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("costline.lean.Resource"))


def lean_request(raw: bytes) -> Any:
    """The request's resource_spans / scope_spans / spans, in the same order as the full decoding's."""
    return LeanRequest.FromString(raw)


def lean_span(span: Message) -> WireSpan:
    """A span of the full schema, re-read the lean way (for callers that hold one span, not a request)."""
    return cast(WireSpan, LeanSpan.FromString(span.SerializeToString()))


def lean_resource_attributes(resource: Message) -> Iterable[bytes]:
    lean: Any = LeanResource.FromString(resource.SerializeToString())
    return cast(Iterable[bytes], lean.attributes)


class AttributeDecoder:
    """Encoded attributes -> {key: value} for the keys asked for, memoising each distinct encoding.

    `unique_keys`: keys whose values differ from call to call (response ids): never memoised, so the memo
    holds what repeats and is not flushed by them.
    """

    def __init__(self, keys: Iterable[str], unique_keys: Iterable[str] = ()) -> None:
        self._keys: dict[bytes, str] = {key.encode(): key for key in keys}
        self._unique = frozenset(unique_keys)
        self._memo: dict[bytes, tuple[str, Any]] = {}

    def decode(self, encoded: Iterable[bytes], wanted: frozenset[str]) -> dict[str, Any]:
        """The `wanted` attributes (a subset of the decoder's keys) as KeyValue would give them, last wins;
        scalars and arrays of strings, the others left out."""
        out: dict[str, Any] = {}
        memo = self._memo
        for pair in encoded:
            known = memo.get(pair)
            if known is None:
                known = self._decode_new(pair)
                if known is None:
                    continue
            key, value = known
            if key in wanted:
                out[key] = value
        return out

    def _decode_new(self, pair: bytes) -> tuple[str, Any] | None:
        """A pair not seen before: (key, value), or None for a key or value the normaliser never reads."""
        size = len(pair)
        key_end = 2 + pair[1] if size > 1 else 0
        fast = size > 3 and pair[0] == _KEY and pair[1] < 0x80 and key_end + 2 <= size
        fast = fast and pair[key_end] == _VALUE and pair[key_end + 1] == size - key_end - 2 < 0x80
        if not fast:  # long keys or values, repeated or unknown fields: the generated message decides
            return self._decode_slowly(pair)
        key = self._keys.get(pair[2:key_end])
        if key is None:
            if size <= _SMALL:  # a small attribute the normaliser ignores: remember that too
                self._remember(pair, _IGNORED)
            return None
        value = _scalar(pair[key_end + 2 :])
        if value is _SKIP:
            return None
        if type(value) is not list and key not in self._unique:  # a list is mutable: never shared
            self._remember(pair, (key, value))
        return key, value

    def _remember(self, pair: bytes, decoded: tuple[str, Any]) -> None:
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[pair] = decoded

    def _decode_slowly(self, pair: bytes) -> tuple[str, Any] | None:
        message = KeyValue.FromString(pair)
        if message.key.encode() not in self._keys:
            return None
        value = any_value(message.value)
        return None if value is _SKIP else (message.key, value)


def _scalar(encoded: bytes) -> Any:
    """An encoded AnyValue as Python: one short string, bool or non-negative int without a copy of the
    generated message; anything else through it."""
    size = len(encoded)
    if size >= 2:
        tag = encoded[0]
        if tag == _STRING and encoded[1] == size - 2 < 0x80:
            return encoded[2:].decode()
        if tag == _INT and size <= 5:  # up to 4 varint bytes: 0 .. 2**28 - 1
            value, shift = 0, 0
            for index in range(1, size):
                byte = encoded[index]
                value |= (byte & 0x7F) << shift
                shift += 7
                if byte < 0x80:
                    if index == size - 1:
                        return value
                    break
        elif tag == _BOOL and size == 2 and encoded[1] <= 1:
            return encoded[1] == 1
    return any_value(AnyValue.FromString(encoded))


def any_value(value: AnyValue) -> Any:
    """What an attribute's value is to the normaliser: str, int, float, bool, [str], or `_SKIP`."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "array_value":
        return [item.string_value for item in value.array_value.values]
    return _SKIP
