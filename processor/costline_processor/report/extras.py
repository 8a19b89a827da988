"""The report's answers beyond one window's spend: why it changed (`--compare`), what a downgrade would save
(`--what-if`) and margin per customer (`--revenue`). Built from the ledger's call rows and rendered in every
format next to the spend report."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from costline_processor.pricing import Pricer, PricingConfigError
from costline_processor.report import variance_html, variance_render
from costline_processor.report.comparison import Comparison, build_comparison
from costline_processor.report.facts import ReportInputError
from costline_processor.report.periods import Window


@dataclass(frozen=True, slots=True)
class ExtraRequest:
    compare_with: Window | None = None
    what_if: tuple[tuple[str, str], ...] = ()  # (workflow_id, model)
    revenue_path: Path | None = None
    price_overrides: Path | None = None

    @property
    def asked(self) -> list[str]:
        options = [("--compare", self.compare_with is not None), ("--what-if", bool(self.what_if))]
        options.append(("--revenue", self.revenue_path is not None))
        return [name for name, given in options if given]


@dataclass(frozen=True, slots=True)
class Extras:
    comparison: Comparison | None = None
    asked: list[str] = field(default_factory=list)

    def terminal(self) -> str:
        parts = []
        if self.comparison is not None:
            parts.append(variance_render.table(self.comparison))
        return "\n".join(parts) + ("\n" if parts else "")

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.comparison is not None:
            found["comparison"] = variance_render.to_dict(self.comparison)
        return found

    def csv(self) -> str | None:
        """The one table CSV holds when an analysis was asked for (None: the spend table)."""
        if len(self.asked) > 1:
            raise ReportInputError(
                f"--format csv holds one table: pass one of {', '.join(self.asked)} (or use --format json)"
            )
        if self.comparison is not None:
            return variance_render.to_csv(self.comparison)
        return None

    def html_sections(self) -> list[str]:
        sections = []
        if self.comparison is not None:
            sections.append(variance_html.section(self.comparison))
        return sections


def load_pricer(path: Path | None) -> Pricer:
    try:
        return Pricer.load(path)
    except PricingConfigError as exc:
        raise ReportInputError(f"--price-overrides: {exc}") from exc


def build_extras(
    request: ExtraRequest, *, ledger_path: Path, by: tuple[str, ...], window: Window, from_prometheus: bool
) -> Extras:
    if not request.asked or window.since >= window.until:
        return Extras()  # nothing asked, or a window load_facts refuses with its own message
    if from_prometheus:
        raise ReportInputError(
            f"{', '.join(request.asked)} read each call's tokens from the ledger:"
            " use --ledger, not --prometheus"
        )
    pricer = load_pricer(request.price_overrides)
    comparison = None
    if request.compare_with is not None:
        comparison = build_comparison(ledger_path, pricer, by, window, request.compare_with)
    return Extras(comparison=comparison, asked=request.asked)


def merged_json(base: dict[str, Any], extras: Extras) -> str:
    return json.dumps({**base, **extras.to_dict()}, indent=2) + "\n"
