"""Run an app script under `opentelemetry-instrument` as a user does, exporting OTLP/gRPC to a receiver.

The environment is clean (PATH, HOME, OTEL_*, plus what the test adds), and every installed peer LLM
instrumentation is turned off, so costline (and the httpx HTTP instrumentation) is all that runs.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

KEEP_ENABLED = {"costline", "httpx", "httpx2"}


def instrumented_env(
    tmp_path: Path, grpc_target: str, *, service_name: str = "app", **extra_env: str
) -> dict[str, str]:
    """The clean environment of an app under `opentelemetry-instrument` exporting OTLP/gRPC there."""
    bin_dir = Path(sys.executable).parent
    peers = {ep.name for ep in importlib.metadata.entry_points(group="opentelemetry_instrumentor")}
    return {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        "HOME": str(tmp_path),
        "OTEL_SERVICE_NAME": service_name,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{grpc_target}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": ",".join(sorted(peers - KEEP_ENABLED)),
        **extra_env,
    }


def instrumented_command(app: Path, args: Sequence[str]) -> list[str]:
    bin_dir = Path(sys.executable).parent
    return [str(bin_dir / "opentelemetry-instrument"), str(bin_dir / "python"), str(app), *args]


def run_instrumented(
    tmp_path: Path,
    script: str,
    args: Sequence[str],
    grpc_target: str,
    *,
    service_name: str = "app",
    **extra_env: str,
) -> None:
    """`opentelemetry-instrument python app.py ARGS`; fails the test if the app fails."""
    app = tmp_path / "app.py"
    app.write_text(script)
    env = instrumented_env(tmp_path, grpc_target, service_name=service_name, **extra_env)
    result = subprocess.run(
        instrumented_command(app, args), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
