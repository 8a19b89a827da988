"""First-run setup on a bare or old machine: `scripts/system-packages` and `make`, run as a user runs them.

The machine is imitated on PATH only where the real one cannot be had in a test: `id` says root, `apt-get`
records what it was asked to install (and "installs" python3-venv by making ensurepip importable again),
and any command that stops a process or service records that it was called, so nothing is ever stopped.
Python is always a real interpreter; "Python 3.10" is a real 3.11+ whose sys.version_info says 3.10.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from repo_copy import ROOT, copy_working_tree, required_tool, run_session, user_env

SYSTEM_PACKAGES = ROOT / "scripts" / "system-packages"
# Anything that could stop a process or a service (a prometheus the Debian package started, a user's own).
STOPPERS = ("systemctl", "service", "invoke-rc.d", "pkill", "killall", "pgrep", "pidof", "start-stop-daemon")
TOOLS = ("bash", "dirname", "mktemp", "rm")  # what the script needs from a real PATH


def _script(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _python(bin_dir: Path, pythonpath: Path) -> None:
    """A real interpreter as `python3`, with `pythonpath` (an imitation of its stdlib) in front."""
    _script(bin_dir / "python3", f'PYTHONPATH="{pythonpath}" exec "{sys.executable}" "$@"')


def _bare_debian(tmp_path: Path) -> tuple[Path, Path]:
    """A PATH like a bare Debian's as root: no promtool, no chromium, and python3 without ensurepip."""
    bin_dir, stdlib = tmp_path / "bin", tmp_path / "stdlib"
    bin_dir.mkdir()
    stdlib.mkdir()
    missing_ensurepip = stdlib / "ensurepip.py"
    missing_ensurepip.write_text('raise ImportError("python3-venv is not installed")\n')
    _python(bin_dir, stdlib)
    _script(bin_dir / "id", "echo 0")
    calls = tmp_path / "calls.log"
    _script(
        bin_dir / "apt-get",
        f'echo "apt-get $*" >> "{calls}"\n'
        f'case " $* " in *" python3-venv "*) rm -f "{missing_ensurepip}";; esac',
    )
    for stopper in STOPPERS:
        _script(bin_dir / stopper, f'echo "{stopper} $*" >> "{calls}"')
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return bin_dir, calls


def _old_python(tmp_path: Path) -> Path:
    """A directory holding `python3` that reports itself as Python 3.10.12."""
    bin_dir, stdlib = tmp_path / "old-bin", tmp_path / "old-stdlib"
    bin_dir.mkdir()
    stdlib.mkdir()
    (stdlib / "sitecustomize.py").write_text(
        "import collections, sys\n"
        "Version = collections.namedtuple('Version', 'major minor micro releaselevel serial')\n"
        "sys.version_info = Version(3, 10, 12, 'final', 0)\n"
        "sys.version = '3.10.12 (main) [GCC 12.2.0]'\n"
    )
    _python(bin_dir, stdlib)
    return bin_dir


def test_system_packages_installs_what_a_bare_debian_lacks_and_stops_nothing(tmp_path: Path) -> None:
    bin_dir, calls = _bare_debian(tmp_path)
    run = run_session([str(SYSTEM_PACKAGES)], cwd=tmp_path, env=user_env(PATH=str(bin_dir)), timeout=120)
    assert run.returncode == 0, run.stderr
    assert "installing python3-venv prometheus chromium" in run.stdout
    called = calls.read_text().splitlines()
    assert called[-1].split()[:2] == ["apt-get", "install"]
    assert {"python3-venv", "prometheus", "chromium"} <= set(called[-1].split())
    assert [line for line in called if not line.startswith("apt-get ")] == []


def test_system_packages_says_python_is_too_old(tmp_path: Path) -> None:
    bin_dir, calls = _bare_debian(tmp_path)
    old = _old_python(tmp_path)
    run = run_session([str(SYSTEM_PACKAGES)], cwd=tmp_path, env=user_env(PATH=f"{old}:{bin_dir}"), timeout=60)
    assert run.returncode != 0
    assert "costline needs Python >= 3.11, and python3 is Python 3.10.12" in run.stderr
    assert not calls.exists()  # nothing installed for a Python that cannot run costline


def test_make_demo_says_python_is_too_old(tmp_path: Path) -> None:
    clone = copy_working_tree(tmp_path / "costline")
    old = _old_python(tmp_path)
    env = user_env(PATH=f"{old}:{user_env()['PATH']}")
    run = run_session([required_tool("make"), "demo"], cwd=clone, env=env, timeout=60)
    assert run.returncode != 0
    assert "costline needs Python >= 3.11, and python3 is Python 3.10.12" in run.stderr
    assert "make demo PY=python3.12" in run.stderr
    assert not (clone / ".venv").exists()


def test_make_demo_without_python3_venv_says_what_to_install(tmp_path: Path) -> None:
    """Debian's python3 without python3-venv makes .venv/bin/python, then fails for want of ensurepip."""
    clone = copy_working_tree(tmp_path / "costline")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _script(
        bin_dir / "python3",
        'if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin" && ln -s "'
        + sys.executable
        + '" "$3/bin/python"\n'
        '  echo "The virtual environment was not created successfully because ensurepip is not available."\n'
        "  exit 1\nfi\n"
        f'exec "{sys.executable}" "$@"',
    )
    env = user_env(PATH=f"{bin_dir}:{user_env()['PATH']}")
    run = run_session([required_tool("make"), "demo"], cwd=clone, env=env, timeout=60)
    assert run.returncode != 0
    assert "python3 -m venv failed: on Debian/Ubuntu install python3-venv" in run.stderr
    assert not (clone / ".venv").exists()  # so the next `make demo`, after the install, starts afresh
