"""The processor's internal data model: one normalised LLM call, and its price.

normalise (pure) turns a span of any source into an `LlmCall`; pricing (pure) turns an `LlmCall` into a
`Cost` or an `Unpriced`; the ledger stores them; metrics are derived from the ledger. Money is `Decimal`.
"""

from __future__ import annotations

from dataclasses import field
from decimal import Decimal

from costline_processor.value_class import value_class


@value_class
class Usage:
    """Provider-reported usage in the semconv (inclusive) model.

    `input_tokens` includes cache reads and cache writes; `output_tokens` includes reasoning tokens.
    `cache_write_tokens` is the total written; `cache_write_1h_tokens` is the part written with a 1-hour TTL.
    """

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def uncached_input_tokens(self) -> int:
        return self.input_tokens - self.cache_read_tokens - self.cache_write_tokens


@value_class
class LlmCall:
    """One LLM call as seen on one span, normalised from whichever instrumentation emitted it."""

    trace_id: bytes
    span_id: bytes
    start_time_ns: int
    end_time_ns: int
    source: str  # costline, anthropic_sdk, otel_genai, openllmetry, openinference, openlit
    provider: str
    operation: str
    request_model: str | None
    response_model: str | None
    response_id: str | None
    usage: Usage | None
    usage_error: str | None = None  # why usage is unusable (sets unpriced reason invalid_usage)
    service_name: str = "unknown_service"
    service_instance_id: str | None = None
    attribution: dict[str, str] = field(default_factory=dict)
    service_tier: str | None = None  # default, flex, priority, batch
    batch: bool = False
    estimated: bool = False
    error_type: str | None = None
    # (attribution key, metric_names.REJECTED_BY_*) of each value left out as invalid, for self-telemetry.
    rejected_attribution: tuple[tuple[str, str], ...] = ()
    # A call the app's budget guard blocked (never sent): (llm.budget.scope, llm.budget.period), "" for
    # what the span does not say; None for every call that was made.
    blocked_by: tuple[str, str] | None = None

    @property
    def model(self) -> str | None:
        """The model that served the call: the response model is preferred over the requested one."""
        return self.response_model or self.request_model


@value_class
class Cost:
    """A priced call. `total` equals the sum of the parts exactly."""

    input: Decimal  # uncached input
    cache_read: Decimal
    cache_write: Decimal
    output: Decimal
    source: str  # price-data version or override id

    @property
    def total(self) -> Decimal:
        return self.input + self.cache_read + self.cache_write + self.output


@value_class
class Unpriced:
    reason: str  # one of metric_names.UNPRICED_REASONS
    detail: str = ""


@value_class
class PricedCall:
    """What the ledger stores: a call and its price (or why it has none)."""

    call: LlmCall
    result: Cost | Unpriced


@value_class
class Outcome:
    """A business outcome recorded by app code with `costline.record_outcome` (an outcome span)."""

    trace_id: bytes
    span_id: bytes
    time_ns: int
    workflow_id: str
    outcome: str
    count: int
    service_name: str = "unknown_service"
    rejected_attribution: tuple[tuple[str, str], ...] = ()  # as on LlmCall
