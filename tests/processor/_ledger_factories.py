"""Builders for the ledger and metrics tests: LLM calls as the normaliser and the pricer hand them over."""

from __future__ import annotations

import time
from decimal import Decimal

from costline.attributes import FEATURE_ID, TENANT_ID, USER_ID, WORKFLOW_ID
from costline_processor.ledger import NS_PER_DAY, RecordedItem, RecordResult
from costline_processor.model import Cost, LlmCall, PricedCall, Unpriced, Usage

# Midnight (UTC) ten days ago: a start time the ledger takes as it is (rows.Arrival), whatever the date.
T0 = (time.time_ns() // NS_PER_DAY - 10) * NS_PER_DAY
DEFAULT_USAGE = Usage(input_tokens=1000, output_tokens=200, cache_read_tokens=300, cache_write_tokens=100)


def make_call(
    n: int,
    *,
    workflow: str | None = "support",
    feature: str | None = None,
    tenant: str | None = None,
    user: str | None = None,
    trace: int | None = None,
    response_id: str | None = "auto",
    usage: Usage | None = DEFAULT_USAGE,
    model: str | None = "gpt-4o",
    provider: str = "openai",
    service: str = "checkout",
    error_type: str | None = None,
    start_ns: int | None = None,
) -> LlmCall:
    """Call number `n`: its own trace (unless `trace` is given), span and response id."""
    attribution = {
        key: value
        for key, value in (
            (WORKFLOW_ID, workflow),
            (FEATURE_ID, feature),
            (TENANT_ID, tenant),
            (USER_ID, user),
        )
        if value is not None
    }
    start = T0 + n * 1_000_000 if start_ns is None else start_ns
    return LlmCall(
        trace_id=(n if trace is None else trace).to_bytes(16, "big"),
        span_id=(n + 1).to_bytes(8, "big"),
        start_time_ns=start,
        end_time_ns=start + 500_000_000,
        source="costline",
        provider=provider,
        operation="chat",
        request_model=model,
        response_model=model,
        response_id=f"resp-{n}" if response_id == "auto" else response_id,
        usage=usage,
        service_name=service,
        service_instance_id="app-1",
        attribution=attribution,
        error_type=error_type,
    )


def priced(call: LlmCall, input: str = "0.0015", cache_read: str = "0.000375", cache_write: str = "0.000125",
           output: str = "0.002") -> PricedCall:  # fmt: skip
    cost = Cost(Decimal(input), Decimal(cache_read), Decimal(cache_write), Decimal(output), "test-prices-1")
    return PricedCall(call, cost)


def unpriced(call: LlmCall, reason: str) -> PricedCall:
    return PricedCall(call, Unpriced(reason, "test"))


def all_new(calls: list[PricedCall]) -> RecordResult:
    """A RecordResult as the ledger returns it for calls it has never seen (metrics-only tests)."""
    return RecordResult([RecordedItem(p, "new", p.call.span_id) for p in calls], [], 0)
