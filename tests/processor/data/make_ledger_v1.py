"""Write `ledger_v1.sql`: a ledger of schema version 1 made by the release before schema version 2.

It must run with that release's code (commit 14aee1e), e.g. from a checkout of it:

    git archive 14aee1e processor instrumentation | tar -x -C /tmp/v1
    PYTHONPATH=/tmp/v1/processor:/tmp/v1/instrumentation .venv/bin/python \\
        tests/processor/data/make_ledger_v1.py tests/processor/data/ledger_v1.sql

The ledger holds checkpointed calls, calls written after the last checkpoint (as after a `kill -9`), rows
purged into `purged_*` (the old retention purged a start time of 0 at once), unpriced calls, outcomes, and
start times of 0 and far in the future. test_ledger_migration.py checks what a new costline makes of it.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from costline_processor.ledger import Ledger
from costline_processor.ledger.schema import SCHEMA_VERSION
from costline_processor.model import Cost, LlmCall, Outcome, PricedCall, Unpriced, Usage

MINUTE = 60 * 1_000_000_000
CREATED_NS = 1_735_689_600 * 1_000_000_000  # 2025-01-01T00:00:00Z: the ledger's clock while it is written


def call(n: int, start_ns: int, *, workflow: str = "support", usage: Usage | None = None) -> LlmCall:
    return LlmCall(
        trace_id=(1000 + n).to_bytes(16, "big"),
        span_id=(n + 1).to_bytes(8, "big"),
        start_time_ns=start_ns,
        end_time_ns=start_ns + MINUTE // 60,
        source="costline",
        provider="openai",
        operation="chat",
        request_model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        response_id=f"chatcmpl-v1-{n}",
        usage=usage or Usage(input_tokens=1000 + n, output_tokens=100, cache_read_tokens=200),
        service_name="checkout",
        attribution={"workflow_id": workflow},
    )


def priced(c: LlmCall) -> PricedCall:
    assert c.usage is not None
    million = Decimal(1_000_000)
    cost = Cost(
        input=c.usage.uncached_input_tokens * Decimal("2.50") / million,
        cache_read=c.usage.cache_read_tokens * Decimal("1.25") / million,
        cache_write=Decimal(0),
        output=c.usage.output_tokens * Decimal(10) / million,
        source="v1-fixture",
    )
    return PricedCall(c, cost)


def main(out: Path) -> None:
    assert SCHEMA_VERSION == 1, "run this with the release that writes schema version 1"
    time.time_ns = lambda: CREATED_NS  # a fixed clock: created_ns and first_record_ns are CREATED_NS
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ledger.sqlite3"
        ledger = Ledger(path)
        now = CREATED_NS
        first = [priced(call(n, now + n * MINUTE, workflow=f"wf{n % 2}")) for n in range(5)]
        zero = priced(call(5, 0))  # the old retention purges it at once: its totals go to purged_*
        no_usage = PricedCall(replace(call(6, now + 6 * MINUTE), usage=None), Unpriced("no_usage", "none"))
        ledger.record([*first, zero, no_usage], [Outcome(b"o" * 16, b"1" * 8, now, "support", "won", 2)])
        ledger.checkpoint()
        assert ledger.purge_older_than(1).calls == 1
        future = priced(call(7, 2**62))
        zero_kept = priced(call(8, 0))
        later = [priced(call(n, now + n * MINUTE)) for n in range(9, 12)]
        ledger.record([future, zero_kept, *later], [Outcome(b"o" * 16, b"2" * 8, 0, "support", "won", 1)])
        # no close(): the last request is not checkpointed, as after a kill -9
        with sqlite3.connect(path) as reader:
            dump = "\n".join(reader.iterdump())
        out.write_text(f"{dump}\nPRAGMA user_version={SCHEMA_VERSION};\n", encoding="utf-8")
        print(ledger.totals(), file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
