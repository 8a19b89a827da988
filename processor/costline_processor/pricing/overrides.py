"""The `--price-overrides` file: custom model rates and negotiated discounts, validated whole at load.

Every problem is reported, one line each, as `FILE:LINE: key.path: what is wrong` (docs/pricing.md has the
schema and an example). Rates are USD per million tokens, read as exact decimals.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from costline_processor.pricing import _yaml
from costline_processor.pricing.plan import Rates
from costline_processor.yaml_errors import yaml_syntax_problem

_EPOCH = date(1970, 1, 1)
_TOP_KEYS = ("version", "models", "discounts")
_MODEL_KEYS = ("id", "provider", "model", "rates", "effective_from", "effective_until")
_DISCOUNT_KEYS = ("id", "provider", "model", "multiplier", "effective_from", "effective_until")
_RATE_KEYS = ("input", "output", "cache_read", "cache_write", "cache_write_1h", "reasoning", "request")
_REQUIRED_RATES = ("input", "output")
_MAX_RATE = Decimal(1_000_000)  # USD per Mtok: anything above is a typo, not a price
_MAX_MULTIPLIER = Decimal(10)


class PricingConfigError(ValueError):
    """The overrides file is invalid; `problems` holds one line per problem."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"invalid price overrides {path} ({count}):\n" + "\n".join(problems))


@dataclass(frozen=True, slots=True)
class _Window:
    from_day: int | None  # days since 1970-01-01 UTC, inclusive
    until_day: int | None  # exclusive

    def covers(self, day: int) -> bool:
        return (self.from_day is None or day >= self.from_day) and (
            self.until_day is None or day < self.until_day
        )


@dataclass(frozen=True, slots=True)
class ModelOverride:
    """Custom rates for models matching `model` (a name, `*` matching any run of characters)."""

    id: str
    provider: str | None
    model: str
    rates: Rates
    window: _Window
    _pattern: re.Pattern[str]

    def matches(self, provider: str, model: str, day: int) -> bool:
        return (
            (self.provider is None or self.provider == provider)
            and self._pattern.fullmatch(model) is not None
            and self.window.covers(day)
        )


@dataclass(frozen=True, slots=True)
class Discount:
    """A negotiated multiplier on catalogue prices for a provider and/or model."""

    id: str
    provider: str | None
    model: str | None
    multiplier: Decimal
    window: _Window
    _pattern: re.Pattern[str] | None

    def matches(self, provider: str, model: str, day: int) -> bool:
        return (
            (self.provider is None or self.provider == provider)
            and (self._pattern is None or self._pattern.fullmatch(model) is not None)
            and self.window.covers(day)
        )


@dataclass(frozen=True, slots=True)
class Overrides:
    models: tuple[ModelOverride, ...] = ()
    discounts: tuple[Discount, ...] = ()

    def model_for(self, provider: str, model: str, day: int) -> ModelOverride | None:
        """The first model override (file order) matching; model names compare case-insensitively."""
        lowered = model.lower()
        return next((rule for rule in self.models if rule.matches(provider, lowered, day)), None)

    def discount_for(self, provider: str, model: str, day: int) -> Discount | None:
        lowered = model.lower()
        return next((rule for rule in self.discounts if rule.matches(provider, lowered, day)), None)


