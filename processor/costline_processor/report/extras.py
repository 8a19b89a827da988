"""The report's answers beyond one window's spend: why it changed (`--compare`), what a downgrade would save
(`--what-if`) and margin per customer (`--revenue`). Built from the ledger's call rows and rendered in every
format next to the spend report."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from costline_processor.pricing import Pricer, PricingConfigError
from costline_processor.report import revenue_render, variance_html, variance_render, whatif_render
from costline_processor.report.calls import read_calls
from costline_processor.report.comparison import Comparison, build_comparison
from costline_processor.report.facts import ReportInputError
from costline_processor.report.periods import Window
from costline_processor.report.revenue import UnitEconomics, unit_economics
from costline_processor.report.whatif import WhatIf, what_ifs


@dataclass(frozen=True, slots=True)
class ExtraRequest:
    compare_with: Window | None = None
    what_if: tuple[tuple[str, str], ...] = ()  # (workflow_id, model)
    revenue_path: Path | None = None
    cost_share_alert: Decimal = Decimal("0.2")  # 0..1
    price_overrides: Path | None = None

    @property
    def asked(self) -> list[str]:
        options = [("--compare", self.compare_with is not None), ("--what-if", bool(self.what_if))]
        options.append(("--revenue", self.revenue_path is not None))
        return [name for name, given in options if given]


@dataclass(frozen=True, slots=True)
class Extras:
    comparison: Comparison | None = None
    what_if: tuple[WhatIf, ...] | None = None  # None: not computed (the source has no per-call usage)
    unit_economics: UnitEconomics | None = None
    asked: list[str] = field(default_factory=list)

    def terminal_top(self) -> str:
        """What comes above the spend table: the comparison, whose paragraph answers first."""
        return variance_render.table(self.comparison) + "\n" if self.comparison is not None else ""

    def terminal_bottom(self) -> str:
        parts = [whatif_render.table(self.what_if)] if self.what_if is not None else []
        if self.unit_economics is not None:
            parts.append(revenue_render.table(self.unit_economics))
        return "".join("\n" + part for part in parts)

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.comparison is not None:
            found["comparison"] = variance_render.to_dict(self.comparison)
        if self.what_if is not None:
            found["what_if"] = whatif_render.to_dict(self.what_if)
        if self.unit_economics is not None:
            found["unit_economics"] = revenue_render.to_dict(self.unit_economics)
        return found

    def csv(self) -> str | None:
        """The one table CSV holds when an analysis was asked for (None: the spend table)."""
        if len(self.asked) > 1:
            raise ReportInputError(
                f"--format csv holds one table: pass one of {', '.join(self.asked)} (or use --format json)"
            )
        if self.comparison is not None:
            return variance_render.to_csv(self.comparison)
        if "--what-if" in self.asked and self.what_if is not None:
            return whatif_render.to_csv(self.what_if)
        if self.unit_economics is not None:
            return revenue_render.to_csv(self.unit_economics)
        return None

    def html_sections(self) -> tuple[list[str], list[str]]:
        """The sections above the spend sections and those below them, in the terminal's order."""
        top = [variance_html.section(self.comparison)] if self.comparison is not None else []
        bottom = [whatif_render.section(self.what_if)] if self.what_if is not None else []
        if self.unit_economics is not None:
            bottom.append(revenue_render.section(self.unit_economics))
        return top, bottom


def load_pricer(path: Path | None) -> Pricer:
    try:
        return Pricer.load(path)
    except PricingConfigError as exc:
        raise ReportInputError(f"--price-overrides: {exc}") from exc


def build_extras(
    request: ExtraRequest,
    *,
    ledger_path: Path | None,
    by: tuple[str, ...],
    window: Window,
    from_prometheus: bool,
) -> Extras:
    """The comparison when asked; the what-if always when the source is the ledger (it has the tokens)."""
    if from_prometheus:
        if request.asked:
            raise ReportInputError(
                f"{', '.join(request.asked)} read each call's tokens from the ledger:"
                " use --ledger, not --prometheus"
            )
        return Extras()
    if window.since >= window.until or ledger_path is None or not ledger_path.exists():
        return Extras()  # load_facts refuses these with its own message
    pricer = load_pricer(request.price_overrides)
    comparison = None
    if request.compare_with is not None:
        comparison = build_comparison(ledger_path, pricer, by, window, request.compare_with)
    calls = comparison.current_calls(window) if comparison else read_calls(ledger_path, window)
    economics = None
    if request.revenue_path is not None:
        economics = unit_economics(request.revenue_path, window, calls, request.cost_share_alert)
    return Extras(
        comparison=comparison,
        what_if=tuple(what_ifs(pricer, window, calls, request.what_if)),
        unit_economics=economics,
        asked=request.asked,
    )


def merged_json(base: dict[str, Any], extras: Extras) -> str:
    return json.dumps({**base, **extras.to_dict()}, indent=2) + "\n"
