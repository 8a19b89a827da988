"""A ledger of known calls for the `costline report` tests, and the CLI as the user runs it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from costline.attributes import FEATURE_ID, TENANT_ID, USER_ID, WORKFLOW_ID
from costline_processor.cli import _register, cli
from costline_processor.ledger import Ledger
from costline_processor.model import Cost, LlmCall, Outcome, PricedCall, Unpriced, Usage

START = datetime(2026, 11, 1, tzinfo=UTC)


def report_call(
    n: int,
    day: int,
    workflow: str | None,
    model: str,
    cost: str,
    *,
    tenant: str = "acme",
    user: str = "u1",
    trace: int | None = None,
) -> PricedCall:
    attribution = {TENANT_ID: tenant, USER_ID: user, FEATURE_ID: "f"}
    if workflow:
        attribution[WORKFLOW_ID] = workflow
    at = int((START + timedelta(days=day, hours=12)).timestamp() * 1e9)
    call = LlmCall(
        trace_id=(trace if trace is not None else n).to_bytes(16, "big"),
        span_id=n.to_bytes(8, "big"),
        start_time_ns=at,
        end_time_ns=at + 1000,
        source="costline",
        provider="openai",
        operation="chat",
        request_model=model,
        response_model=model,
        response_id=f"resp-{n}",
        usage=Usage(input_tokens=100, output_tokens=10),
        service_name="app",
        attribution=attribution,
    )
    # All of a call's cost is put on output so the hand sums stay readable.
    return PricedCall(call, Cost(Decimal(0), Decimal(0), Decimal(0), Decimal(cost), "test"))


def unpriced_report_call(n: int, day: int, workflow: str | None, model: str = "mystery") -> PricedCall:
    """A call of a model without a price: it is recorded, counted, and has no cost."""
    return PricedCall(report_call(n, day, workflow, model, "0").call, Unpriced("unknown_model"))


def write_ledger(path: Path, extra: list[PricedCall] | None = None) -> Path:
    """support, research and unattributed spend; one unpriced support call; 4 resolved tickets."""
    calls = [
        # support: 7 quiet days at $1.00/day, then a $5.00 day (5x its 7-day average)
        *[report_call(n, n, "support", "gpt-4o", "1.00") for n in range(7)],
        report_call(7, 7, "support", "gpt-4o", "5.00"),
        report_call(8, 3, "research", "o3", "2.50"),
        report_call(9, 4, "research", "gpt-4o", "0.25"),
        report_call(10, 5, None, "gpt-4o-mini", "0.125"),  # unattributed
    ]
    unpriced = unpriced_report_call(11, 2, "support")
    outcomes = [
        Outcome(b"o" * 16, bytes([1]) * 8, int(START.timestamp() * 1e9) + 5, "support", "ticket_resolved", 3),
        Outcome(b"o" * 16, bytes([2]) * 8, int(START.timestamp() * 1e9) + 6, "support", "ticket_resolved", 1),
    ]
    with Ledger(path) as store:
        store.record([*calls, unpriced, *(extra or [])], outcomes)
    return path


def run_report(*args: str) -> str:
    _register()
    result = CliRunner().invoke(cli, ["report", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output
