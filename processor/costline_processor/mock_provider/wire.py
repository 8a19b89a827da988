"""Shapes shared by the provider wire modules: one call's inputs and the reply the server writes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from costline_processor.mock_provider.behaviour import MockBehaviour
from costline_processor.mock_provider.eventstream import BinaryEvent

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"


@dataclass(frozen=True)
class Call:
    """One request, as the wire builders see it: parsed body, effective behaviour, resolved ids."""

    body: dict[str, Any]
    behaviour: MockBehaviour
    model: str
    response_id: str
    item_id: str
    created: int

    @property
    def response_model(self) -> str:
        return self.behaviour.response_model or self.model

    def tool_call_id(self, index: int, prefix: str) -> str:
        chosen = self.behaviour.tool_calls[index].call_id
        return chosen or f"{prefix}{self.item_id.removeprefix('msg_')}_{index}"


@dataclass(frozen=True)
class SseEvent:
    """One server-sent event; ``event`` is None for data-only streams (OpenAI chat)."""

    data: str
    event: str | None = None

    def encode(self) -> bytes:
        head = f"event: {self.event}\n" if self.event is not None else ""
        return f"{head}data: {self.data}\n\n".encode()


def sse(data: Any, event: str | None = None) -> SseEvent:
    return SseEvent(data=json.dumps(data, separators=(",", ":")), event=event)


StreamEvent = SseEvent | BinaryEvent


@dataclass(frozen=True)
class Reply:
    """What to send: a JSON body, or a list of stream events (``error_event`` replaces the rest on failure):
    SSE events, or AWS event-stream messages for Bedrock (``content_type`` says which)."""

    status: int = 200
    body: Any = None
    events: Sequence[StreamEvent] | None = None
    error_event: StreamEvent | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = SSE_CONTENT_TYPE
