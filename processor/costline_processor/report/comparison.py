"""`costline report --compare`: the two windows' calls read from the ledger, the variance by the report's
grouping and by workflow, the named changes and the summary paragraph."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from costline.attributes import WORKFLOW_ID
from costline_processor.pricing import Pricer
from costline_processor.report.calls import CallRecord, ledger_span, read_calls
from costline_processor.report.change_findings import Change, find_changes
from costline_processor.report.facts import ReportInputError, ledger_location
from costline_processor.report.periods import Window
from costline_processor.report.trend import OutcomeTrend, Projection, outcome_trends, projection
from costline_processor.report.variance import Variance, compare
from costline_processor.report.variance_summary import paragraph


@dataclass(frozen=True, slots=True)
class Comparison:
    variance: Variance  # by the report's --by
    by_workflow: Variance
    changes: tuple[Change, ...]
    summary: str
    before_calls: tuple[CallRecord, ...]
    after_calls: tuple[CallRecord, ...]
    outcomes: tuple[OutcomeTrend, ...]
    projection: Projection

    def current_calls(self, current: Window) -> tuple[CallRecord, ...]:
        """The calls of the report's own window (the later or the earlier one)."""
        return self.after_calls if current == self.variance.after else self.before_calls


def build_comparison(
    ledger_url: str | Path, pricer: Pricer, by: tuple[str, ...], current: Window, other: Window
) -> Comparison:
    calls = {window: read_calls(ledger_url, window) for window in (current, other)}
    for window, found in calls.items():  # the report's own window first: the one the user typed
        if not found:
            raise ReportInputError(_no_calls(ledger_url, window))
    earlier, later = sorted((current, other), key=lambda window: window.since)
    before, after = calls[earlier], calls[later]
    variance = compare(pricer, by, (earlier, before), (later, after))
    by_workflow = (
        variance
        if by == (WORKFLOW_ID,)
        else compare(pricer, (WORKFLOW_ID,), (earlier, before), (later, after))
    )
    changes = find_changes(pricer, (earlier, later), before, after)
    return Comparison(
        variance,
        by_workflow,
        tuple(changes),
        paragraph(by_workflow, changes),
        tuple(before),
        tuple(after),
        tuple(outcome_trends(ledger_url, by_workflow)),
        projection(ledger_url, by_workflow),
    )


def _no_calls(ledger_url: str | Path, window: Window) -> str:
    span = ledger_span(ledger_url)
    held = (
        f"its calls run from {span[0]:%Y-%m-%d %H:%M} to {span[1]:%Y-%m-%d %H:%M} UTC"
        if span
        else "it holds no call"
    )
    where = ledger_location(ledger_url)  # a PostgreSQL URL without its password
    return f"no calls in {window.label()} in the ledger {where} ({held}): nothing to compare"
