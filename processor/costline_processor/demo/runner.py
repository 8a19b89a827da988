"""`costline demo` end to end: mock provider + `costline serve` + the instrumented app, then the report.

Everything is real and local: the app is a separate process under `opentelemetry-instrument` using the real
openai/anthropic SDKs against the bundled mock provider; its spans travel over OTLP/HTTP to a real
`costline serve` process that prices them into its SQLite ledger; the report is read back from that ledger.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Final

from costline_processor.demo import app, budget
from costline_processor.demo.diagnosis import RunFacts, explain_shortfall, recorded_calls, scrape_counters
from costline_processor.demo.scenario import DAYS, plan
from costline_processor.mock_provider import MockProvider
from costline_processor.server import READY_PREFIX

# The service's ready line names the ports it bound (the demo asks for port 0 everywhere).
READY = re.compile(re.escape(READY_PREFIX) + r" grpc=\S+ http=[^ ]+:(\d+) metrics=[^ ]+:(\d+)")
# One mock server; the OpenAI client reaches it by another name, so costline tells the providers apart by host
# (COSTLINE_PROVIDER_OVERRIDES maps that name to `openai`; the Anthropic client class is `anthropic` anyway).
MOCK_HOST: Final = "127.0.0.1"
OPENAI_HOST: Final = "localhost"
LOCAL_HOSTS: Final = (MOCK_HOST, OPENAI_HOST)
SERVICE_NAME: Final = "hotel-group-ai"
LEDGER_FILE: Final = "ledger.sqlite3"
SERVE_LOG: Final = "serve.log"
APP_LOG: Final = "app.log"
START_TIMEOUT_S: Final = 30.0
DRAIN_TIMEOUT_S: Final = 30.0


class DemoError(RuntimeError):
    """A demo component failed; the message includes its log."""


@dataclass(frozen=True, slots=True)
class DemoResult:
    workdir: Path  # absolute
    ledger_path: Path  # absolute
    calls_planned: int
    calls_recorded: int
    since: datetime
    until: datetime
    shortfall: str | None  # why calls_recorded < calls_planned, from what each part saw; None if all arrived
    budget_note: str = ""  # what the demo's budget guardrail did (demo/budget.py)


def _peer_instrumentors() -> str:
    """Other installed GenAI instrumentors are turned off so the demo shows costline alone."""
    from importlib.metadata import entry_points  # noqa: PLC0415

    names = {ep.name for ep in entry_points(group="opentelemetry_instrumentor")}
    return ",".join(sorted(names - {"costline", "httpx", "requests", "urllib", "urllib3"}))


def _inherited_env() -> dict[str, str]:
    """This process's environment without COSTLINE_/OTEL_ settings, which would redirect the demo's parts.

    A corporate HTTP(S)_PROXY stays set for anything else, but the demo's own traffic is all on this
    machine: the SDKs (httpx) and the OTLP exporter (requests) would otherwise send it to the proxy.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTLINE_", "OTEL_"))}
    for name in ("NO_PROXY", "no_proxy"):
        kept = [host for host in env.get(name, "").split(",") if host.strip()]
        env[name] = ",".join([*kept, *LOCAL_HOSTS])
    return env


@contextmanager
def _serve(workdir: Path, ledger: Path, budgets: Path, end: date) -> Iterator[tuple[int, int]]:
    log_path = workdir / SERVE_LOG
    command = [
        sys.executable, "-c", "from costline_processor.cli import main; main()", "serve",
        "--grpc-port=0", "--http-port=0", "--metrics-port=0", f"--ledger-url={ledger}", "--log-level=info",
        f"--budgets={budgets}",
    ]  # fmt: skip
    env = _inherited_env() | budget.serve_env(end)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield _wait_ready(process, log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen[bytes], log_path: Path) -> tuple[int, int]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        match = READY.search(log_path.read_text(errors="replace"))
        if match:
            return int(match.group(1)), int(match.group(2))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise DemoError(f"costline serve did not start:\n{log_path.read_text(errors='replace')}")


def _missing(module: str) -> bool:
    from importlib.util import find_spec  # noqa: PLC0415

    try:
        return find_spec(module) is None
    except ModuleNotFoundError:  # a dotted name whose parent package is missing
        return True


