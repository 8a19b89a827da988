"""Pieces of the budget guard's end-to-end tests: run `budget_hammer_app.py` under `opentelemetry-instrument`
against a real `costline serve`, watch `/v1/budgets` while it runs, read the ledger afterwards.

List prices by hand (USD per million tokens, OpenAI's pricing page): gpt-4.1 input 2, output 8;
gpt-4o-mini input 0.15, output 0.60. Every call reports 1,000 input and 500 output tokens.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from instrumented_app import instrumented_command, instrumented_env
from serve_process import ServeProcess

from costline._config import ENV_BUDGETS_REFRESH_S, ENV_PROVIDER_OVERRIDES
from costline_processor.ledger import Ledger

APP = Path(__file__).with_name("budget_hammer_app.py")
USAGE = {"input_tokens": 1000, "output_tokens": 500}
M = Decimal(1_000_000)
CALL_COST = {
    "gpt-4.1": (1000 * Decimal(2) + 500 * Decimal(8)) / M,  # $0.006
    "gpt-4o-mini": (1000 * Decimal("0.15") + 500 * Decimal("0.60")) / M,  # $0.00045
}
BSP_DELAY_MS = 200  # OTEL_BSP_SCHEDULE_DELAY of the app: the export half of the overshoot
REFRESH_S = 0.5  # COSTLINE_BUDGETS_REFRESH_S of the app: the read half


@dataclass
class AppRun:
    records: list[dict[str, Any]]
    stderr: str
    returncode: int

    def of(self, workflow: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["workflow"] == workflow]

    def outcomes(self, workflow: str) -> list[str]:
        return [r["outcome"] for r in self.of(workflow)]


def app_env(tmp_path: Path, serve: ServeProcess, **extra: str) -> dict[str, str]:
    settings = {
        "OTEL_BSP_SCHEDULE_DELAY": str(BSP_DELAY_MS),
        ENV_PROVIDER_OVERRIDES: "127.0.0.1=openai",
        ENV_BUDGETS_REFRESH_S: str(REFRESH_S),
    }
    return instrumented_env(tmp_path, serve.grpc_target, service_name="budget-app", **{**settings, **extra})


def run_app(
    tmp_path: Path,
    config: dict[str, Any],
    env: dict[str, str],
    on_record: Callable[[dict[str, Any]], None] = lambda record: None,
    timeout_s: float = 120.0,
) -> AppRun:
    """Run the app to its end (it flushes its spans at exit); every record is passed to `on_record` live."""
    stderr_path = tmp_path / f"app-{time.monotonic_ns()}.err"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            instrumented_command(APP, [json.dumps({"usage": USAGE, **config})]),
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        records = []
        timer = threading.Timer(timeout_s, process.kill)
        timer.start()
        try:
            for line in process.stdout:
                record = json.loads(line)
                records.append(record)
                on_record(record)
            returncode = process.wait()
        finally:
            timer.cancel()
            process.stdout.close()
    return AppRun(records, stderr_path.read_text(), returncode)


@dataclass
class StopWatch:
    """Polls `GET /v1/budgets` every `interval_s`; `stopped_at[id]`: the first poll that saw it stopped."""

    serve: ServeProcess
    interval_s: float = 0.02
    stopped_at: dict[str, int] = field(default_factory=dict)

    def poll_once(self) -> None:
        status, body = self.serve.get("/v1/budgets")
        if status != 200:
            return
        now = time.time_ns()
        for entry in json.loads(body)["budgets"]:
            if entry["status"] == "stopped":
                self.stopped_at.setdefault(entry["id"], now)


@contextmanager
def watching(serve: ServeProcess) -> Iterator[StopWatch]:
    watch = StopWatch(serve)
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            try:
                watch.poll_once()
            except OSError:  # the serve is being stopped
                return
            done.wait(watch.interval_s)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield watch
    finally:
        done.set()
        thread.join(timeout=5)


@dataclass(frozen=True)
class LedgerCall:
    workflow_id: str
    start_ns: int
    end_ns: int
    model: str
    request_model: str
    cost: Decimal


def ledger_calls(
    serve: ServeProcess, workflow: str, expected: int, timeout_s: float = 20.0
) -> list[LedgerCall]:
    """The workflow's calls in the ledger, oldest first, once `expected` of them are there."""
    deadline = time.monotonic() + timeout_s
    while True:
        with Ledger(serve.ledger_path, read_only=True) as store:
            rows = store.conn.execute(
                "SELECT workflow_id, time_ns, end_time_ns, model, request_model, cost_total FROM calls "
                "WHERE workflow_id = ? ORDER BY time_ns",
                (workflow,),
            ).fetchall()
        if len(rows) >= expected or time.monotonic() > deadline:
            return [LedgerCall(r[0], r[1], r[2], r[3], r[4], Decimal(r[5])) for r in rows]
        time.sleep(0.1)


def budgets_file(path: Path, *lines: str) -> Path:
    path.write_text("budgets:\n" + "".join(f"  - {line}\n" for line in lines))
    return path
