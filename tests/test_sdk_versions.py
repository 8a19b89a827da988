"""The previous SDK majors (openai 2.x, anthropic 1.x), the oldest google-genai 3.x and boto3 1.40 run the
suite too; so does aiobotocore, in a venv of its own.

The main venv holds the current majors (openai 3.x, anthropic 2.x) and the newest google-genai 3.x and boto3.
This builds a second venv with the newest releases of the previous majors, google-genai 3.0.0 and boto3
1.40.0, and runs the SDK-facing instrumentation tests there, so the tested range in pyproject's `sdks`
extra is a measured fact.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS_MAJORS = ("openai>=2,<3", "anthropic>=1,<2", "google-genai==3.0.0", "boto3==1.40.0")
SUITE = (
    "tests/instrumentation/test_openai.py",
    "tests/instrumentation/test_anthropic.py",
    "tests/instrumentation/test_instrumentor_matrix.py",
    "tests/instrumentation/test_instrumentor.py",
    "tests/instrumentation/test_fault_injection.py",
    "tests/instrumentation/test_gemini.py",
    "tests/instrumentation/test_bedrock.py",
)
# aiobotocore pins botocore to a few releases behind boto3's newest, so it cannot share the main venv.
AIOBOTOCORE = ("aiobotocore==3.10.0", "openai>=3,<4", "anthropic>=2,<3", "google-genai>=3,<4")
AIOBOTOCORE_SUITE = ("tests/instrumentation/aiobotocore_cases.py",)
# CrewAI and llama-index-llms-openai pin openai<3: they run on the previous openai major, in one venv.
OPENAI_2_FRAMEWORKS = (
    "crewai>=1.15,<2", "llama-index-core>=0.14,<0.15", "llama-index-llms-openai",
    "llama-index-embeddings-openai", "openai>=2,<3", "anthropic>=2,<3", "google-genai>=3,<4", "hypothesis",
)  # fmt: skip
OPENAI_2_FRAMEWORKS_SUITE = (
    "tests/instrumentation/frameworks/crewai_cases.py",
    "tests/instrumentation/frameworks/llamaindex_cases.py",
)
# test_privacy.py is left out: it drives the httpx2 instrumentation, and these SDK majors still use httpx.


def _venv(tmp_path: Path, packages: tuple[str, ...]) -> Path:
    """A venv with costline and its processor (editable), `packages` and the test tools; its python."""
    venv = tmp_path / "venv"
    uv = Path(sys.executable).with_name("uv")
    subprocess.run([str(uv), "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # Bytecode compiled at install: google-genai 3.0.0's types.py has an invalid escape sequence, whose
    # compile-time warning the suite's warnings-as-errors would otherwise turn into an import error.
    install = [
        str(uv), "pip", "install", "-q", "--compile-bytecode", "--python", str(python),
        "-e", f"{ROOT}[processor]", *packages,
        "opentelemetry-sdk", "pytest", "pytest-asyncio", "pytest-timeout",
    ]  # fmt: skip
    subprocess.run(install, check=True, timeout=300)
    return python


def _run_suite(python: Path, suite: tuple[str, ...], sdks: str) -> None:
    result = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *suite],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"{sdks}:\n{result.stdout[-4000:]}"
    assert " passed" in result.stdout.splitlines()[-1]


@pytest.mark.e2e
def test_instrumentation_suite_passes_on_previous_sdk_majors(tmp_path: Path) -> None:
    python = _venv(tmp_path, PREVIOUS_MAJORS)
    versions = subprocess.run(
        [str(python), "-c", "import openai, anthropic, google.genai as g, boto3;"
         " print(openai.__version__, anthropic.__version__, g.__version__, boto3.__version__)"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.split()  # fmt: skip
    assert versions[0].startswith("2.")
    assert versions[1].startswith("1.")
    assert versions[2] == "3.0.0"
    assert versions[3] == "1.40.0"
    sdks = f"openai {versions[0]}, anthropic {versions[1]}, google-genai {versions[2]}, boto3 {versions[3]}"
    _run_suite(python, SUITE, sdks)


@pytest.mark.e2e
def test_aiobotocore_bedrock_calls_are_traced(tmp_path: Path) -> None:
    python = _venv(tmp_path, AIOBOTOCORE)
    versions = subprocess.run(
        [str(python), "-c",
         "import aiobotocore, botocore; print(aiobotocore.__version__, botocore.__version__)"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.split()  # fmt: skip
    assert versions[0] == "3.10.0"
    _run_suite(python, AIOBOTOCORE_SUITE, f"aiobotocore {versions[0]}, botocore {versions[1]}")


@pytest.mark.e2e
def test_crewai_and_llamaindex_on_the_previous_openai_major(tmp_path: Path) -> None:
    python = _venv(tmp_path, OPENAI_2_FRAMEWORKS)
    versions = subprocess.run(
        [str(python), "-c", "import crewai, llama_index.core as li, openai;"
         " print(crewai.__version__, li.__version__, openai.__version__)"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.split()  # fmt: skip
    assert versions[2].startswith("2.")
    frameworks = f"crewai {versions[0]}, llama-index-core {versions[1]}, openai {versions[2]}"
    _run_suite(python, OPENAI_2_FRAMEWORKS_SUITE, frameworks)
