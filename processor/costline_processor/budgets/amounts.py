"""Reading the budgets file's scalars from PyYAML nodes: amounts of USD and percentages, with their lines."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Final

import yaml

Problems = list[str]

_STR: Final = "tag:yaml.org,2002:str"
_INT: Final = "tag:yaml.org,2002:int"
_NUMBER_TAGS: Final = (_INT, "tag:yaml.org,2002:float", _STR)


def line_of(node: yaml.Node) -> str:
    return f"line {node.start_mark.line + 1}"


def text(node: yaml.Node) -> str | None:
    """A scalar's text (stripped), None for a list, a mapping or an empty value."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    return str(node.value).strip() or None


def amount(node: yaml.Node, problems: Problems, where: str, what: str) -> Decimal | None:
    """A USD amount: a YAML number or a quoted one, finite and >= 0, read exactly (never a float)."""
    if not isinstance(node, yaml.ScalarNode) or node.tag not in _NUMBER_TAGS:
        shown = node.value if isinstance(node, yaml.ScalarNode) else type(node).__name__
        problems.append(f"{where}: {what} must be a number of USD (got {shown!r})")
        return None
    value = str(node.value).strip()
    if node.tag != _STR:  # YAML numbers: 1_000 and .inf/.nan spellings
        value = value.replace("_", "").lower().replace(".inf", "Infinity").replace(".nan", "NaN")
    try:
        number = Decimal(value)
    except InvalidOperation:
        problems.append(f"{where}: {what} must be a number of USD (got {node.value!r})")
        return None
    if not number.is_finite():
        problems.append(f"{where}: {what} must be a finite number (got {node.value!r})")
        return None
    if number < 0:
        problems.append(f"{where}: {what} must not be negative (got {node.value!r})")
        return None
    return number


def percent(node: yaml.Node, problems: Problems, key: str) -> int | None:
    """A whole percentage above 0 (120 means 120 % of the limit)."""
    digits = str(node.value).replace("_", "") if isinstance(node, yaml.ScalarNode) else ""
    if not isinstance(node, yaml.ScalarNode) or node.tag != _INT or not digits.lstrip("+-").isdigit():
        shown = node.value if isinstance(node, yaml.ScalarNode) else type(node).__name__
        problems.append(f"{line_of(node)}: {key} must be a whole percentage such as 80 (got {shown!r})")
        return None
    value = int(digits)
    if value <= 0:
        problems.append(f"{line_of(node)}: {key} must be above 0 (got {node.value!r})")
        return None
    return value


def percents(node: yaml.Node, problems: Problems, key: str) -> tuple[int, ...] | None:
    """A list of distinct percentages, sorted; [] turns the alerts off."""
    if not isinstance(node, yaml.SequenceNode):
        problems.append(f"{line_of(node)}: {key} must be a list of percentages such as [50, 80, 100]")
        return None
    before = len(problems)
    values = [percent(item, problems, key) for item in node.value]
    found = [value for value in values if value is not None]
    if len(set(found)) < len(found):
        problems.append(f"{line_of(node)}: {key} lists a percentage twice")
    if len(problems) > before:
        return None
    return tuple(sorted(found))
