"""Run `costline serve` as a real subprocess for end-to-end tests, and read what it exposes.

The service binds port 0 for every listener and logs the bound ports in its ready line, so tests never
race for free ports; a restarted process gets new ports and the same ledger.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from prometheus_client.parser import text_string_to_metric_families

from costline_processor.server import READY_PREFIX
from repo_copy import run_session

COSTLINE = Path(sys.executable).with_name("costline")
_READY = re.compile(re.escape(READY_PREFIX) + r" grpc=[^ ]+:(\d+) http=[^ ]+:(\d+) metrics=[^ ]+:(\d+)")

Sample = tuple[str, frozenset[tuple[str, str]]]


class ServeProcess:
    """`with ServeProcess(tmp_path, traces_endpoint=...) as serve: serve.grpc_port ...`"""

    def __init__(
        self,
        workdir: Path,
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        ledger_path: Path | None = None,
        ledger_url: str | None = None,
        instance_id: str = "e2e",
    ) -> None:
        """`ledger_url`: a shared ledger (postgresql://...) instead of the SQLite file `ledger_path`."""
        self.workdir = workdir
        self.ledger_path = ledger_path or workdir / "ledger.sqlite3"
        self.ledger_url = ledger_url
        self.instance_id = instance_id
        self.args = list(args)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTLINE_", "OTEL_"))}
        self.env.update(env or {})
        self.log_path = workdir / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.grpc_port = self.http_port = self.metrics_port = 0

    def command(self) -> list[str]:
        return [
            str(COSTLINE),
            "serve",
            "--grpc-port=0",
            "--http-port=0",
            "--metrics-port=0",
            f"--ledger-url={self.ledger_url}" if self.ledger_url else f"--ledger-path={self.ledger_path}",
            f"--service-instance-id={self.instance_id}",
            *self.args,
        ]

    def start(self, timeout_s: float = 30.0) -> ServeProcess:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.workdir
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            match = _READY.search(self.log_path.read_bytes()[offset:].decode(errors="replace"))
            if match:
                self.grpc_port, self.http_port, self.metrics_port = (int(g) for g in match.groups())
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"costline serve did not start:\n{self.log()}")

    def run_to_exit(self, timeout_s: float) -> tuple[subprocess.CompletedProcess[str], float]:
        """Run the command to its end (a refused start), stdout and stderr apart: (result, seconds)."""
        began = time.monotonic()
        result = run_session(self.command(), cwd=self.workdir, env=self.env, timeout=timeout_s)
        return result, time.monotonic() - began

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_traces_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/v1/traces"

    @property
    def url_base(self) -> str:
        """The admin (metrics) port's base URL: /metrics, /v1/budgets."""
        return f"http://127.0.0.1:{self.metrics_port}"

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, str]:
        """GET `path` on the admin (metrics) port: (status, body)."""
        url = f"http://127.0.0.1:{self.metrics_port}{path}"
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, headers=dict(headers or {})), timeout=10
            ) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def metrics(self) -> dict[Sample, float]:
        status, text = self.get("/metrics")
        assert status == 200, text
        return parse_prometheus(text)

    def rss_bytes(self) -> int:
        return int(self._proc_status("VmRSS:")) * 1024

    def thread_count(self) -> int:
        return int(self._proc_status("Threads:"))

    def _proc_status(self, key: str) -> str:
        """The first value of line `key` in the process's /proc status."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return next(line.split()[1] for line in status.splitlines() if line.startswith(key))


def parse_prometheus(text: str) -> dict[Sample, float]:
    """Samples of a Prometheus text exposition, read with the reference parser: (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: Mapping[Sample, float], name: str, **labels: str) -> float:
    """Sum of `name` over the series whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (sample, pairs), value in samples.items() if sample == name and wanted <= pairs)
