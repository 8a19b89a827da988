"""The repository as a fresh clone of it, for running `make` and the scripts exactly as the README says.

The copy holds the working tree's files as git sees them (tracked, or new and not ignored), so uncommitted
changes are tested too and nothing the tests write lands in the developer's checkout.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What a user's shell does not have: settings that would redirect costline, and the state of an outer make
# (the suite itself may run under `make test`).
_NOT_A_USERS = ("COSTLINE_", "OTEL_", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


def copy_working_tree(dest: Path) -> Path:
    """Copy the checkout's files (not .venv, caches or other ignored output) to `dest`; returns `dest`."""
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is still listed
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def user_env(**overrides: str) -> dict[str, str]:
    """This process's environment as a user's shell would have it, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_A_USERS)}
    env.update(overrides)
    return env


def required_tool(name: str) -> str:
    """The tool's path; a missing tool fails the test under CI=true and skips it elsewhere."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed")
        pytest.skip(f"{name} is not installed")
    return found


def run_session(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run `argv` in a session of its own; on timeout stop the whole session (make's pip, demo, serve...)."""
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # the session is the one made for `argv`: every process in it was started by this run
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise AssertionError(f"{argv} did not finish in {timeout:.0f}s:\n{stdout}\n{stderr}") from None
    return subprocess.CompletedProcess(list(argv), process.returncode, stdout, stderr)
