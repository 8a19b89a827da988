"""What the demo must show, computed by hand: the scenario's planned usage at the providers' published list
prices (written here), never with costline's pricing code. Shared by the demo's e2e test modules."""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from costline_processor.demo import budget as demo_budget
from costline_processor.demo.scenario import PERIOD_DAYS, PlannedCall, plan

COSTLINE = Path(sys.executable).with_name("costline")
MONEY = re.compile(r"<?\$[\d,]+\.\d\d")  # an amount, to the cent
UNIT_COST = re.compile(r"<?\$[\d,]+\.\d{4}")  # a unit cost, to a hundredth of a cent
END = date(2026, 11, 22)
SEED = 7  # `costline demo`'s default seed, passed explicitly by the demo_run fixture too
FIRST = datetime(2026, 10, 26, tzinfo=UTC)  # the four weeks' first day
SECOND = FIRST + timedelta(days=PERIOD_DAYS)  # 2026-11-09: the second fortnight starts
DEMO_BUDGET_S = 60  # the demo finishes in under a minute on 2 cores

# USD per million tokens: (input, cache read, cache write 5m, output). Published list prices (Anthropic and
# OpenAI pricing pages, November 2026); all demo requests are below Sonnet's 200k long-context threshold.
LIST_PRICES = {
    "claude-sonnet-4-6": ("3", "0.30", "3.75", "15"),
    "claude-haiku-4-5": ("1", "0.10", "1.25", "5"),
    "gpt-4o-mini": ("0.15", "0.075", "0", "0.60"),
    "o4-mini": ("1.10", "0.275", "0", "4.40"),
    "gpt-4.1": ("2", "0.50", "0", "8"),
    "text-embedding-3-small": ("0.02", "0", "0", "0"),
    # Google's list price; thinking tokens are billed as output (they are inside the planned output count)
    "gemini-2.5-flash": ("0.30", "0.03", "0", "2.50"),
    # AWS's price for Claude Haiku 4.5 through a geographic (`us.`) inference profile: 10 % above `global.`
    "us.anthropic.claude-haiku-4-5-20251001-v1:0": ("1.10", "0.11", "1.375", "5.50"),
}
# The payroll assistant's last calls of the last day, which its daily budget's stop sends to Claude Haiku
DOWNGRADED = demo_budget.downgraded_seqs(plan(SEED, END), END)


def list_price(call: PlannedCall, model: str | None = None, *, uncached_less: int = 0) -> Decimal:
    """The planned usage at `model`'s list price (default: the one it was sent to), `uncached_less` uncached
    tokens fewer."""
    sent_to = demo_budget.DOWNGRADE_TO if call.seq in DOWNGRADED else call.model
    rate_in, rate_read, rate_write, rate_out = (Decimal(r) / 1_000_000 for r in LIST_PRICES[model or sent_to])
    usage = call.usage
    uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens - uncached_less
    return (
        uncached * rate_in
        + usage.cache_read_tokens * rate_read
        + usage.cache_write_tokens * rate_write
        + usage.output_tokens * rate_out
    )


def planned_calls(since: datetime | None = None, before: datetime | None = None) -> list[PlannedCall]:
    return [c for c in plan(SEED, END) if not ((since and c.at < since) or (before and c.at >= before))]


def expected_spend(*, since: datetime | None = None, before: datetime | None = None) -> dict[str, Decimal]:
    spend: dict[str, Decimal] = defaultdict(Decimal)
    for call in planned_calls(since, before):
        spend[call.workflow_id or "unattributed"] += list_price(call)
    return spend


def cent(value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
