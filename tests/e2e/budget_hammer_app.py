"""An app the budget end-to-end tests run under `opentelemetry-instrument`: real openai client, fake provider.

    opentelemetry-instrument python budget_hammer_app.py '{"base_url": ..., "workflows": [...], ...}'

Each round calls the chat API once per workflow (in that workflow), then sleeps `pause_s`. It stops
`rounds_after_block` rounds after the first `BudgetExceeded` of `stop_workflow` (or after `max_rounds`,
`max_seconds`, or at the Unix time `until_epoch`). One JSON line per call on stdout: workflow, start and
end (time.time_ns, the clock the spans use), outcome (`ok`, `blocked`, or the exception's class) and the
model that answered. Only BudgetExceeded is expected: any other exception out of an LLM call is printed
as its outcome, and the test fails on it.

`shift_s` moves the OTel SDK's span clock (as the demo does): the calls' spans land in another period.
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any

import openai

import costline
from costline_processor.mock_provider import USAGE_HEADER


def _shift_span_clock(seconds: float) -> None:
    import opentelemetry.sdk.trace as sdk_trace

    offset = int(seconds * 1e9)
    sdk_trace.time_ns = lambda: time.time_ns() + offset  # type: ignore[attr-defined]


def _call(client: openai.OpenAI, workflow: str, config: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {"workflow": workflow, "start": time.time_ns()}
    try:
        with costline.workflow(workflow):
            reply = client.chat.completions.create(
                model=config.get("model", "gpt-4.1"),
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={USAGE_HEADER: json.dumps(config["usage"])},
            )
        record |= {"outcome": "ok", "model": reply.model}
    except costline.BudgetExceeded as exc:
        record |= {"outcome": "blocked", "message": str(exc)}
    except Exception as exc:  # reported, and the test fails on it
        record |= {"outcome": type(exc).__name__, "message": str(exc)}
    record["end"] = time.time_ns()
    return record


def main() -> None:
    config = json.loads(sys.argv[1])
    if config.get("shift_s"):
        _shift_span_clock(config["shift_s"])
    client = openai.OpenAI(base_url=config["base_url"], api_key="test", max_retries=0)
    stop_workflow, after_block = config.get("stop_workflow"), config.get("rounds_after_block", 0)
    deadline = time.monotonic() + config.get("max_seconds", 60)
    blocked_rounds = None
    for _ in range(config.get("max_rounds", 10_000)):
        for workflow in config["workflows"]:
            record = _call(client, workflow, config)
            print(json.dumps(record), flush=True)
            if record["outcome"] == "blocked" and workflow == stop_workflow and blocked_rounds is None:
                blocked_rounds = 0
        if blocked_rounds is not None:
            blocked_rounds += 1
            if blocked_rounds > after_block:
                break
        if time.monotonic() > deadline or time.time() > config.get("until_epoch", math.inf):
            break
        time.sleep(config.get("pause_s", 0.0))


if __name__ == "__main__":
    main()
