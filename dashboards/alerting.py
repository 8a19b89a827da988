"""Prometheus rule groups for the Mimir (or Prometheus) ruler: budget use, spikes, attribution, pricing gaps.

Generated into dashboards/rules/costline.rules.yaml by `dashboards.generate`; promtool fixtures beside it.
Budget alerts are bands (50-80, 80-100, 100-120, 120+ %) so exactly one fires per workflow at a time; they
compare month-to-date spend from the cost counters with the monthly budgets of one workflow. Every budget of
the budgets file (any scope, daily or monthly) also has the spend costline serve keeps for it
(`llm_budget_spent_usd`, summed over the replicas): `LlmBudgetOver` fires at 100 % of its limit and
`LlmBudgetStopped` once it reached its `stop_at`, the moment the app's guard blocks or downgrades its calls.
"""

from __future__ import annotations

from typing import Any, Final

from costline.attributes import UNATTRIBUTED
from costline_processor.metric_names import (
    LABEL_DOWNGRADE_TO,
    LABEL_FEATURE_ID,
    LABEL_MODEL,
    LABEL_ON_STOP,
    LABEL_PERIOD,
    LABEL_PROVIDER,
    LABEL_REASON,
    LABEL_SERVICE_NAME,
    LABEL_TENANT_ID,
    LABEL_WORKFLOW_ID,
    PERIOD_MONTHLY,
    PROM_BUDGET_USD,
    PROM_COST_USD_TOTAL,
    PROM_UNPRICED_REQUESTS_TOTAL,
)
from costline_processor.window_promql import SECONDS_PER_DAY, Window
from dashboards.promql import (
    WEEK,
    WORKFLOW_ONLY,
    budget_limit,
    budget_ratio,
    budget_spent,
    budget_stop,
    month_to_date,
    window_total,
)

MTD: Final = "costline:workflow_cost_usd:month_to_date"
DAILY_AVG_7D: Final = "costline:workflow_cost_usd:daily_avg_7d"
LAST_HOUR: Final = "costline:workflow_cost_usd:last_1h"
BUDGET: Final = "costline:workflow_budget_usd:month"
BUDGET_USED: Final = "costline:workflow_budget:used_ratio"
UNATTRIBUTED_SHARE: Final = "costline:cost_unattributed:share_1d"
SPENT: Final = "costline:budget_spent_usd:period"
RATIO: Final = "costline:budget:used_ratio"
STOP: Final = "costline:budget_stop_usd"

SPIKE_FACTOR: Final = 3
UNATTRIBUTED_SHARE_THRESHOLD: Final = 0.10
BUDGET_BANDS: Final = (
    (50, 80, "info"),
    (80, 100, "warning"),
    (100, 120, "critical"),
    (120, None, "critical"),
)

WF: Final = (LABEL_WORKFLOW_ID,)
BUDGET_RECORDS: Final = (MTD, BUDGET, BUDGET_USED)
BUDGET_ALERTS: Final = {low: f"LlmBudget{low}Percent" for low, _, _ in BUDGET_BANDS}
NO_FILTERS: Final[tuple[str, ...]] = ()
BUDGET_GROUP_INTERVAL: Final = "5m"
HOUR: Final = Window.of(3600)
DAY: Final = Window.of(SECONDS_PER_DAY)


def recording_rules() -> list[dict[str, str]]:
    unattributed = window_total(f'{PROM_COST_USD_TOTAL}{{{LABEL_WORKFLOW_ID}="{UNATTRIBUTED}"}}', (), DAY)
    return [
        {"record": MTD, "expr": month_to_date(PROM_COST_USD_TOTAL, WF)},
        {"record": DAILY_AVG_7D, "expr": f"{window_total(PROM_COST_USD_TOTAL, WF, WEEK)} / 7"},
        {"record": LAST_HOUR, "expr": window_total(PROM_COST_USD_TOTAL, WF, HOUR)},
        {
            "record": BUDGET,
            "expr": f"max by ({LABEL_WORKFLOW_ID})"
            f' ({PROM_BUDGET_USD}{{{LABEL_PERIOD}="{PERIOD_MONTHLY}", {WORKFLOW_ONLY}}})',
        },
        {"record": BUDGET_USED, "expr": f"{MTD} / on({LABEL_WORKFLOW_ID}) {BUDGET}"},
        {
            "record": UNATTRIBUTED_SHARE,
            "expr": f"({unattributed} or vector(0)) / {window_total(PROM_COST_USD_TOTAL, (), DAY)}",
        },
        {"record": SPENT, "expr": budget_spent(NO_FILTERS)},
        {"record": RATIO, "expr": budget_ratio(SPENT, budget_limit(NO_FILTERS))},
        {"record": STOP, "expr": budget_stop(NO_FILTERS)},
    ]


_SCOPE_TEXT: Final = "".join(
    f"{{{{ if $labels.{key} }}}} {key}={{{{ $labels.{key} }}}}{{{{ end }}}}"
    for key in (LABEL_WORKFLOW_ID, LABEL_FEATURE_ID, LABEL_TENANT_ID)
)


