"""The demo's budget guardrail: one workflow reaches its monthly stop near the end and is downgraded.

The runner writes `budgets.yaml` with one budget, for `WORKFLOW` (on Claude Sonnet): monthly, stop at
100 %, `on_stop: downgrade` to Claude Haiku. Its limit is what the plan's calls of that workflow in the last
simulated month cost, up to the call `CALLS_AFTER_STOP` before its last (priced with costline's own
pricer), so the stop is crossed near the end whatever `--end` is. `costline serve` judges budgets by a
clock set to the last simulated day (`COSTLINE_BUDGETS_NOW`, a test/demo-only hook): the demo's spans are
stamped in the simulated past. The app reads the budgets from it every 0.1 s (`COSTLINE_BUDGETS_URL`), so
the calls after the crossing (minus the few in the export and read delay) go to Haiku, exactly as an app
under a real budget would.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Final

from costline import attributes as a
from costline._config import ENV_BUDGETS_REFRESH_S, ENV_BUDGETS_URL
from costline_processor.budgets.clock import ENV_BUDGETS_NOW
from costline_processor.demo.scenario import PlannedCall
from costline_processor.ledger import Ledger
from costline_processor.model import Cost, LlmCall, Usage
from costline_processor.pricing import Pricer

WORKFLOW: Final = "payroll_question_assistant"
DOWNGRADE_TO: Final = "claude-haiku-4-5"
CALLS_AFTER_STOP: Final = (
    40  # of WORKFLOW's calls in the last month: the stop is crossed this many before its end
)
BUDGETS_FILE: Final = "budgets.yaml"
REFRESH_S: Final = "0.1"
_NOON: Final = time(12, tzinfo=UTC)  # the serve's budget clock starts at noon of the last simulated day


def _cost(pricer: Pricer, call: PlannedCall) -> Decimal:
    usage = call.usage
    priced = pricer.price(
        LlmCall(
            trace_id=bytes(16), span_id=bytes(8), start_time_ns=int(call.at.timestamp() * 1e9), end_time_ns=0,
            source="costline", provider=call.provider, operation=a.OPERATION_CHAT, request_model=call.model,
            response_model=call.model, response_id=None,
            usage=Usage(usage.input_tokens, usage.output_tokens, usage.cache_read_tokens,
                        usage.cache_write_tokens, reasoning_tokens=usage.reasoning_tokens),
        )
    )  # fmt: skip
    assert isinstance(priced, Cost), priced  # the plan's models are all in the bundled price data
    return priced.total


def monthly_limit(calls: list[PlannedCall], end: date) -> Decimal:
    """The limit that WORKFLOW's spend in `end`'s month reaches `CALLS_AFTER_STOP` calls before its end."""
    month_start = datetime(end.year, end.month, 1, tzinfo=UTC)
    mine = [call for call in calls if call.workflow_id == WORKFLOW and call.at >= month_start]
    pricer = Pricer.load()
    spent = sum((_cost(pricer, call) for call in mine[: max(len(mine) - CALLS_AFTER_STOP, 1)]), Decimal(0))
    return spent.quantize(Decimal("0.0001"))


def write_budgets(workdir: Path, calls: list[PlannedCall], end: date) -> Path:
    path = workdir / BUDGETS_FILE
    limit = monthly_limit(calls, end)
    path.write_text(
        "# Written by costline demo: the payroll assistant goes to Haiku once its monthly stop is hit.\n"
        "budgets:\n"
        f"  - {{workflow_id: {WORKFLOW}, period: monthly, limit_usd: {limit}, stop_at: 100, "
        f"on_stop: downgrade, downgrade_to: {DOWNGRADE_TO}}}\n",
        encoding="utf-8",
    )
    return path


def serve_env(end: date) -> dict[str, str]:
    return {ENV_BUDGETS_NOW: datetime.combine(end, _NOON).isoformat()}


def app_env(metrics_port: int) -> dict[str, str]:
    return {ENV_BUDGETS_URL: f"http://127.0.0.1:{metrics_port}", ENV_BUDGETS_REFRESH_S: REFRESH_S}


def downgraded_calls(ledger: Path) -> int:
    """WORKFLOW's calls the guard sent to DOWNGRADE_TO (what the ledger priced)."""
    with Ledger(ledger, read_only=True) as store:
        row = store.conn.execute(
            "SELECT count(*) FROM calls WHERE workflow_id = ? AND request_model = ?", (WORKFLOW, DOWNGRADE_TO)
        ).fetchone()
    return int(row[0])


def note(ledger: Path) -> str:
    count = downgraded_calls(ledger)
    if not count:
        return f"{WORKFLOW} did not reach its monthly stop ({BUDGETS_FILE})"
    return (f"Budget guardrail: {WORKFLOW} reached its monthly stop ({BUDGETS_FILE}); the guard sent its "
            f"last {count:,} calls to {DOWNGRADE_TO} instead")  # fmt: skip
