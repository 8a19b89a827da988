"""A real Prometheus (Debian's 2.42) on 127.0.0.1 for one test module: own config, temp storage, free port.

Missing binaries skip the tests on a developer machine and fail them under CI=true (scripts/system-packages
installs them there).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

READY_TIMEOUT_S = 30.0


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        message = f"{binary} not installed (run scripts/system-packages)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def backfill(openmetrics_text: str, data_dir: Path) -> None:
    """`promtool tsdb create-blocks-from openmetrics` into `data_dir` (a few large blocks, not 2h ones)."""
    source = data_dir.parent / "history.om"
    source.write_text(openmetrics_text, encoding="utf-8")
    subprocess.run(
        [
            require("promtool"),
            *("tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=1000h"),
            str(source),
            str(data_dir),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


@dataclass
class Prometheus:
    url: str

    def _get(self, path: str, params: list[tuple[str, str]]) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=30) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        data = self._get("/api/v1/query", [("query", expr), ("time", str(at))])
        assert data["resultType"] == "vector", data
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, expr: str, start: float, end: float, step: int) -> list[dict[str, Any]]:
        params = [("query", expr), ("start", str(start)), ("end", str(end)), ("step", str(step))]
        result: list[dict[str, Any]] = self._get("/api/v1/query_range", params)["result"]
        return result

    def label_values(self, label: str, match: str, start: float, end: float) -> list[str]:
        params = [("match[]", match), ("start", str(start)), ("end", str(end))]
        values: list[str] = self._get(f"/api/v1/label/{label}/values", params)
        return values

    def exemplars(self, expr: str, start: float, end: float) -> list[dict[str, Any]]:
        params = [("query", expr), ("start", str(start)), ("end", str(end))]
        result: list[dict[str, Any]] = self._get("/api/v1/query_exemplars", params)
        return result

    def targets_up(self) -> bool:
        active = self._get("/api/v1/targets", [])["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)


def write_config(path: Path, scrape_targets: list[str], scrape_interval_ms: int = 1000) -> None:
    jobs = []
    if scrape_targets:
        jobs.append({"job_name": "costline", "static_configs": [{"targets": scrape_targets}]})
    config = {
        "global": {"scrape_interval": f"{scrape_interval_ms}ms", "scrape_timeout": f"{scrape_interval_ms}ms"},
        "scrape_configs": jobs,
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")


@contextmanager
def running(config: Path, data_dir: Path) -> Iterator[Prometheus]:
    """Start prometheus, wait until /-/ready, stop it (SIGTERM, then SIGKILL) on exit."""
    port = free_port()
    command = [
        require("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=3650d",
        "--enable-feature=exemplar-storage",
        "--log.level=warn",
    ]
    log = (data_dir.parent / "prometheus.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        server = Prometheus(f"http://127.0.0.1:{port}")
        _wait_ready(server.url, process, data_dir.parent / "prometheus.log")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"prometheus not ready after {READY_TIMEOUT_S}s: {log.read_text(errors='replace')[-2000:]}"
    )
