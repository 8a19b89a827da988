"""The budgets file: workflow_id -> monthly USD, every problem reported at once with its line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from costline_processor.budgets import BudgetsConfigError, load_budgets, model_check, parse_budgets
from costline_processor.metrics import CostMetrics
from costline_processor.pricing import Pricer

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


# --- the list form: scoped, daily or monthly, alerts and a stop --------------------------------------------
LIST_FORM = """\
budgets:
  - {workflow_id: customer_support, period: monthly, limit_usd: 1200, stop_at: 120, on_stop: block}
  - {workflow_id: marketing_copy, period: daily, limit_usd: 40.5, stop_at: 100, on_stop: downgrade,
     downgrade_to: claude-haiku-4-5}
  - tenant_id: acme
    period: monthly
    limit_usd: "300"
  - {workflow_id: support, tenant_id: acme, feature_id: triage, period: daily, limit_usd: 10,
     alert_at: [90, 50]}
  - {workflow_id: budgets, period: daily, limit_usd: 0, alert_at: []}
"""


def test_the_list_form() -> None:
    budgets = parse_budgets(LIST_FORM).items
    fields = [(b.id, b.limit_usd, b.alert_at, b.stop_at, b.on_stop, b.downgrade_to, b.line) for b in budgets]
    assert fields == [
        ("workflow_id=customer_support;period=monthly", Decimal(1200), (50, 80, 100), 120, "block", None, 2),
        ("workflow_id=marketing_copy;period=daily", Decimal("40.5"), (50, 80, 100), 100, "downgrade",
         "claude-haiku-4-5", 3),
        ("tenant_id=acme;period=monthly", Decimal(300), (50, 80, 100), None, None, None, 5),
        ("workflow_id=support;feature_id=triage;tenant_id=acme;period=daily", Decimal(10), (50, 90), None,
         None, None, 8),
        ("workflow_id=budgets;period=daily", Decimal(0), (), None, None, None, 10),
    ]  # fmt: skip
    assert budgets[0].stop_usd == Decimal(1440)
    assert budgets[1].stop_usd == Decimal("40.5")
    # what `costline report --budgets` reads: the monthly budgets of one workflow
    assert dict(parse_budgets(LIST_FORM).monthly) == {"customer_support": Decimal(1200)}


def test_a_workflow_named_budgets_in_the_old_form() -> None:
    assert dict(parse_budgets("budgets: 100\n").monthly) == {"budgets": Decimal(100)}


LIST_INVALID = [
    ("not a list item mapping", "budgets:\n  - support\n", ["line 2: a budget must be a mapping"]),
    ("no scope", "budgets:\n  - {period: daily, limit_usd: 1}\n", ["line 2: a budget needs a scope"]),
    ("no period", "budgets:\n  - {workflow_id: a, limit_usd: 1}\n", ["line 2: period is missing"]),
    ("bad period", "budgets:\n  - {workflow_id: a, period: weekly, limit_usd: 1}\n",
     ["line 2: period must be daily or monthly (got 'weekly')"]),
    ("no limit", "budgets:\n  - {workflow_id: a, period: daily}\n", ["line 2: limit_usd is missing"]),
    ("negative limit", "budgets:\n  - {workflow_id: a, period: daily, limit_usd: -1}\n",
     ["line 2: limit_usd must not be negative (got '-1')"]),
    ("text limit", "budgets:\n  - {workflow_id: a, period: daily, limit_usd: lots}\n",
     ["limit_usd must be a number of USD (got 'lots')"]),
    ("unknown key", "budgets:\n  - {workflow_id: a, period: daily, limit_usd: 1, stop: 100}\n",
     ["line 2: unknown key 'stop' (did you mean 'stop_at'? allowed: workflow_id, feature_id, tenant_id,"]),
    ("key twice", "budgets:\n  - workflow_id: a\n    period: daily\n    limit_usd: 1\n    limit_usd: 2\n",
     ["line 5: limit_usd is given twice in one budget"]),
    ("numeric tenant", "budgets:\n  - {tenant_id: 42, period: daily, limit_usd: 1}\n",
     ["line 2: tenant_id must be a plain string (got '42'; quote a number"]),
    ("bad scope value", "budgets:\n  - {workflow_id: a b, period: daily, limit_usd: 1}\n",
     ["line 2: workflow_id may contain only"]),
    ("stop without on_stop", "budgets:\n  - {workflow_id: a, period: daily, limit_usd: 1, stop_at: 120}\n",
     ["line 2: stop_at needs on_stop: block or downgrade"]),
    ("on_stop without stop", "budgets:\n  - {workflow_id: a, period: daily, limit_usd: 1, on_stop: block}\n",
     ["line 2: on_stop needs stop_at"]),
    ("bad on_stop", "budgets:\n  - {workflow_id: a, period: daily, limit_usd: 1, stop_at: 1, on_stop: x}\n",
     ["line 2: on_stop must be block or downgrade (got 'x')"]),
    ("downgrade without model",
     "budgets:\n  - {workflow_id: a, period: daily, limit_usd: 1, stop_at: 100, on_stop: downgrade}\n",
     ["line 2: on_stop: downgrade needs downgrade_to: MODEL"]),
    ("model without downgrade",
     "budgets:\n  - {workflow_id: a, period: daily, limit_usd: 1, stop_at: 100, on_stop: block,"
     " downgrade_to: m}\n", ["line 2: downgrade_to is only for on_stop: downgrade"]),
    ("zero stop", "budgets:\n  - {workflow_id: a, period: daily, limit_usd: 1, stop_at: 0, on_stop: block}\n",
     ["line 2: stop_at must be above 0 (got '0')"]),
    ("fractional percent", "budgets:\n  - {workflow_id: a, period: daily, limit_usd: 1, alert_at: [50.5]}\n",
     ["line 2: alert_at must be a whole percentage such as 80 (got '50.5')"]),
    ("alert not a list", "budgets:\n  - {workflow_id: a, period: daily, limit_usd: 1, alert_at: 50}\n",
     ["line 2: alert_at must be a list of percentages"]),
    ("alert twice", "budgets:\n  - {workflow_id: a, period: daily, limit_usd: 1, alert_at: [50, 50]}\n",
     ["line 2: alert_at lists a percentage twice"]),
    ("duplicate budget",
     "budgets:\n  - {workflow_id: a, period: daily, limit_usd: 1}\n  - {workflow_id: a, period: monthly,"
     " limit_usd: 1}\n  - {period: daily, workflow_id: a, limit_usd: 2}\n",
     ["line 4: budget workflow_id=a;period=daily is listed twice (first on line 2)"]),
    ("key next to budgets", "budgets: []\nsupport: 5\n",
     ["line 2: unknown key 'support' next to `budgets:`"]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "text", "problems"), LIST_INVALID, ids=[case[0] for case in LIST_INVALID])
def test_invalid_list_form(case: str, text: str, problems: list[str]) -> None:
    with pytest.raises(BudgetsConfigError) as raised:
        parse_budgets(text)
    assert len(raised.value.problems) == len(problems), raised.value.problems
    for problem, expected in zip(raised.value.problems, problems, strict=True):
        assert expected in problem


def test_every_problem_of_the_list_form_at_once_in_line_order() -> None:
    text = (
        "budgets:\n"
        "  - {workflow_id: a, period: weekly, limit_usd: -1}\n"
        "  - workflow_id: b\n"
        "    period: daily\n"
        "    limit_usd: 5\n"
        "    stop_at: 120\n"
        "    colour: red\n"
    )
    with pytest.raises(BudgetsConfigError) as raised:
        parse_budgets(text)
    assert [p.split(":")[0] for p in raised.value.problems] == ["line 2", "line 2", "line 3", "line 7"]


def test_an_unknown_downgrade_model_is_named_with_close_known_ids() -> None:
    text = (
        "budgets:\n  - {workflow_id: a, period: daily, limit_usd: 1, stop_at: 100, on_stop: downgrade,"
        " downgrade_to: gpt4o-mini}\n"
        "  - {workflow_id: b, period: daily, limit_usd: 1, stop_at: 100, on_stop: downgrade,"
        " downgrade_to: claude-haiku-4-5}\n"
        "  - {workflow_id: c, period: weekly, limit_usd: 1, stop_at: 100, on_stop: downgrade,\n"
        "     downgrade_to: no-such-model-anywhere}\n"
    )
    with pytest.raises(BudgetsConfigError) as raised:
        parse_budgets(text, check_model=model_check(Pricer.load()))
    first, period, unknown = raised.value.problems  # the model of an invalid budget is checked too
    assert first.startswith("line 2: downgrade_to 'gpt4o-mini' is not a model costline can price")
    assert "close known ids: gpt-4o-mini" in first
    assert period.startswith("line 4: period must be daily or monthly")
    assert unknown.startswith("line 5: downgrade_to 'no-such-model-anywhere' is not a model costline can")
    assert "close known ids" not in unknown


def test_a_downgrade_model_of_the_price_overrides_is_known(tmp_path: Path) -> None:
    overrides = tmp_path / "prices.yaml"
    overrides.write_text(
        "version: 1\nmodels:\n  - {id: vllm, provider: openai_compatible, model: acme-llm-8b*,"
        " rates: {input: 0.1, output: 0.2}}\n"
    )
    text = (
        "budgets:\n  - {workflow_id: a, period: daily, limit_usd: 1, stop_at: 100, on_stop: downgrade,"
        " downgrade_to: acme-llm-8b-instruct}\n"
    )
    (budget,) = parse_budgets(text, check_model=model_check(Pricer.load(overrides))).items
    assert budget.downgrade_to == "acme-llm-8b-instruct"
    with pytest.raises(BudgetsConfigError):
        parse_budgets(text, check_model=model_check(Pricer.load()))


@pytest.mark.parametrize(
    ("text", "days", "problem"),
    [
        ("support: 5\n", 31, "retention_days is 31: the ledger would purge calls of the current period"
         " that the monthly budgets sum; set retention_days to at least 32"),
        ("support: 5\n", 32, None),
        ("budgets:\n  - {workflow_id: a, period: daily, limit_usd: 1}\n", 1, "retention_days is 1: the"
         " ledger would purge calls of the current period that the daily budgets sum; set retention_days"
         " to at least 2"),
        ("budgets:\n  - {workflow_id: a, period: daily, limit_usd: 1}\n", 2, None),
        ("", 1, None),
    ],
)  # fmt: skip
def test_retention_must_keep_the_rows_of_the_current_period(
    text: str, days: int, problem: str | None
) -> None:
    found = parse_budgets(text).retention_problem(days)
    assert (
        found == problem if problem is None or problem.startswith("retention") else problem in (found or "")
    )
