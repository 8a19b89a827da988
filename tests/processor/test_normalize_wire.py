"""The lean attribute decoding (normalize.wire) gives what the generated KeyValue message gives, for every
encoding a sender can produce: short and long keys and strings, every scalar, arrays, maps, bytes, no
value, and hand-made encodings with repeated or unknown fields."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from costline_processor.normalize import wire
from costline_processor.normalize.wire import AttributeDecoder

KEYS = ("gen_ai.request.model", "k" * 200, "workflow_id", "ü-ключ", "")


def _reference(pairs: list[bytes], wanted: frozenset[str]) -> dict[str, Any]:
    """What reading each pair through the generated message gives (last wins, unreadable values left out)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        message = KeyValue.FromString(pair)
        if message.key not in wanted:
            continue
        value = wire.any_value(message.value)
        if value is not wire._SKIP:
            out[message.key] = value
    return out


def _values(rng: random.Random) -> list[AnyValue]:
    strings = ["", "gpt-4o", "é" * 70, "x" * 127, "y" * 128, "z" * 300, "\x00nul"]
    ints = [0, 1, 127, 128, 16_383, 16_384, 2**21, 2**28 - 1, 2**28, 2**40, -1, -(2**63), 2**63 - 1]
    values = [AnyValue(string_value=s) for s in strings]
    values += [AnyValue(int_value=i) for i in ints]
    values += [AnyValue(bool_value=b) for b in (True, False)]
    values += [AnyValue(double_value=d) for d in (0.0, 1.5, 1200.0, -3.0, math.inf, math.nan)]
    values.append(
        AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="a"), AnyValue(int_value=3)]))
    )
    values.append(AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key="a")])))
    values += [AnyValue(bytes_value=b"\x01\x02"), AnyValue()]
    values += [AnyValue(int_value=rng.randrange(0, 2**31)) for _ in range(50)]
    return values


def _pairs(rng: random.Random) -> list[bytes]:
    pairs = [KeyValue(key=key, value=value).SerializeToString() for key in KEYS for value in _values(rng)]
    pairs.append(KeyValue(key="workflow_id").SerializeToString())  # no value field at all
    # Encodings no SDK writes but a sender may: a repeated oneof (the last wins), an unknown field, a
    # value field given twice (merged), the key after the value.
    string_then_int = b"\x0a\x01a\x18\x05"
    pairs.append(b"\x0a\x0bworkflow_id\x12" + bytes([len(string_then_int)]) + string_then_int)
    pairs.append(b"\x0a\x0bworkflow_id\x12\x03\x0a\x01b" + b"\x28\x01")  # unknown field 5 after the value
    pairs.append(b"\x0a\x0bworkflow_id\x12\x03\x0a\x01b\x12\x02\x18\x07")  # value twice
    pairs.append(b"\x12\x03\x0a\x01c\x0a\x0bworkflow_id")  # key last
    return pairs


@pytest.mark.parametrize("seed", range(5))
def test_every_encoding_decodes_as_the_generated_message_does(seed: int) -> None:
    rng = random.Random(seed)
    pairs = _pairs(rng)
    wanted = frozenset(KEYS)
    decoder = AttributeDecoder(KEYS)
    for _ in range(40):  # fresh and memoised decodings, one pair alone and many with repeated keys
        sample = rng.sample(pairs, rng.randrange(1, 12))
        expected, got = _reference(sample, wanted), decoder.decode(sample, wanted)
        assert got.keys() == expected.keys(), sample
        for key, value in expected.items():
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(got[key])
            else:
                assert got[key] == value, (key, sample)
                assert type(got[key]) is type(value), (key, sample)


def test_only_the_wanted_keys_come_out_and_a_memoised_list_is_never_shared() -> None:
    decoder = AttributeDecoder(("a", "b"))
    array = KeyValue(key="a", value=AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="x")])))
    pairs = [array.SerializeToString(), KeyValue(key="b", value=AnyValue(int_value=3)).SerializeToString()]
    first = decoder.decode(pairs, frozenset({"a"}))
    assert first == {"a": ["x"]}
    first["a"].append("changed")
    assert decoder.decode(pairs, frozenset({"a", "b"})) == {"a": ["x"], "b": 3}


def test_the_memo_starts_over_at_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "_MEMO_LIMIT", 10)
    decoder = AttributeDecoder(("n",))
    for n in range(25):
        pair = KeyValue(key="n", value=AnyValue(int_value=n)).SerializeToString()
        assert decoder.decode([pair], frozenset({"n"})) == {"n": n}
        assert len(decoder._memo) <= 10


def test_the_common_encodings_never_build_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short strings, token counts and flags are decoded from their bytes (the point of the module)."""
    values = [AnyValue(string_value="gpt-4o-mini"), AnyValue(int_value=1_200), AnyValue(int_value=0)]
    values += [AnyValue(bool_value=True), AnyValue(string_value="")]
    pairs = [KeyValue(key=f"k{n}", value=value).SerializeToString() for n, value in enumerate(values)]

    class NoMessages:
        @staticmethod
        def FromString(_raw: bytes) -> None:
            raise AssertionError("decoded through the generated message")

    monkeypatch.setattr(wire, "KeyValue", NoMessages)
    monkeypatch.setattr(wire, "AnyValue", NoMessages)
    keys = [f"k{n}" for n in range(len(values))]
    got = AttributeDecoder(keys).decode(pairs, frozenset(keys))
    assert got == {"k0": "gpt-4o-mini", "k1": 1_200, "k2": 0, "k3": True, "k4": ""}


def test_per_call_values_are_decoded_but_never_memoised() -> None:
    decoder = AttributeDecoder(("id", "model"), unique_keys=("id",))
    pairs = [
        KeyValue(key="id", value=AnyValue(string_value="chatcmpl-1")).SerializeToString(),
        KeyValue(key="model", value=AnyValue(string_value="gpt-4o")).SerializeToString(),
    ]
    assert decoder.decode(pairs, frozenset({"id", "model"})) == {"id": "chatcmpl-1", "model": "gpt-4o"}
    assert [key for key, _ in decoder._memo.values()] == ["model"]
