"""Fixtures of the e2e tests: one `costline demo` run for every test module that reads it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from demo_expected import COSTLINE, DEMO_BUDGET_S, END, SEED

from repo_copy import user_env


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    workdir = tmp_path_factory.mktemp("demo")
    started = time.monotonic()
    result = subprocess.run(
        [str(COSTLINE), "demo", "--dir", str(workdir), "--seed", str(SEED), "--end", END.isoformat()],
        capture_output=True,
        text=True,
        timeout=180,
        env=user_env(),
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, (
        f"{result.stdout}\n{result.stderr}\n{(workdir / 'serve.log').read_text()[-3000:]}"
    )
    assert elapsed < DEMO_BUDGET_S, f"the demo took {elapsed:.0f}s"
    return workdir, result.stdout
