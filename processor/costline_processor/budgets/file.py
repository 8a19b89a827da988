"""The budgets file: a list of scoped budgets, or the old `workflow_id: monthly USD` mapping.

```yaml
budgets:
  - {workflow_id: customer_support, period: monthly, limit_usd: 1200, stop_at: 120, on_stop: block}
  - {workflow_id: marketing_copy, period: daily, limit_usd: 40, stop_at: 100, on_stop: downgrade,
     downgrade_to: claude-haiku-4-5}
  - {tenant_id: acme, period: monthly, limit_usd: 300}          # alert_at defaults to [50, 80, 100]
```

The old form (`customer_support: 1200`, one monthly budget per workflow) keeps working. The file is read
from PyYAML's node tree, so every problem is reported at once with its line, in one `BudgetsConfigError`.
Whether `downgrade_to` names a model costline can price is checked with the pricer (`models.py`), in the same
pass.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Final

import yaml

from costline._validation import validate_value
from costline.attributes import WORKFLOW_ID
from costline_processor import metric_names as names
from costline_processor.budgets.amounts import Problems, amount, line_of, percent, percents, text
from costline_processor.budgets.model import (
    DEFAULT_ALERT_AT,
    ON_STOP,
    ON_STOP_DOWNGRADE,
    PERIODS,
    SCOPE_KEYS,
    Budget,
    Budgets,
    BudgetsConfigError,
    Scope,
)
from costline_processor.yaml_errors import yaml_syntax_problem

LIST_KEY: Final = "budgets"
KEY_PERIOD: Final = names.LABEL_PERIOD
KEY_LIMIT: Final = "limit_usd"
KEY_ALERT_AT: Final = "alert_at"
KEY_STOP_AT: Final = "stop_at"
KEY_ON_STOP: Final = names.LABEL_ON_STOP
KEY_DOWNGRADE_TO: Final = names.LABEL_DOWNGRADE_TO
BUDGET_KEYS: Final = (*SCOPE_KEYS, KEY_PERIOD, KEY_LIMIT, KEY_ALERT_AT, KEY_STOP_AT, KEY_ON_STOP,
                      KEY_DOWNGRADE_TO)  # fmt: skip


ModelCheck = Callable[[str], str | None]  # a downgrade_to model -> why it is no good, or None


def load_budgets(path: Path, *, check_model: ModelCheck | None = None) -> Budgets:
    try:
        content = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BudgetsConfigError(str(path), [f"cannot read the file: {exc}"]) from exc
    return parse_budgets(content, source=str(path), check_model=check_model)


def parse_budgets(
    content: str, *, source: str = "<string>", check_model: ModelCheck | None = None
) -> Budgets:
    """The budgets of `content`; `check_model` (the pricer's, at start-up) judges each downgrade_to."""
    try:
        root = yaml.compose(content, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise BudgetsConfigError(source, [yaml_syntax_problem(source, exc)]) from exc
    if root is None:
        return Budgets()
    problems: Problems = []
    if not isinstance(root, yaml.MappingNode):
        problems.append(
            f"{line_of(root)}: expected a mapping: `budgets:` and a list of budgets,"
            " or the old form workflow_id: monthly USD"
        )
        raise BudgetsConfigError(source, problems)
    budget_list = _list_node(root)
    if budget_list is None:
        budgets = _old_form(root, problems)
    else:
        for key_node, _ in root.value:
            if key_node.value != LIST_KEY:
                problems.append(f"{line_of(key_node)}: unknown key {key_node.value!r} next to `budgets:`")
        budgets = _list_form(budget_list, problems)
        if check_model is not None:
            _check_models(budget_list, check_model, problems)
    _no_duplicates(budgets, problems)
    if problems:
        raise BudgetsConfigError(source, sorted(problems, key=_line_number))
    return Budgets(tuple(budgets))


def _line_number(problem: str) -> int:
    head = problem.split(":", 1)[0]
    return int(head.removeprefix("line ")) if head.removeprefix("line ").isdigit() else 0


def _list_node(root: yaml.MappingNode) -> yaml.SequenceNode | None:
    """The `budgets:` list, or None for the old form (where `budgets` could be a workflow's name)."""
    for key_node, value_node in root.value:
        if key_node.value == LIST_KEY and isinstance(value_node, yaml.SequenceNode):
            return value_node
    return None


def _old_form(root: yaml.MappingNode, problems: Problems) -> list[Budget]:
    budgets = []
    for key_node, value_node in root.value:
        line = line_of(key_node)
        workflow = _scope_value(WORKFLOW_ID, key_node, problems, line)
        limit = amount(value_node, problems, f"{line}: {workflow or 'budget'}", "the monthly budget")
        if workflow is not None and limit is not None:
            scope = ((WORKFLOW_ID, workflow),)
            budgets.append(Budget(scope, names.PERIOD_MONTHLY, limit, line=key_node.start_mark.line + 1))
    return budgets


def _list_form(node: yaml.SequenceNode, problems: Problems) -> list[Budget]:
    budgets = []
    for item in node.value:
        if not isinstance(item, yaml.MappingNode):
            problems.append(f"{line_of(item)}: a budget must be a mapping such as"
                            " {workflow_id: support, period: monthly, limit_usd: 100}")  # fmt: skip
            continue
        budget = _budget(item, problems)
        if budget is not None:
            budgets.append(budget)
    return budgets


def _fields(node: yaml.MappingNode, problems: Problems) -> dict[str, yaml.Node]:
    """The budget's keys -> value nodes; unknown and repeated keys are problems."""
    found: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        line = line_of(key_node)
        if key not in BUDGET_KEYS:
            close = difflib.get_close_matches(key, BUDGET_KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(f"{line}: unknown key {key!r} ({hint}allowed: {', '.join(BUDGET_KEYS)})")
        elif key in found:
            problems.append(f"{line}: {key} is given twice in one budget")
        else:
            found[key] = value_node
    return found


def _budget(node: yaml.MappingNode, problems: Problems) -> Budget | None:
    before = len(problems)
    line = line_of(node)
    fields = _fields(node, problems)
    scope = _scope(fields, problems, line)
    period = _period(fields, problems, line)
    limit = _limit(fields, problems, line)
    alert_at: tuple[int, ...] | None = DEFAULT_ALERT_AT
    if KEY_ALERT_AT in fields:
        alert_at = percents(fields[KEY_ALERT_AT], problems, KEY_ALERT_AT)
    stop_at = percent(fields[KEY_STOP_AT], problems, KEY_STOP_AT) if KEY_STOP_AT in fields else None
    on_stop, downgrade_to = _stop(fields, problems, line)
    if len(problems) > before or scope is None or period is None or limit is None or alert_at is None:
        return None
    return Budget(scope, period, limit, alert_at, stop_at, on_stop, downgrade_to, node.start_mark.line + 1)


def _limit(fields: dict[str, yaml.Node], problems: Problems, line: str) -> Decimal | None:
    if KEY_LIMIT not in fields:
        problems.append(f"{line}: {KEY_LIMIT} is missing (the budget in USD)")
        return None
    node = fields[KEY_LIMIT]
    return amount(node, problems, line_of(node), KEY_LIMIT)


def _scope(fields: dict[str, yaml.Node], problems: Problems, line: str) -> Scope | None:
    scope = []
    for key in SCOPE_KEYS:
        if key in fields:
            value = _scope_value(key, fields[key], problems, line_of(fields[key]))
            if value is None:
                return None
            scope.append((key, value))
    if not scope:
        problems.append(f"{line}: a budget needs a scope: one or more of {', '.join(SCOPE_KEYS)}")
        return None
    return tuple(scope)


def _scope_value(key: str, node: yaml.Node, problems: Problems, line: str) -> str | None:
    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str" or not node.value:
        shown = node.value if isinstance(node, yaml.ScalarNode) else type(node).__name__
        problems.append(f'{line}: {key} must be a plain string (got {shown!r}; quote a number: "42")')
        return None
    try:
        return validate_value(key, str(node.value))
    except ValueError as exc:
        problems.append(f"{line}: {exc}")
        return None


def _period(fields: dict[str, yaml.Node], problems: Problems, line: str) -> str | None:
    if KEY_PERIOD not in fields:
        problems.append(f"{line}: {KEY_PERIOD} is missing ({' or '.join(PERIODS)}, UTC calendar)")
        return None
    value = text(fields[KEY_PERIOD])
    if value not in PERIODS:
        problems.append(f"{line_of(fields[KEY_PERIOD])}: {KEY_PERIOD} must be {' or '.join(PERIODS)}"
                        f" (got {value!r})")  # fmt: skip
        return None
    return value


def _stop(fields: dict[str, yaml.Node], problems: Problems, line: str) -> tuple[str | None, str | None]:
    """on_stop (required with stop_at, only with it) and downgrade_to (exactly with on_stop: downgrade)."""
    on_stop = text(fields[KEY_ON_STOP]) if KEY_ON_STOP in fields else None
    if KEY_STOP_AT in fields and on_stop is None:
        problems.append(f"{line}: {KEY_STOP_AT} needs {KEY_ON_STOP}: {' or '.join(ON_STOP)}")
    elif on_stop is not None and KEY_STOP_AT not in fields:
        problems.append(f"{line_of(fields[KEY_ON_STOP])}: {KEY_ON_STOP} needs {KEY_STOP_AT}"
                        " (the percentage of the limit at which to stop)")  # fmt: skip
    elif on_stop is not None and on_stop not in ON_STOP:
        problems.append(f"{line_of(fields[KEY_ON_STOP])}: {KEY_ON_STOP} must be {' or '.join(ON_STOP)}"
                        f" (got {on_stop!r})")  # fmt: skip
    downgrade_to = text(fields[KEY_DOWNGRADE_TO]) if KEY_DOWNGRADE_TO in fields else None
    if on_stop == ON_STOP_DOWNGRADE and not downgrade_to:
        where = line_of(fields[KEY_DOWNGRADE_TO]) if KEY_DOWNGRADE_TO in fields else line
        problems.append(f"{where}: {KEY_ON_STOP}: {ON_STOP_DOWNGRADE} needs {KEY_DOWNGRADE_TO}: MODEL")
    elif on_stop != ON_STOP_DOWNGRADE and KEY_DOWNGRADE_TO in fields:
        problems.append(f"{line_of(fields[KEY_DOWNGRADE_TO])}: {KEY_DOWNGRADE_TO} is only for"
                        f" {KEY_ON_STOP}: {ON_STOP_DOWNGRADE}")  # fmt: skip
    return on_stop, downgrade_to or None


def _check_models(node: yaml.SequenceNode, check_model: ModelCheck, problems: Problems) -> None:
    """Every downgrade_to model is checked, whatever else is wrong with its budget (all problems at once)."""
    for item in node.value:
        if not isinstance(item, yaml.MappingNode):
            continue
        for key_node, value_node in item.value:
            model = text(value_node) if key_node.value == KEY_DOWNGRADE_TO else None
            problem = check_model(model) if model is not None else None
            if problem is not None:
                problems.append(f"{line_of(value_node)}: {KEY_DOWNGRADE_TO} {model!r} {problem}")


def _no_duplicates(budgets: list[Budget], problems: Problems) -> None:
    first_line: dict[str, int] = {}
    for budget in budgets:
        if budget.id in first_line:
            first = first_line[budget.id]
            problems.append(f"line {budget.line}: budget {budget.id} is listed twice (first on line {first})")
        else:
            first_line[budget.id] = budget.line
