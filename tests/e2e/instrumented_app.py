"""Run an app under `opentelemetry-instrument`, exporting OTLP/gRPC to `costline serve`, as a user does.

Only costline's instrumentor (and httpx's) is left on among the installed ones; an app that wants a peer
instrumentation on top turns it on itself, in its code.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

KEEP_ENABLED = frozenset({"costline", "httpx", "httpx2"})


def run_app(
    tmp_path: Path,
    source: str,
    grpc_target: str,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> None:
    """Write `source` to app.py, run it with `args` and wait; the app's exporter flushes at exit."""
    app = tmp_path / "app.py"
    app.write_text(source)
    bin_dir = Path(sys.executable).parent
    peers = {ep.name for ep in importlib.metadata.entry_points(group="opentelemetry_instrumentor")}
    full_env = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        "HOME": str(tmp_path),
        "OTEL_SERVICE_NAME": "support-bot",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{grpc_target}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": ",".join(sorted(peers - KEEP_ENABLED)),
        **(env or {}),
    }
    command = [str(bin_dir / "opentelemetry-instrument"), str(bin_dir / "python"), str(app), *args]
    result = subprocess.run(
        command, env=full_env, cwd=tmp_path, capture_output=True, text=True, timeout=90, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
