"""`bench/bench_processor.py` still runs as documented and still checks what it claims: every acknowledged
call counted exactly once by `costline serve`, on either ledger, after `--ledger-rows` filled it.

Its speed is not tested here (benchmarks measure speed; a timed test would only measure the CI machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_processor.py"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.timeout(300)
def test_the_benchmark_counts_every_acknowledged_call_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    out = tmp_path / "processor.json"
    command = [
        sys.executable, str(BENCH), "--seconds=1", "--batch=64", "--in-process-batches=8",
        "--ledger-rows=500", f"--out={out}",
    ]  # fmt: skip
    if backend == "postgresql":
        command.append(f"--ledger-url={request.getfixturevalue('pg_database')}")
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(out.read_text())
    assert report["calls_acked"] > 0
    assert report["counted_exactly"] is True
    assert report["calls_counted_by_service"] == report["calls_acked"]
    assert report["ledger_rows_before"] == 500
    assert report["target_spans_per_cpu_s"] == {"sqlite": 50_000, "postgresql": 20_000}[backend]
    assert report["meets_target"] == (report["llm_spans_per_cpu_s"] >= report["target_spans_per_cpu_s"])
