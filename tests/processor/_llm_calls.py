"""`LlmCall`s as the normaliser makes them, for pricing tests (one call per test, at a fixed time)."""

from __future__ import annotations

from datetime import UTC, datetime

from costline import attributes as attr
from costline_processor.model import LlmCall, Usage

NOV_2025 = datetime(2025, 11, 1, 12, tzinfo=UTC)


def call(
    provider: str,
    model: str,
    usage: Usage | None,
    *,
    at: datetime = NOV_2025,
    request_model: str | None = None,
    service_tier: str | None = None,
    batch: bool = False,
    usage_error: str | None = None,
) -> LlmCall:
    start = int(at.timestamp()) * 1_000_000_000
    return LlmCall(
        trace_id=b"\x01" * 16,
        span_id=b"\x02" * 8,
        start_time_ns=start,
        end_time_ns=start + 1_000_000,
        source="costline",
        provider=provider,
        operation=attr.OPERATION_CHAT,
        request_model=request_model or model,
        response_model=model,
        response_id="resp-1",
        usage=usage,
        usage_error=usage_error,
        service_tier=service_tier,
        batch=batch,
    )
