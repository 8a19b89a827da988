"""`costline report --prometheus` as the user runs it (the installed CLI, a process), its JSON parsed."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

COSTLINE = Path(sys.executable).with_name("costline")


def report_from_prometheus(url: str, since_s: int, until_s: int, by: str = "workflow_id") -> dict[str, Any]:
    moments = [datetime.fromtimestamp(t, UTC).isoformat() for t in (since_s, until_s)]
    command = [str(COSTLINE), "report", "--prometheus", url, "--by", by, "--format", "json"]
    command += ["--since", moments[0], "--until", moments[1]]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report
