"""The wheel maps instrumentation/costline and processor/costline_processor to their import names.

Editable installs hide mapping mistakes, so this builds the real wheel and installs it into a fresh venv.
"""

from __future__ import annotations

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
        [str(uv), "pip", "install", "-q", "--python", str(python), f"costline[processor] @ {wheel.as_uri()}"],
        check=True,
        timeout=300,
    )
    probe = (
        "import importlib.metadata as md, costline, costline_processor, costline_processor.cli;"
        "eps = md.entry_points();"
        "inst = {e.name: e.load() for e in eps.select(group='opentelemetry_instrumentor')};"
        "smp = {e.name: e.load() for e in eps.select(group='opentelemetry_traces_sampler')};"
        "cli = {e.name: e.load() for e in eps.select(group='console_scripts') if e.name == 'costline'};"
        "print(sorted(inst), sorted(smp), sorted(cli), costline.__file__)"
    )
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "['costline'] ['costline_genai'] ['costline']" in result.stdout
    assert str(venv) in result.stdout  # imported from the wheel, not from the source tree
    help_text = subprocess.run(
        [str(venv / "bin" / "costline"), "--help"], check=True, capture_output=True, text=True, timeout=60
    )
    assert "serve" in help_text.stdout
