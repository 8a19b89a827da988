"""The words and numbers of a report's sections, written once for the terminal table and the HTML page.

Both renderers lay out the same sections from these functions, so neither can show what the other leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass

from costline.attributes import LLM_COST_UNPRICED_REASON
from costline_processor.report.analysis import Anomaly, BudgetUse, OutcomeCost, Report
from costline_processor.report.findings import Finding
from costline_processor.report.money import unit_usd, usd

NO_OUTCOMES = "none recorded in this window (the app records them with costline.record_outcome())"
NO_ANOMALIES = "no day of a workflow above the anomaly ratio times its 7-day average"


@dataclass(frozen=True, slots=True)
class Figure:
    """One headline number: what it is, the value, and what qualifies it ("" when nothing does)."""

    key: str  # stable id for the HTML element
    label: str
    value: str
    note: str = ""

    def line(self) -> str:
        return f"{self.label}: {self.value}" + (f" ({self.note})" if self.note else "")


def title(report: Report) -> str:
    """The days the report covers, both ends included, as drawn in the daily chart."""
    return f"LLM spend {report.first_day} to {report.last_day} by {', '.join(report.by)}"


def headline(report: Report) -> list[Figure]:
    first_of_month = report.last_day.replace(day=1)
    # Month-to-date is read from the 1st whatever the window: say so when that is before the window's start.
    beyond = f"from {first_of_month}, before the window starts" if report.first_day > first_of_month else ""
    return [
        Figure("total-spend", "total spend", usd(report.total_cost)),
        Figure("requests", "requests", f"{report.total_requests:,}"),
        Figure(
            "unattributed",
            "unattributed",
            usd(report.unattributed_cost),
            f"{report.unattributed_share:.1%} of spend",
        ),
        Figure(
            "unpriced-requests", "unpriced requests", f"{report.unpriced_requests:,}", _unpriced_note(report)
        ),
        Figure("month-to-date", f"{report.month} month-to-date", usd(report.month_to_date), beyond),
        Figure(
            "projected-month-end",
            f"{report.month} projected month-end",
            usd(report.projected_month_end),
            "at this month's pace so far",
        ),
    ]


def _unpriced_note(report: Report) -> str:
    if not report.unpriced_requests:
        return "every call priced"
    return f"their cost is not in the totals; their spans carry {LLM_COST_UNPRICED_REASON}"


def budget_text(budget: BudgetUse) -> str:
    return (
        f"spent {usd(budget.month_to_date)} of {usd(budget.budget)} ({budget.used_share:.0%}),"
        f" projected month-end {usd(budget.projected)} ({budget.projected_share:.0%} of the budget):"
        f" {budget.status}"
    )


def outcome_text(outcome: OutcomeCost) -> str:
    return (
        f"{unit_usd(outcome.cost_per_outcome)} per {outcome.outcome}"
        f" ({outcome.count:,} of them for {usd(outcome.workflow_cost)} of spend)"
    )


def anomaly_text(anomaly: Anomaly) -> str:
    return (
        f"{anomaly.day}: spend {usd(anomaly.cost)} = {anomaly.ratio:.1f}x its 7-day average"
        f" of {usd(anomaly.baseline)}"
    )


def finding_text(finding: Finding) -> str:
    return f"{finding.subject}: {finding.summary}" if finding.subject else finding.summary


def finding_amount(finding: Finding) -> str:
    return f"{finding.cost_label}: {usd(finding.cost)}"