def load_overrides(path: Path) -> Overrides:
    """Read and validate `path`; raises PricingConfigError listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PricingConfigError(path, [f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    try:
        document = _yaml.load(text)
    except yaml.YAMLError as exc:
        raise PricingConfigError(path, [yaml_syntax_problem(path, exc)]) from exc
    checker = _Checker(str(path))
    overrides = checker.document(document)
    if checker.problems:
        raise PricingConfigError(path, checker.problems)
    return overrides


def glob_pattern(text: str) -> re.Pattern[str]:
    """`*` matches any run of characters; everything else is literal; case-insensitive."""
    return re.compile(".*".join(re.escape(part) for part in text.lower().split("*")))


def day_number(value: date) -> int:
    return (value - _EPOCH).days


class _Checker:
    """Walks the parsed document, collecting problems instead of stopping at the first."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[str] = []
        self._ids: set[str] = set()

    def problem(self, line: int, where: str, message: str) -> None:
        self.problems.append(f"{self.path}:{line}: {where}: {message}")

    def document(self, doc: Any) -> Overrides:
        if doc is None:
            return Overrides()
        if not isinstance(doc, _yaml.LineMap):
            self.problem(1, "(top level)", "must be a mapping with `models` and/or `discounts`")
            return Overrides()
        self.unknown_keys(doc, _TOP_KEYS, "")
        if "version" in doc and doc["version"] != 1:
            self.problem(doc.key_lines["version"], "version", f"must be 1, got {doc['version']!r}")
        models = [
            self.model(item, line, f"models[{i}]") for i, (item, line) in enumerate(self.items(doc, "models"))
        ]
        discounts = [
            self.discount(item, line, f"discounts[{i}]")
            for i, (item, line) in enumerate(self.items(doc, "discounts"))
        ]
        return Overrides(
            tuple(rule for rule in models if rule is not None),
            tuple(rule for rule in discounts if rule is not None),
        )

    def items(self, doc: _yaml.LineMap, key: str) -> list[tuple[Any, int]]:
        value = doc.get(key)
        if value is None:
            return []
        if not isinstance(value, _yaml.LineList):
            self.problem(doc.key_lines[key], key, "must be a list")
            return []
        return list(zip(value, value.item_lines, strict=True))

    def unknown_keys(self, node: _yaml.LineMap, allowed: tuple[str, ...], where: str) -> None:
        for key in node:
            if key not in allowed:
                path = f"{where}.{key}" if where else str(key)
                self.problem(node.key_lines[key], path, f"unknown key (allowed: {', '.join(allowed)})")

    def entry(self, node: Any, line: int, where: str, allowed: tuple[str, ...]) -> _yaml.LineMap | None:
        if not isinstance(node, _yaml.LineMap):
            self.problem(line, where, "must be a mapping")
            return None
        self.unknown_keys(node, allowed, where)
        rule_id = self.text(node, "id", where, required=True)
        if rule_id is not None:
            if rule_id in self._ids:
                self.problem(node.key_lines["id"], f"{where}.id", f"duplicate id {rule_id!r}")
            self._ids.add(rule_id)
        return node

    def model(self, node: Any, line: int, where: str) -> ModelOverride | None:
        entry = self.entry(node, line, where, _MODEL_KEYS)
        if entry is None:
            return None
        model = self.text(entry, "model", where, required=True)
        provider = _lower(self.text(entry, "provider", where, required=False))
        rates = self.rates(entry, where)
        window = self.window(entry, where)
        rule_id = entry.get("id")
        if model is None or rates is None or window is None or not isinstance(rule_id, str) or not rule_id:
            return None
        return ModelOverride(rule_id, provider, model, rates, window, glob_pattern(model))

    def discount(self, node: Any, line: int, where: str) -> Discount | None:
        entry = self.entry(node, line, where, _DISCOUNT_KEYS)
        if entry is None:
            return None
        model = self.text(entry, "model", where, required=False)
        provider = _lower(self.text(entry, "provider", where, required=False))
        if model is None and provider is None and "model" not in entry and "provider" not in entry:
            self.problem(
                entry.line, where, "needs `provider` and/or `model` (a discount on everything is a typo)"
            )
        multiplier = self.number(entry, "multiplier", where, required=True, maximum=_MAX_MULTIPLIER)
        window = self.window(entry, where)
        rule_id = entry.get("id")
        if multiplier is None or window is None or not isinstance(rule_id, str) or not rule_id:
            return None
        pattern = glob_pattern(model) if model is not None else None
        return Discount(rule_id, provider, model, multiplier, window, pattern)

    def text(self, node: _yaml.LineMap, key: str, where: str, *, required: bool) -> str | None:
        if key not in node:
            if required:
                self.problem(node.line, f"{where}.{key}", "missing (required)")
            return None
        value = node[key]
        if not isinstance(value, str) or not value.strip():
            self.problem(node.key_lines[key], f"{where}.{key}", f"must be a non-empty string, got {value!r}")
            return None
        return value.strip()

    def number(
        self, node: _yaml.LineMap, key: str, where: str, *, required: bool, maximum: Decimal
    ) -> Decimal | None:
        if key not in node:
            if required:
                self.problem(node.line, f"{where}.{key}", "missing (required)")
            return None
        value, line = node[key], node.key_lines[key]
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
            self.problem(line, f"{where}.{key}", f"must be a number, got {value!r}")
            return None
        try:
            number = Decimal(str(value).strip()) if not isinstance(value, float) else Decimal(repr(value))
        except ArithmeticError:
            self.problem(line, f"{where}.{key}", f"must be a number, got {value!r}")
            return None
        if (isinstance(value, float) and not math.isfinite(value)) or not number.is_finite():
            self.problem(line, f"{where}.{key}", f"must be a finite number, got {value!r}")
        elif number < 0:
            self.problem(line, f"{where}.{key}", f"must be >= 0, got {value}")
        elif number > maximum:
            self.problem(line, f"{where}.{key}", f"must be <= {maximum}, got {value}")
        else:
            return number
        return None

    def rates(self, entry: _yaml.LineMap, where: str) -> Rates | None:
        node = entry.get("rates")
        if node is None:
            self.problem(entry.line, f"{where}.rates", "missing (required: USD per million tokens)")
            return None
        if not isinstance(node, _yaml.LineMap):
            self.problem(
                entry.key_lines["rates"], f"{where}.rates", "must be a mapping of token type to USD/Mtok"
            )
            return None
        self.unknown_keys(node, _RATE_KEYS, f"{where}.rates")
        values = {
            key: self.number(node, key, f"{where}.rates", required=False, maximum=_MAX_RATE) for key in node
        }
        for key in _REQUIRED_RATES:
            if key not in node:
                self.problem(
                    node.line, f"{where}.rates.{key}", "missing rate (input and output are required)"
                )
        if any(values.get(key) is None for key in (*_REQUIRED_RATES, *node)):
            return None
        return _rates_from(values)

    def window(self, entry: _yaml.LineMap, where: str) -> _Window | None:
        start = self.date(entry, "effective_from", where)
        end = self.date(entry, "effective_until", where)
        if start is False or end is False:
            return None
        if isinstance(start, int) and isinstance(end, int) and end <= start:
            self.problem(
                entry.key_lines["effective_until"], f"{where}.effective_until", "must be after effective_from"
            )
            return None
        return _Window(start if isinstance(start, int) else None, end if isinstance(end, int) else None)

    def date(self, entry: _yaml.LineMap, key: str, where: str) -> int | bool | None:
        """Days since the epoch; None when absent; False when invalid (already reported)."""
        if key not in entry:
            return None
        value = entry[key]
        if isinstance(value, datetime):
            return day_number(value.astimezone(UTC).date() if value.tzinfo else value.date())
        if isinstance(value, date):
            return day_number(value)
        if isinstance(value, str):
            try:
                return day_number(date.fromisoformat(value.strip()))
            except ValueError:
                pass
        self.problem(entry.key_lines[key], f"{where}.{key}", f"must be a date YYYY-MM-DD, got {value!r}")
        return False


def _lower(provider: str | None) -> str | None:
    """Providers match `gen_ai.provider.name`, which the normaliser lowercases."""
    return provider.lower() if provider is not None else None


def _rates(values: dict[Any, Decimal | None], key: str) -> Decimal | None:
    return values.get(key)


def _rates_from(values: dict[Any, Decimal | None]) -> Rates:
    input_rate = _rates(values, "input") or Decimal(0)
    output = _rates(values, "output") or Decimal(0)
    cache_write = _rates(values, "cache_write")
    cache_write = input_rate if cache_write is None else cache_write
    return Rates(
        input=input_rate,
        output=output,
        cache_read=v if (v := _rates(values, "cache_read")) is not None else input_rate,
        cache_write=cache_write,
        cache_write_1h=v if (v := _rates(values, "cache_write_1h")) is not None else cache_write,
        reasoning=v if (v := _rates(values, "reasoning")) is not None else output,
        request=v if (v := _rates(values, "request")) is not None else Decimal(0),
    )
