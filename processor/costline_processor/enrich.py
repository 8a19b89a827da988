"""Write the processor's cost attributes onto LLM spans, in place, on the hot path.

The attributes are appended as pre-encoded protobuf bytes with `Span.MergeFromString`: merging a serialised
message appends to repeated fields, so one C call adds all of them, instead of building a `KeyValue` object
per attribute (4-5x slower). Only the 8-byte double and the string values are encoded per span.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline import attributes as attrs
from costline_processor.ledger import STATUS_DUPLICATE_CALL, RecordedItem
from costline_processor.model import Cost, PricedCall, Unpriced

# Attributes only the processor writes: stripped from incoming spans first, so a re-sent span or an app
# that sets them itself cannot make a span carry two (or forged) costs.
PROCESSOR_ATTRIBUTES: Final = frozenset(
    {
        attrs.LLM_COST_USD,
        attrs.LLM_COST_INPUT_USD,
        attrs.LLM_COST_OUTPUT_USD,
        attrs.LLM_COST_CACHE_READ_USD,
        attrs.LLM_COST_CACHE_WRITE_USD,
        attrs.LLM_PRICING_SOURCE,
        attrs.LLM_COST_UNPRICED_REASON,
        attrs.LLM_COST_UNPRICED_DETAIL,
        attrs.LLM_COST_DUPLICATE_OF,
        attrs.GEN_AI_USAGE_COST,
        attrs.LLM_COST_START_TIME_OUT_OF_RANGE,
    }
)
# If none of these byte strings occurs in a request, no span in it carries a processor attribute.
PROCESSOR_ATTRIBUTE_MARKERS: Final = (
    b"llm.cost.",
    attrs.LLM_PRICING_SOURCE.encode(),
    attrs.GEN_AI_USAGE_COST.encode(),
)
MAX_DETAIL_CHARS: Final = 512  # the unpriced detail names a few candidates; never an unbounded string

_SPAN_ATTRIBUTES: Final = 9 << 3 | 2  # Span.attributes: field 9, length-delimited
_KEY: Final = 1 << 3 | 2  # KeyValue.key
_VALUE: Final = 2 << 3 | 2  # KeyValue.value
_STRING: Final = 1 << 3 | 2  # AnyValue.string_value
_DOUBLE: Final = 4 << 3 | 1  # AnyValue.double_value: fixed64
_BOOL: Final = 2 << 3  # AnyValue.bool_value: varint
_pack_double = struct.Struct("<d").pack


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _length_delimited(tag: int, payload: bytes) -> bytes:
    return _varint(tag) + _varint(len(payload)) + payload


def _double_prefix(key: str) -> bytes:
    """Everything of a double attribute but its 8 value bytes (its length is fixed)."""
    encoded_key = _length_delimited(_KEY, key.encode())
    key_value_len = len(encoded_key) + 2 + 9  # value tag + length byte + (double tag + 8 bytes)
    return _varint(_SPAN_ATTRIBUTES) + _varint(key_value_len) + encoded_key + bytes([_VALUE, 9, _DOUBLE])


def _attribute(key: str, any_value: bytes) -> bytes:
    """A `Span.attributes` entry: the key and an encoded `AnyValue`."""
    return _length_delimited(
        _SPAN_ATTRIBUTES, _length_delimited(_KEY, key.encode()) + _length_delimited(_VALUE, any_value)
    )


def string_attribute(key: str, value: str) -> bytes:
    return _attribute(key, _length_delimited(_STRING, value.encode("utf-8", "replace")))


_START_TIME_OUT_OF_RANGE: Final = _attribute(attrs.LLM_COST_START_TIME_OUT_OF_RANGE, bytes([_BOOL, 1]))
_TOTAL: Final = _double_prefix(attrs.LLM_COST_USD)
_USAGE_COST: Final = _double_prefix(attrs.GEN_AI_USAGE_COST)
_INPUT: Final = _double_prefix(attrs.LLM_COST_INPUT_USD)
_OUTPUT: Final = _double_prefix(attrs.LLM_COST_OUTPUT_USD)
_CACHE_READ: Final = _double_prefix(attrs.LLM_COST_CACHE_READ_USD)
_CACHE_WRITE: Final = _double_prefix(attrs.LLM_COST_CACHE_WRITE_USD)
_source_cache: dict[str, bytes] = {}


def _source(source: str) -> bytes:
    encoded = _source_cache.get(source)
    if encoded is None:
        encoded = string_attribute(attrs.LLM_PRICING_SOURCE, source)
        if len(_source_cache) < 1024:  # price-data versions and override ids: a handful
            _source_cache[source] = encoded
    return encoded


def cost_attributes(cost: Cost) -> bytes:
    total = _pack_double(float(cost.total))
    return b"".join(
        (
            _TOTAL, total,
            _USAGE_COST, total,
            _INPUT, _pack_double(float(cost.input)),
            _OUTPUT, _pack_double(float(cost.output)),
            _CACHE_READ, _pack_double(float(cost.cache_read)),
            _CACHE_WRITE, _pack_double(float(cost.cache_write)),
            _source(cost.source),
        )
    )  # fmt: skip


def enrichment(priced: PricedCall, item: RecordedItem) -> bytes:
    """The attributes the processor writes on one LLM span, encoded as `Span` fields.

    A duplicate (the second span of a call already counted) points at the canonical span instead of
    carrying costs, so a TraceQL sum over `llm.cost.usd` counts the call once.
    """
    flag = _START_TIME_OUT_OF_RANGE if item.start_time_out_of_range else b""
    if item.status == STATUS_DUPLICATE_CALL:
        return string_attribute(attrs.LLM_COST_DUPLICATE_OF, item.canonical_span_id.hex()) + flag
    result = priced.result
    if isinstance(result, Unpriced):
        reason = string_attribute(attrs.LLM_COST_UNPRICED_REASON, result.reason) + flag
        if not result.detail:
            return reason
        return reason + string_attribute(attrs.LLM_COST_UNPRICED_DETAIL, result.detail[:MAX_DETAIL_CHARS])
    return cost_attributes(result) + flag


def strip_processor_attributes(span: Span) -> None:
    stale = [i for i, kv in enumerate(span.attributes) if kv.key in PROCESSOR_ATTRIBUTES]
    for index in reversed(stale):
        del span.attributes[index]


def enrich(
    spans: Sequence[Span], priced: Sequence[PricedCall], items: Sequence[RecordedItem], *, strip: bool = True
) -> None:
    """Write the cost attributes onto the spans, in place (the request is forwarded as it is).

    `strip=False` skips removing existing processor attributes, for requests known not to carry any.
    """
    for span, call, item in zip(spans, priced, items, strict=True):
        if strip:
            strip_processor_attributes(span)
        span.MergeFromString(enrichment(call, item))


def may_carry_processor_attributes(raw: bytes) -> bool:
    """Whether a serialised request (protobuf or JSON) might hold processor attributes to strip."""
    return any(marker in raw for marker in PROCESSOR_ATTRIBUTE_MARKERS)
