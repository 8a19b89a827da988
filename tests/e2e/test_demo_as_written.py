"""The README's demo commands exactly as written: `costline demo` with no arguments from another directory,
and `make demo` at the root of a fresh clone. Each must record every planned call of the default seed."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from demo_expected import COSTLINE, SEED

from costline_processor.demo.scenario import plan
from repo_copy import copy_working_tree, required_tool, run_session, user_env

# The table's total row: spend, share, requests.
TOTAL_ROW = re.compile(r"│ total\s+│\s+\$([\d,.]+)\s+│[^│]+│\s+([\d,]+)\s+│")
RECORDED = re.compile(r"([\d,]+) of ([\d,]+) calls recorded in (\S+)")


def _assert_every_call_recorded(run: subprocess.CompletedProcess[str], cwd: Path, started: date) -> None:
    """What the README promises for `make demo` / `costline demo` with no arguments, run in `cwd`."""
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    demo_dir = (cwd / "costline-demo").resolve()
    found = RECORDED.search(run.stdout)
    assert found, run.stdout
    recorded, planned = (int(group.replace(",", "")) for group in found.group(1, 2))
    # default seed, four weeks ending today (the run may straddle midnight)
    assert planned in {len(plan(SEED, day)) for day in (started, date.today())}
    assert recorded == planned
    assert Path(found.group(3)) == demo_dir / "ledger.sqlite3"
    with sqlite3.connect(demo_dir / "ledger.sqlite3") as ledger:
        assert ledger.execute("SELECT count(*) FROM calls").fetchone()[0] == planned
    total = TOTAL_ROW.search(run.stdout)
    assert total, run.stdout
    assert Decimal(total.group(1).replace(",", "")) > 0
    assert int(total.group(2).replace(",", "")) == planned
    assert (demo_dir / "report.html").stat().st_size > 0
    assert not (demo_dir / "costline-demo").exists()


@pytest.mark.timeout(240)
def test_costline_demo_without_arguments_in_another_directory(tmp_path: Path) -> None:
    """From any directory, in a shell whose proxy settings (here a proxy that is down) cover all HTTP."""
    dead_proxy = "http://127.0.0.1:9"  # the discard port: nothing listens there
    env = user_env(HTTP_PROXY=dead_proxy, HTTPS_PROXY=dead_proxy, http_proxy=dead_proxy, NO_PROXY="")
    started = date.today()
    run = run_session([str(COSTLINE), "demo"], cwd=tmp_path, env=env, timeout=180)
    _assert_every_call_recorded(run, tmp_path, started)


@pytest.mark.timeout(240)
def test_make_demo_in_a_fresh_clone(tmp_path: Path) -> None:
    """`make demo` as written, at the root of a clone whose .venv is this suite's venv."""
    make, git = required_tool("make"), required_tool("git")
    clone = copy_working_tree(tmp_path / "costline")
    env = user_env()
    subprocess.run([git, "init", "-q"], cwd=clone, check=True, timeout=60, env=env)
    subprocess.run([git, "add", "-A"], cwd=clone, check=True, timeout=60, env=env)
    (clone / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    # Reinstalling would point this venv's editable install at the clone: run only if make would not.
    plan_of_make = subprocess.run(
        [make, "-n", "demo"], cwd=clone, capture_output=True, text=True, timeout=60, env=env, check=True
    ).stdout
    if "pip install" in plan_of_make:
        message = f"{sys.prefix} is not the venv `make` installs for this pyproject.toml (run `make install`)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    started = date.today()
    run = run_session([make, "demo"], cwd=clone, env=env, timeout=180)
    _assert_every_call_recorded(run, clone, started)
    status = subprocess.run(
        [git, "status", "--porcelain", "--untracked-files=all"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    ).stdout.splitlines()
    assert [line for line in status if line.startswith("??") and line != "?? .venv"] == []
