"""What the fake provider answers: token usage, text, errors and timing, in the semconv (inclusive) model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MockUsage:
    """Token usage in the OTel GenAI semconv model, converted to each provider's wire format on the way out.

    ``input_tokens`` includes cache reads and cache writes; ``output_tokens`` includes reasoning tokens;
    ``cache_write_1h_tokens`` is the part of ``cache_write_tokens`` written with a 1-hour TTL.
    ``tool_use_prompt_tokens`` is the part of ``input_tokens`` that is tool results fed back to the model
    (Gemini reports it apart from its prompt count).
    """

    input_tokens: int = 100
    output_tokens: int = 20
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    tool_use_prompt_tokens: int = 0

    def __post_init__(self) -> None:
        for name in (
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "cache_write_1h_tokens",
            "reasoning_tokens",
            "tool_use_prompt_tokens",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"MockUsage.{name} must be >= 0")
        # An impossible usage would make Anthropic's exclusive input_tokens negative: refuse it up front.
        if self.cache_read_tokens + self.cache_write_tokens > self.input_tokens:
            raise ValueError("cache reads + cache writes must not exceed input_tokens (which includes them)")
        if self.cache_read_tokens + self.cache_write_tokens + self.tool_use_prompt_tokens > self.input_tokens:
            raise ValueError(
                "cache and tool-use prompt tokens are parts of input_tokens and cannot exceed it"
            )
        if self.cache_write_1h_tokens > self.cache_write_tokens:
            raise ValueError("cache_write_1h_tokens is part of cache_write_tokens and cannot exceed it")
        if self.reasoning_tokens > self.output_tokens:
            raise ValueError("reasoning_tokens is part of output_tokens (inclusive) and cannot exceed it")

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def uncached_input_tokens(self) -> int:
        """Anthropic's exclusive ``input_tokens``: neither read from nor written to the cache."""
        return self.input_tokens - self.cache_read_tokens - self.cache_write_tokens

    @property
    def cache_write_5m_tokens(self) -> int:
        return self.cache_write_tokens - self.cache_write_1h_tokens


@dataclass(frozen=True)
class MockToolCall:
    """A tool (function) call the model makes; ``call_id`` None -> a generated id (call_..., toolu_...)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    call_id: str | None = None


@dataclass(frozen=True)
class MockBehaviour:
    """How the fake provider answers one request (or every request, as ``MockProvider.default``).

    ``error_status`` answers with that HTTP status and the provider's JSON error body.
    ``reasoning_text`` is the visible reasoning, sent when the usage has reasoning tokens: an Anthropic
    thinking block if the request enables thinking, a Responses reasoning item if it sets ``reasoning``, a
    Gemini thought part if it sets ``thinkingConfig.includeThoughts``.
    ``tool_calls`` adds tool calls after the text (set ``text=""`` for a pure tool-call turn); the finish
    reason becomes ``tool_calls`` / ``tool_use``.
    ``fail_after_events`` cuts a stream's connection after that many SSE events (a non-streaming request's
    connection is closed unanswered); with ``fail_with_error_event`` a stream gets the provider's in-stream
    ``error`` event instead, then ends cleanly.
    ``anthropic_delta_input_usage`` makes Anthropic's ``message_delta`` repeat the input and cache counts as
    the current API does; False sends only ``output_tokens`` there, as older API versions did.
    ``retry_after_s`` adds ``retry-after``/``retry-after-ms`` headers, which the SDKs honour when retrying.
    ``latency_s`` delays the reply (time to first byte); ``event_delay_s`` spaces stream events.
    ``response_model``/``response_id`` default to echoing the request's model and a generated id.
    ``finish_reason`` is sent as given (OpenAI: ``stop``, ``length``...; Anthropic: ``end_turn``,
    ``max_tokens``...; Gemini: ``STOP``, ``MAX_TOKENS``...); None picks the natural one.
    """

    usage: MockUsage = field(default_factory=MockUsage)
    text: str = "Hello from the mock provider."
    chunks: int = 3
    tool_calls: tuple[MockToolCall, ...] = ()
    reasoning_text: str = "Thinking it through."
    error_status: int | None = None
    fail_after_events: int | None = None
    fail_with_error_event: bool = False
    latency_s: float = 0.0
    event_delay_s: float = 0.0
    response_model: str | None = None
    service_tier: str | None = None
    response_id: str | None = None
    finish_reason: str | None = None
    error_message: str | None = None
    retry_after_s: float | None = None
    anthropic_delta_input_usage: bool = True
    extra_headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.chunks < 1:
            raise ValueError("MockBehaviour.chunks must be >= 1")
        if self.fail_after_events is not None and self.fail_after_events < 0:
            raise ValueError("MockBehaviour.fail_after_events must be >= 0")
        if self.error_status is not None and not 400 <= self.error_status <= 599:
            raise ValueError("MockBehaviour.error_status must be an HTTP error status (400-599)")
        if self.latency_s < 0 or self.event_delay_s < 0:
            raise ValueError("MockBehaviour.latency_s and event_delay_s must be >= 0")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake provider received it, recorded before it answered."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


def split_text(text: str, chunks: int) -> list[str]:
    """Split ``text`` into at most ``chunks`` non-empty pieces that join back to it exactly."""
    if not text:
        return []
    count = min(chunks, len(text))
    size, rest = divmod(len(text), count)
    pieces: list[str] = []
    start = 0
    for index in range(count):
        end = start + size + (1 if index < rest else 0)
        pieces.append(text[start:end])
        start = end
    return pieces