def _scoped_budget_alerts() -> list[dict[str, Any]]:
    scope = f"{_SCOPE_TEXT} ({{{{ $labels.{LABEL_PERIOD} }}}})"
    on_stop = f"{{{{ $labels.{LABEL_ON_STOP} }}}}{{{{ if $labels.{LABEL_DOWNGRADE_TO} }}}} to" \
        f" {{{{ $labels.{LABEL_DOWNGRADE_TO} }}}}{{{{ end }}}}"  # fmt: skip
    key = ", ".join((LABEL_WORKFLOW_ID, LABEL_FEATURE_ID, LABEL_TENANT_ID, LABEL_PERIOD))
    return [
        {
            "alert": "LlmBudgetOver",
            "expr": f"{RATIO} >= 1",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": f"LLM budget{scope} is spent",
                "description": "This period's spend is {{ $value | humanizePercentage }} of the budget.",
            },
        },
        {
            "alert": "LlmBudgetStopped",
            "expr": f"{SPENT} / on({key}) group_right {STOP} >= 1",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": f"LLM budget{scope} reached its stop (on_stop: {on_stop})",
                "description": "This period's spend is {{ $value | humanizePercentage }} of the stop level"
                " (limit x stop_at).",
            },
        },
    ]


def _budget_alert(low: int, high: int | None, severity: str) -> dict[str, Any]:
    expr = f"{BUDGET_USED} >= {low / 100:g}" + (f" < {high / 100:g}" if high is not None else "")
    band = f"{low}%" + (f"-{high}%" if high is not None else "+")
    return {
        "alert": BUDGET_ALERTS[low],
        "expr": expr,
        "for": "5m",
        "labels": {"severity": severity},
        "annotations": {
            "summary": f"Workflow {{{{ $labels.{LABEL_WORKFLOW_ID} }}}} used {band} of its monthly "
            "LLM budget",
            "description": "Month-to-date spend is {{ $value | humanizePercentage }} of the budget.",
        },
    }


def alert_rules() -> list[dict[str, Any]]:
    unpriced_by = (LABEL_SERVICE_NAME, LABEL_PROVIDER, LABEL_MODEL, LABEL_REASON)
    alerts = [_budget_alert(low, high, severity) for low, high, severity in BUDGET_BANDS]
    alerts += _scoped_budget_alerts()
    alerts += [
        {
            "alert": "LlmCostSpike",
            "expr": f"{LAST_HOUR} * 24 > {SPIKE_FACTOR} * {DAILY_AVG_7D} and {DAILY_AVG_7D} > 0",
            "for": "15m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"Workflow {{{{ $labels.{LABEL_WORKFLOW_ID} }}}} burns LLM budget "
                f"{SPIKE_FACTOR}x faster than its 7-day daily average",
                "description": "Last hour's spend, per day: ${{ $value | humanize }}.",
            },
        },
        {
            "alert": "LlmUnattributedShareHigh",
            "expr": f"{UNATTRIBUTED_SHARE} > {UNATTRIBUTED_SHARE_THRESHOLD:g}",
            "for": "1h",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": f"More than {UNATTRIBUTED_SHARE_THRESHOLD:.0%} of the last day's LLM spend has no "
                f"{LABEL_WORKFLOW_ID}",
                "description": "Unattributed share: {{ $value | humanizePercentage }}. Wrap the calls in "
                "costline.workflow(...).",
            },
        },
        {
            "alert": "LlmUnpricedRequests",
            "expr": f"{window_total(PROM_UNPRICED_REQUESTS_TOTAL, unpriced_by, HOUR)} > 0",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "costline could not price {{ $value }} LLM requests in the last hour "
                f"({{{{ $labels.{LABEL_MODEL} }}}}, {{{{ $labels.{LABEL_REASON} }}}})",
                "description": "Add the model to the price overrides file or fix the instrumentation.",
            },
        },
    ]
    return alerts


def rule_groups() -> dict[str, Any]:
    """Month-to-date reads the whole month several times (see `promql.month_to_date`), so it, budget use
    and the budget alerts on it are evaluated every 5 minutes; the rest every minute."""
    budget_records = [rule for rule in recording_rules() if rule["record"] in BUDGET_RECORDS]
    records = [rule for rule in recording_rules() if rule["record"] not in BUDGET_RECORDS]
    budget_alerts = [rule for rule in alert_rules() if rule["alert"] in BUDGET_ALERTS.values()]
    alerts = [rule for rule in alert_rules() if rule["alert"] not in BUDGET_ALERTS.values()]
    return {
        "groups": [
            {"name": "costline-recording", "interval": "1m", "rules": records},
            {
                "name": "costline-budgets",
                "interval": BUDGET_GROUP_INTERVAL,
                "rules": budget_records + budget_alerts,
            },
            {"name": "costline-alerts", "interval": "1m", "rules": alerts},
        ]
    }
