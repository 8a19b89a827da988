"""The budgets file: workflow_id -> monthly USD, every problem reported at once with its line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from costline_processor.budgets import BudgetsConfigError, load_budgets, parse_budgets
from costline_processor.metrics import CostMetrics

VALID = [
    ("integers", "support: 1200\nsales: 300\n", {"support": Decimal(1200), "sales": Decimal(300)}),
    ("decimals stay exact", "support: 450.10\n", {"support": Decimal("450.10")}),
    ("quoted amount", 'support: "99.99"\n', {"support": Decimal("99.99")}),
    ("zero is a budget", "support: 0\n", {"support": Decimal(0)}),
    ("underscores in numbers", "support: 1_000_000\n", {"support": Decimal(1_000_000)}),
    ("namespaced workflow id", "team/app:v2: 10\n", {"team/app:v2": Decimal(10)}),
    ("empty file", "", {}),
    ("comments only", "# no budgets yet\n", {}),
]

INVALID = [
    (
        "a list",
        "- support\n- sales\n",
        ["line 1: expected a mapping: `budgets:` and a list of budgets, or the old form"],
    ),
    ("a scalar", "1200\n", ["line 1: expected a mapping"]),
    ("negative", "support: -5\n", ["line 1: support: the monthly budget must not be negative (got '-5')"]),
    (
        "boolean",
        "support: yes\n",
        ["line 1: support: the monthly budget must be a number of USD (got 'yes')"],
    ),
    (
        "missing amount",
        "support:\n",
        ["line 1: support: the monthly budget must be a number of USD (got '')"],
    ),
    ("text amount", "support: lots\n", ["must be a number of USD (got 'lots')"]),
    ("currency sign", "support: $100\n", ["must be a number of USD (got '$100')"]),
    ("not a number", "support: .nan\n", ["must be a finite number (got '.nan')"]),
    ("infinite", "support: .inf\n", ["must be a finite number (got '.inf')"]),
    ("nested", "support:\n  monthly: 5\n", ["must be a number of USD (got 'MappingNode')"]),
    ("bad workflow id", "customer support: 5\n", ["line 1: workflow_id may contain only"]),
    ("too long workflow id", f"{'w' * 129}: 5\n", ["workflow_id must be at most 128 characters"]),
    (
        "listed twice",
        "support: 5\nsales: 1\nsupport: 6\n",
        ["line 3: budget workflow_id=support;period=monthly is listed twice (first on line 1)"],
    ),
    ("not YAML", "support: [1, 2\n", ["budgets.yaml:2:1: invalid YAML: expected ',' or ']'"]),
]


@pytest.mark.parametrize(("case", "text", "expected"), VALID, ids=[case[0] for case in VALID])
def test_valid_budgets(case: str, text: str, expected: dict[str, Decimal], tmp_path: Path) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text(text)
    assert dict(load_budgets(path).monthly) == expected


@pytest.mark.parametrize(("case", "text", "problems"), INVALID, ids=[case[0] for case in INVALID])
def test_invalid_budgets(case: str, text: str, problems: list[str], tmp_path: Path) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text(text)
    with pytest.raises(BudgetsConfigError) as raised:
        load_budgets(path)
    assert len(raised.value.problems) == len(problems), raised.value.problems
    for problem, expected in zip(raised.value.problems, problems, strict=True):
        assert expected in problem
    assert str(path) in str(raised.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(BudgetsConfigError) as raised:
        parse_budgets("support: -1\nsales: ok\nfine: 3\nbad id: 4\n")
    assert [p.split(":")[0] for p in raised.value.problems] == ["line 1", "line 2", "line 4"]
    assert str(raised.value).count("\n  - ") == 3


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BudgetsConfigError, match="cannot read the file"):
        load_budgets(tmp_path / "nope.yaml")


def test_budgets_become_the_budget_gauge() -> None:
    metrics = CostMetrics(budgets=parse_budgets("support: 1200.50\nsales: 300\n"))
    text = metrics.render_prometheus().decode()
    assert 'llm_budget_usd{workflow_id="sales",period="monthly"} 300.0' in text
    assert 'llm_budget_usd{workflow_id="support",period="monthly"} 1200.5' in text
