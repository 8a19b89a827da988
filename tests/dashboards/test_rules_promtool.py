"""The ruler's rule file passes `promtool check rules`, and `promtool test rules` shows every alert firing
and not firing (fixtures: dashboards/rules/costline.rules.test.yaml)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from prom_server import require

from dashboards import alerting

RULES_DIR = Path(__file__).resolve().parents[2] / "dashboards" / "rules"
RULES = RULES_DIR / "costline.rules.yaml"
FIXTURES = RULES_DIR / "costline.rules.test.yaml"

pytestmark = pytest.mark.prometheus


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require("promtool"), *args], capture_output=True, text=True, timeout=90, cwd=RULES_DIR, check=False
    )


def test_promtool_check_rules() -> None:
    result = _promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        f"SUCCESS: {len(alerting.recording_rules()) + len(alerting.alert_rules())} rules found"
        in result.stdout
    )


def test_promtool_test_rules() -> None:
    result = _promtool("test", "rules", FIXTURES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    fixtures = yaml.safe_load(FIXTURES.read_text(encoding="utf-8"))
    firing: set[str] = set()
    quiet: set[str] = set()
    for group in fixtures["tests"]:
        for case in group.get("alert_rule_test", []):
            (firing if case["exp_alerts"] else quiet).add(case["alertname"])
    names = {rule["alert"] for rule in alerting.alert_rules()}
    assert firing == names
    assert quiet == names


def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    """The fixtures can fail: the budget group with one expected sample changed does."""
    (tmp_path / RULES.name).write_text(RULES.read_text(encoding="utf-8"), encoding="utf-8")
    fixtures = yaml.safe_load(FIXTURES.read_text(encoding="utf-8"))
    fixtures["tests"] = fixtures["tests"][:1]
    fixtures["tests"][0]["promql_expr_test"][0]["exp_samples"][1]["value"] = 0.7
    (tmp_path / FIXTURES.name).write_text(yaml.safe_dump(fixtures), encoding="utf-8")
    result = subprocess.run(
        [require("promtool"), "test", "rules", FIXTURES.name],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode != 0
