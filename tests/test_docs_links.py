"""The repository documents itself: every relative link and every path a document names resolves inside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# [text](target) links; images too. Absolute URLs and pure anchors are not files.
MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
# Paths written as code that point outside the repository (e.g. the team's design card).
OUTSIDE_PATH = re.compile(r"`(?:\.\./|/work/|shared/)[^`]*`")


def _tracked_markdown() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / name for name in listed]


def _relative_targets(document: Path) -> list[str]:
    targets = []
    for target in MARKDOWN_LINK.findall(document.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        targets.append(target.split("#", 1)[0])
    return targets


@pytest.mark.parametrize("document", _tracked_markdown(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(document: Path) -> None:
    broken = []
    for target in _relative_targets(document):
        resolved = (document.parent / target).resolve()
        if not resolved.exists() or not resolved.is_relative_to(ROOT):
            broken.append(target)
    assert not broken, f"{document.relative_to(ROOT)} links to files not in the repository: {broken}"


@pytest.mark.parametrize("document", _tracked_markdown(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_document_points_outside_the_repository(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    assert "DESIGN.md" not in text
    assert not OUTSIDE_PATH.findall(text)


def test_architecture_document_covers_the_contract() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for section in ("## The names contract", "## Delivery", "## Scale-out"):
        assert section in text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/architecture.md)" in readme
