"""The wheel maps instrumentation/costline and processor/costline_processor to their import names.

Editable installs hide mapping mistakes, so this builds the real wheel and installs it into a fresh venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("costline-*.whl")
    return built


def test_wheel_contains_only_namespaced_packages(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.startswith("costline-")}
    assert top_level == {"costline", "costline_processor"}
    assert "costline/py.typed" in names
    assert "costline_processor/py.typed" in names


def test_wheel_installs_and_imports_in_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    uv = Path(sys.executable).with_name("uv")
    subprocess.run([str(uv), "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            str(uv),
            "pip",
            "install",
            "-q",
            "--python",
            str(python),
            f"costline[processor,sdks] @ {wheel.as_uri()}",
        ],
        check=True,
        timeout=300,
    )
    probe = (
        "import importlib.metadata as md, json, costline, costline_processor, costline_processor.cli;"
        "eps = md.entry_points();"
        "load = lambda group: sorted(e.name for e in eps.select(group=group) if e.load());"
        "print(json.dumps({'instrumentors': load('opentelemetry_instrumentor'),"
        " 'samplers': load('opentelemetry_traces_sampler'),"
        " 'scripts': [e.name for e in eps.select(group='console_scripts', name='costline') if e.load()],"
        " 'file': costline.__file__}))"
    )
    result = subprocess.run(
        [str(python), "-c", probe], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["instrumentors"] == ["costline"]
    assert "costline_genai" in found["samplers"]  # the SDK registers its own samplers in the same group
    assert found["scripts"] == ["costline"]
    assert found["file"].startswith(str(venv))  # imported from the wheel, not from the source tree
    help_text = subprocess.run(
        [str(venv / "bin" / "costline"), "--help"], check=True, capture_output=True, text=True, timeout=60
    )
    assert "serve" in help_text.stdout
    assert "demo" in help_text.stdout


def test_demo_runs_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    """`pip install 'costline[processor,sdks]'` then `costline demo`, outside the source tree."""
    venv = tmp_path / "venv"
    uv = Path(sys.executable).with_name("uv")
    subprocess.run([str(uv), "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=120)
    install = [str(uv), "pip", "install", "-q", "--python", str(venv / "bin" / "python")]
    subprocess.run([*install, f"costline[processor,sdks] @ {wheel.as_uri()}"], check=True, timeout=300)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    result = subprocess.run(
        [str(venv / "bin" / "costline"), "demo", "--dir", str(tmp_path / "demo"), "--end", "2026-11-22"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "calls recorded" in result.stdout
    assert (tmp_path / "demo" / "report.html").exists()