def _check_installed() -> None:
    sdks = ("openai", "anthropic", "google.genai", "boto3", "opentelemetry.distro")
    missing = [name for name in sdks if _missing(name)]
    if missing:
        raise DemoError(f"the demo needs {', '.join(missing)}: pip install 'costline[processor,sdks]'")


def _instrument_command() -> list[str]:
    script = Path(sys.executable).with_name("opentelemetry-instrument")
    found = str(script) if script.exists() else shutil.which("opentelemetry-instrument")
    if found is None:
        raise DemoError("opentelemetry-instrument is not installed (pip install 'costline[processor,sdks]')")
    return [found, sys.executable, "-m", app.__name__]


def _app_env(http_port: int, anthropic_url: str, openai_url: str, seed: int, end: date) -> dict[str, str]:
    env = _inherited_env()
    env.update({
        "OTEL_SERVICE_NAME": SERVICE_NAME,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{http_port}/v1/traces",
        # Never drop a span: a queue larger than the whole run, exported in small, frequent batches.
        "OTEL_BSP_MAX_QUEUE_SIZE": "100000",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": _peer_instrumentors(),
        "COSTLINE_PROVIDER_OVERRIDES": f"{OPENAI_HOST}=openai",
        app.ENV_SEED: str(seed),
        app.ENV_END: end.isoformat(),
        app.ENV_ANTHROPIC_URL: anthropic_url,
        app.ENV_OPENAI_URL: openai_url,
    })  # fmt: skip
    return env


def _run_app(
    command: list[str], env: dict[str, str], on_progress: Callable[[int, int], None], log: IO[str]
) -> int:
    """Run the app to its end; returns how many calls it reported making."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    assert process.stdout is not None
    done = 0
    for line in process.stdout:
        if line.startswith(app.PROGRESS_PREFIX):
            done, total = (int(part) for part in line[len(app.PROGRESS_PREFIX) :].split())
            on_progress(done, total)
    if process.wait() != 0:
        raise DemoError(f"the demo app failed (exit {process.returncode}); see {log.name}")
    return done


def _wait_recorded(ledger: Path, planned: int) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while recorded_calls(ledger) < planned and time.monotonic() < deadline:
        time.sleep(0.2)


def run_demo(
    workdir: Path, *, seed: int, end: date, on_progress: Callable[[int, int], None] = lambda done, total: None
) -> DemoResult:
    """Run the whole demo in `workdir` (a fresh ledger each time) and return where its results are."""
    _check_installed()  # before any process starts, so a missing package is one clear error
    command = _instrument_command()
    # Absolute, so every process (and every message) means the same file whatever its working directory.
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    ledger = workdir / LEDGER_FILE
    for stale in workdir.glob(f"{LEDGER_FILE}*"):
        stale.unlink()
    calls = plan(seed, end)
    planned = len(calls)
    budgets = budget.write_budgets(workdir, calls, end)
    app_log_path = workdir / APP_LOG
    with (
        MockProvider(host=MOCK_HOST) as mock,
        _serve(workdir, ledger, budgets, end) as (http_port, metrics_port),
        app_log_path.open("w") as app_log,
    ):
        openai_url = mock.url.replace(MOCK_HOST, OPENAI_HOST, 1)
        env = _app_env(http_port, mock.url, openai_url, seed, end) | budget.app_env(metrics_port)
        made = _run_app(command, env, on_progress, app_log)
        _wait_recorded(ledger, planned)
        # serve's counters are read before it stops; they are only needed to explain missing calls
        counters = scrape_counters(metrics_port) if recorded_calls(ledger) < planned else None
    recorded = recorded_calls(ledger)
    facts = RunFacts(ledger, planned, made, app_log_path, workdir / SERVE_LOG, counters)
    shortfall = explain_shortfall(facts) if recorded < planned else None
    since = datetime.combine(end - timedelta(days=DAYS - 1), datetime.min.time(), tzinfo=UTC)
    until = since + timedelta(days=DAYS)
    return DemoResult(workdir, ledger, planned, recorded, since, until, shortfall, budget.note(ledger))
