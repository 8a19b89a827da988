"""The demo's budget guardrail: one workflow reaches its daily stop on the last day and is downgraded.

The runner writes `budgets.yaml` with one budget, for `WORKFLOW` (on Claude Sonnet): daily, stop at 100 %,
`on_stop: downgrade` to Claude Haiku. Its limit is what the plan's calls of that workflow on the last
simulated day cost, up to the call `CALLS_AFTER_STOP` before its last (priced with costline's own pricer),
so the stop is crossed late that day whatever `--end` is (a daily period, so a month's start does not
change the story). `costline serve` judges budgets by a
clock set to the last simulated day (`COSTLINE_BUDGETS_NOW`, a test/demo-only hook): the demo's spans are
stamped in the simulated past. The app's guard reads the budgets from it (`COSTLINE_BUDGETS_URL`) as an
app's would; and since the demo replays weeks in seconds, before each of WORKFLOW's calls of that day the
app exports its spans and has the guard read once, the wait that real time between two calls would have
given. So exactly the calls after the crossing go to Haiku (`downgraded_seqs`), every run.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Final

from costline import attributes as a
from costline._config import ENV_BUDGETS_REFRESH_S, ENV_BUDGETS_URL
from costline_processor.budgets.clock import ENV_BUDGETS_NOW
from costline_processor.demo.scenario import PlannedCall
from costline_processor.ledger import open_ledger
from costline_processor.model import Cost, LlmCall, Usage
from costline_processor.pricing import Pricer

WORKFLOW: Final = "payroll_question_assistant"
DOWNGRADE_TO: Final = "claude-haiku-4-5"
CALLS_AFTER_STOP: Final = (
    5  # of WORKFLOW's calls on the last day: the stop is crossed this many before its end
)
BUDGETS_FILE: Final = "budgets.yaml"
REFRESH_S: Final = "15"  # the default: the app's reads before each budgeted call are what counts
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


def _period_calls(calls: list[PlannedCall], end: date) -> list[PlannedCall]:
    """WORKFLOW's calls on `end`: its budget's period."""
    return [call for call in calls if in_budget_period(call, end)]


def in_budget_period(call: PlannedCall, end: date) -> bool:
    return call.workflow_id == WORKFLOW and call.at.date() == end


def daily_limit(calls: list[PlannedCall], end: date) -> Decimal:
    """The limit that WORKFLOW's spend on `end` reaches `CALLS_AFTER_STOP` calls before its last call."""
    mine = _period_calls(calls, end)
    pricer = Pricer.load()
    spent = sum((_cost(pricer, call) for call in mine[: max(len(mine) - CALLS_AFTER_STOP, 1)]), Decimal(0))
    return spent.quantize(Decimal("0.0001"), rounding=ROUND_DOWN)


def downgraded_seqs(calls: list[PlannedCall], end: date) -> frozenset[int]:
    """The planned calls the guard sends to DOWNGRADE_TO: WORKFLOW's last `CALLS_AFTER_STOP` of the day."""
    return frozenset(call.seq for call in _period_calls(calls, end)[-CALLS_AFTER_STOP:])


def write_budgets(workdir: Path, calls: list[PlannedCall], end: date) -> Path:
    path = workdir / BUDGETS_FILE
    limit = daily_limit(calls, end)
    path.write_text(
        "# Written by costline demo: the payroll assistant goes to Haiku once its daily stop is hit.\n"
        "budgets:\n"
        f"  - {{workflow_id: {WORKFLOW}, period: daily, limit_usd: {limit}, stop_at: 100, "
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
    with open_ledger(str(ledger), read_only=True) as store:
        return sum(
            1
            for row in store.iter_calls()
            if row["workflow_id"] == WORKFLOW and row["request_model"] == DOWNGRADE_TO
        )


def note(ledger: Path) -> str:
    count = downgraded_calls(ledger)
    if not count:
        return f"Budget guardrail: {WORKFLOW} did not reach its daily stop ({BUDGETS_FILE})"
    return (f"Budget guardrail: {WORKFLOW} reached its daily stop ({BUDGETS_FILE}); the guard sent its "
            f"last {count:,} calls of the day to {DOWNGRADE_TO} instead")  # fmt: skip
