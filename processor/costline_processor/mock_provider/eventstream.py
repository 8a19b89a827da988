"""The AWS event-stream framing (`application/vnd.amazon.eventstream`) Bedrock streams are sent in.

One message: a 12-byte prelude (total length, headers length, both big-endian uint32, then the CRC32 of
those 8 bytes), the headers, the payload, and the CRC32 of everything before it. A header is its name's
length (uint8), the name, a type byte (7: string) and, for a string, its length (uint16) and UTF-8 bytes.
botocore's `botocore.eventstream.EventStreamBuffer` parses exactly this and checks both checksums.

An event carries `:message-type: event` and `:event-type` (the member of the stream's union, e.g.
`messageStart`, `chunk`); a modelled error carries `:message-type: exception` and `:exception-type`
(`throttlingException`, `modelStreamErrorException`...), which botocore raises as an `EventStreamError`.
"""

from __future__ import annotations

import json
import struct
from binascii import crc32
from dataclasses import dataclass
from typing import Any

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7


def _header(name: str, value: str) -> bytes:
    name_bytes, value_bytes = name.encode(), value.encode()
    return (
        struct.pack("!B", len(name_bytes))
        + name_bytes
        + struct.pack("!BH", _STRING, len(value_bytes))
        + value_bytes
    )


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message with string headers, both checksums included."""
    header_bytes = b"".join(_header(name, value) for name, value in headers.items())
    total = 12 + len(header_bytes) + len(payload) + 4
    lengths = struct.pack("!II", total, len(header_bytes))
    prelude = lengths + struct.pack("!I", crc32(lengths) & 0xFFFFFFFF)
    message = prelude + header_bytes + payload
    return message + struct.pack("!I", crc32(message) & 0xFFFFFFFF)


@dataclass(frozen=True)
class BinaryEvent:
    """One event-stream message, ready to write (the counterpart of an SSE event)."""

    data: bytes

    def encode(self) -> bytes:
        return self.data


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def event(event_type: str, payload: Any) -> BinaryEvent:
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return BinaryEvent(encode_message(headers, _json(payload)))


def exception(exception_type: str, message: str) -> BinaryEvent:
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return BinaryEvent(encode_message(headers, _json({"message": message})))
