"""The budgets file: a monthly USD budget per workflow, exported as `llm_budget_usd{workflow_id, period}`.

```yaml
# budgets.yaml: workflow_id -> monthly budget in USD
customer_support: 1200
sales_research: 450.50
```

Every problem in the file is reported at once, each with its line, in one `BudgetsConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

import yaml

from costline._validation import validate_value
from costline.attributes import WORKFLOW_ID
from costline_processor.yaml_errors import yaml_syntax_problem

PERIOD_MONTHLY: Final = "monthly"
_NUMBER_TAGS: Final = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:str")


class BudgetsConfigError(ValueError):
    """The budgets file is invalid; `problems` lists every problem, one line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"invalid budgets file {source}:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True, slots=True)
class Budgets:
    """Monthly budgets in USD by workflow_id."""

    monthly: Mapping[str, Decimal] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Budgets:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BudgetsConfigError(str(path), [f"cannot read the file: {exc}"]) from exc
        return cls.parse(text, source=str(path))

    @classmethod
    def parse(cls, text: str, *, source: str = "<string>") -> Budgets:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            raise BudgetsConfigError(source, [yaml_syntax_problem(source, exc)]) from exc
        if root is None:
            return cls({})
        if not isinstance(root, yaml.MappingNode):
            raise BudgetsConfigError(
                source, [f"line {root.start_mark.line + 1}: expected a mapping of workflow_id: monthly USD"]
            )
        budgets: dict[str, Decimal] = {}
        problems: list[str] = []
        for key_node, value_node in root.value:
            line = f"line {key_node.start_mark.line + 1}"
            workflow = _workflow_id(key_node, problems, line)
            amount = _amount(value_node, problems, f"{line}: {workflow or 'budget'}")
            if workflow is None or amount is None:
                continue
            if workflow in budgets:
                problems.append(f"{line}: workflow_id {workflow!r} is listed twice")
                continue
            budgets[workflow] = amount
        if problems:
            raise BudgetsConfigError(source, problems)
        return cls(budgets)

    def series(self) -> list[tuple[str, str, Decimal]]:
        """(workflow_id, period, amount) for every budget, sorted by workflow_id."""
        return [(workflow, PERIOD_MONTHLY, amount) for workflow, amount in sorted(self.monthly.items())]


def _workflow_id(node: yaml.Node, problems: list[str], line: str) -> str | None:
    if not isinstance(node, yaml.ScalarNode):
        problems.append(f"{line}: a workflow_id must be a plain string")
        return None
    try:
        return validate_value(WORKFLOW_ID, str(node.value))
    except ValueError as exc:
        problems.append(f"{line}: {exc}")
        return None


def _amount(node: yaml.Node, problems: list[str], where: str) -> Decimal | None:
    if not isinstance(node, yaml.ScalarNode) or node.tag not in _NUMBER_TAGS:
        shown = node.value if isinstance(node, yaml.ScalarNode) else type(node).__name__
        problems.append(f"{where}: the monthly budget must be a number of USD (got {shown!r})")
        return None
    text = str(node.value).strip()
    if node.tag != _NUMBER_TAGS[2]:  # YAML numbers: 1_000 and .inf/.nan spellings
        text = text.replace("_", "").lower().replace(".inf", "Infinity").replace(".nan", "NaN")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        problems.append(f"{where}: the monthly budget must be a number of USD (got {node.value!r})")
        return None
    if not amount.is_finite():
        problems.append(f"{where}: the monthly budget must be a finite number (got {node.value!r})")
        return None
    if amount < 0:
        problems.append(f"{where}: the monthly budget must not be negative (got {node.value!r})")
        return None
    return amount
