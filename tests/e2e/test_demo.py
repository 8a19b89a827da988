"""`costline demo` as a user runs it: real processes end to end, numbers checked against list prices by hand.

Expected spend is computed here from the scenario's planned usage and the providers' published per-million
token list prices (written below), never with costline's pricing code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from costline_processor.demo.scenario import plan
from repo_copy import copy_working_tree, required_tool, run_session, user_env

COSTLINE = Path(sys.executable).with_name("costline")
END = date(2026, 11, 22)
SEED = 7

# USD per million tokens: (input, cache read, cache write 5m, output). Published list prices (Anthropic and
# OpenAI pricing pages, November 2026); all demo requests are below Sonnet's 200k long-context threshold.
LIST_PRICES = {
    "claude-sonnet-4-6": ("3", "0.30", "3.75", "15"),
    "claude-haiku-4-5": ("1", "0.10", "1.25", "5"),
    "gpt-4o-mini": ("0.15", "0.075", "0", "0.60"),
    "o4-mini": ("1.10", "0.275", "0", "4.40"),
    "gpt-4.1": ("2", "0.50", "0", "8"),
    "text-embedding-3-small": ("0.02", "0", "0", "0"),
}


def _expected_spend() -> dict[str, Decimal]:
    spend: dict[str, Decimal] = defaultdict(Decimal)
    for call in plan(SEED, END):
        rate_in, rate_read, rate_write, rate_out = (Decimal(r) / 1_000_000 for r in LIST_PRICES[call.model])
        usage = call.usage
        uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
        spend[call.workflow_id or "unattributed"] += (
            uncached * rate_in
            + usage.cache_read_tokens * rate_read
            + usage.cache_write_tokens * rate_write
            + usage.output_tokens * rate_out
        )
    return spend


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    workdir = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [str(COSTLINE), "demo", "--dir", str(workdir), "--seed", str(SEED), "--end", END.isoformat()],
        capture_output=True,
        text=True,
        timeout=180,
        env=user_env(),
        check=False,
    )
    assert result.returncode == 0, (
        f"{result.stdout}\n{result.stderr}\n{(workdir / 'serve.log').read_text()[-3000:]}"
    )
    return workdir, result.stdout


def test_every_planned_call_is_priced_exactly(demo_run: tuple[Path, str]) -> None:
    workdir, stdout = demo_run
    report = subprocess.run(
        [
            str(COSTLINE),
            "report",
            "--ledger",
            str(workdir / "ledger.sqlite3"),
            "--since",
            "2026-10-01",
            "--until",
            "2026-12-01",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data = json.loads(report.stdout)
    expected = _expected_spend()
    got = {row["workflow_id"]: Decimal(row["cost_usd"]) for row in data["rows"]}
    assert got == expected
    assert data["total_requests"] == len(plan(SEED, END))
    assert data["unpriced_requests"] == 0
    assert f"{len(plan(SEED, END)):,} of {len(plan(SEED, END)):,} calls recorded" in stdout


def test_table_names_workflows_and_the_hidden_drivers(demo_run: tuple[Path, str]) -> None:
    _, stdout = demo_run
    for workflow, cost in _expected_spend().items():
        assert workflow in stdout
        assert (f"${cost:,.2f}" if cost >= 1 else f"${cost:,.4f}") in stdout
    assert "[spike] revenue_management_copilot" in stdout
    assert "[retry_loop] housekeeping_dispatcher" in stdout
    assert "property-17" in stdout
    assert "[power_user] payroll_question_assistant" in stdout
    for user in ("night-auditor-ana", "payroll-lead-raj", "gm-chen"):
        assert user in stdout
    assert "[bloated_prompt] procurement_assistant" in stdout
    assert "[unattributed]" in stdout


def test_html_report_renders_in_headless_chromium(demo_run: tuple[Path, str], tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (scripts/system-packages installs it)")
        pytest.skip("chromium is not installed; run scripts/system-packages")
    workdir, _ = demo_run
    screenshot = tmp_path / "report.png"
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
        "--window-size=1200,1800",
    ]  # fmt: skip
    url = (workdir / "report.html").as_uri()
    shot = subprocess.run(
        [chromium, *flags, f"--screenshot={screenshot}", url],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert screenshot.exists(), shot.stderr[-2000:]
    assert screenshot.stat().st_size > 20_000  # a blank page is a few kB
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=90, check=False
    )
    console_errors = [line for line in (shot.stderr + dom.stderr).splitlines() if "CONSOLE" in line]
    assert console_errors == []
    for chart in ("spend-by-group", "daily-spend"):
        assert f'id="{chart}"' in dom.stdout
    assert dom.stdout.count("<polyline") == len(_expected_spend())
    assert dom.stdout.count("<rect") >= len(_expected_spend())


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
    started = date.today()
    run = run_session([str(COSTLINE), "demo"], cwd=tmp_path, env=user_env(), timeout=180)
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
