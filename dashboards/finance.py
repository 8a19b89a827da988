"""The "LLM cost - finance" dashboard: where the money goes (workflow, tenant, service) and the budget."""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import dashboard as dbm

from costline_processor.metric_names import (
    LABEL_FEATURE_ID,
    LABEL_OUTCOME,
    LABEL_PERIOD,
    LABEL_SERVICE_NAME,
    LABEL_TENANT_ID,
    LABEL_WORKFLOW_ID,
)
from dashboards import promql
from dashboards.panels import (
    MONTH_SO_FAR,
    USD,
    bars,
    datasource_variables,
    filter_variables,
    graph,
    grid,
    prom_table,
    query,
    single_stat,
)

UID: Final = "costline-finance"
TITLE: Final = "LLM cost - finance"
YEAR_SO_FAR: Final = "now/y"  # Grafana's "This year so far"; the dashboard's timezone is UTC


def _change_panels() -> list[Builder[dbm.Panel]]:
    """What `costline report --compare` answers, on the metrics: the change, cost per outcome over time,
    and the year end at the current growth rate."""
    wf, outcome = f"{{{{{LABEL_WORKFLOW_ID}}}}}", f"{{{{{LABEL_OUTCOME}}}}}"
    change = bars(
        11,
        "Month over month change by workflow",
        grid(0, 34, 12, 8),
        promql.month_over_month_change(),
        legend=wf,
    ).description("Spend in the last 30 days minus the 30 days before (UTC, whatever the time range).")
    per_outcome = graph(
        12,
        "Cost per outcome over time (per day)",
        grid(12, 34, 12, 8),
        [query(promql.daily_cost_per_outcome(), legend=f"{wf} / {outcome}")],
        USD,
    ).description("At each point: the workflow's spend in the day before it over the outcomes of that day.")
    year_end = (
        single_stat(13, "Year-end projection", grid(0, 42, 12, 5), promql.year_end_projection(), USD)
        .time_from(YEAR_SO_FAR)
        .description(
            "Spend so far this year plus the rest of the year at the 30-day growth rate (the last 30 days"
            " against the 30 before), as costline report --compare projects it; at a flat pace when no growth"
            " can be measured."
        )
    )
    return [change, per_outcome, year_end]


def _budget_table() -> Builder[dbm.Panel]:
    wf = f"{{{{{LABEL_WORKFLOW_ID}}}}}"
    spent = promql.window_total(promql.cost(), (LABEL_WORKFLOW_ID,))
    targets = [
        query(spent, "A", legend=wf, instant=True),
        query(promql.monthly_budget(), "B", legend=wf, instant=True),
        query(promql.budget_used_ratio(), "C", legend=wf, instant=True),
    ]
    panel = prom_table(5, "Month-to-date spend vs budget", grid(0, 9, 12, 9), targets)
    return (
        panel.time_from(MONTH_SO_FAR)
        .description(
            "Spend since the 1st (UTC), the workflow's monthly budget (llm_budget_usd) and the share used."
        )
        .override_by_name("Value #A", [dbm.DynamicConfigValue(id_val="unit", value=USD)])
        .override_by_name("Value #B", [dbm.DynamicConfigValue(id_val="unit", value=USD)])
        .override_by_name("Value #C", [dbm.DynamicConfigValue(id_val="unit", value="percentunit")])
    )


def _outcome_table() -> Builder[dbm.Panel]:
    legend = f"{{{{{LABEL_WORKFLOW_ID}}}}} / {{{{{LABEL_OUTCOME}}}}}"
    target = query(promql.cost_per_outcome(), "A", legend=legend, instant=True)
    return (
        prom_table(7, "Cost per business outcome", grid(0, 18, 12, 8), [target])
        .description("Spend in the range divided by the outcomes recorded with costline.record_outcome().")
        .unit(USD)
    )


def _budget_state_table() -> Builder[dbm.Panel]:
    """What `GET /v1/budgets` and the app's guard go by, every budget of the budgets file."""
    scope = (LABEL_WORKFLOW_ID, LABEL_FEATURE_ID, LABEL_TENANT_ID, LABEL_PERIOD)
    legend = " ".join(f"{{{{{label}}}}}" for label in scope)
    targets = [
        query(promql.budget_spent(), "A", legend=legend, instant=True),
        query(promql.budget_ratio(), "B", legend=legend, instant=True),
        query(promql.budget_stop(), "C", legend=legend, instant=True),
        query(promql.budget_stopped(), "D", legend=legend, instant=True),
    ]
    panel = prom_table(10, "Budgets: spent this period, stop state", grid(0, 26, 24, 8), targets)
    return (
        panel.description(
            "Every budget of the budgets file (any scope, daily or monthly) as costline serve keeps it:"
            " spend of the current UTC period (llm_budget_spent_usd, summed over the replicas), its share of"
            " the limit, the stop level (limit x stop_at) and 1 once the spend reached it: the app's calls"
            " are then blocked or downgraded (on_stop)."
        )
        .override_by_name("Value #A", [dbm.DynamicConfigValue(id_val="unit", value=USD)])
        .override_by_name("Value #B", [dbm.DynamicConfigValue(id_val="unit", value="percentunit")])
        .override_by_name("Value #C", [dbm.DynamicConfigValue(id_val="unit", value=USD)])
    )


def finance_dashboard() -> db.Dashboard:
    wf = f"{{{{{LABEL_WORKFLOW_ID}}}}}"
    total = promql.window_total(promql.cost())
    panels: list[Builder[dbm.Panel]] = [
        bars(1, "Spend by workflow", grid(0, 0, 12, 9), promql.spend_by(LABEL_WORKFLOW_ID), legend=wf),
        single_stat(2, "Top-3 workflows' share", grid(12, 0, 6, 4), promql.top3_share(), "percentunit"),
        single_stat(3, "Unattributed share", grid(18, 0, 6, 4), promql.unattributed_share(), "percentunit"),
        single_stat(4, "Total spend", grid(12, 4, 12, 5), total, USD),
        _budget_table(),
        bars(
            6, "Month-end projection", grid(12, 9, 12, 9), promql.month_end_projection(), legend=wf
        ).time_from(MONTH_SO_FAR),
        _outcome_table(),
        bars(
            8,
            "Spend by tenant",
            grid(12, 18, 6, 8),
            promql.spend_by(LABEL_TENANT_ID),
            legend=f"{{{{{LABEL_TENANT_ID}}}}}",
        ),
        bars(
            9,
            "Spend by service",
            grid(18, 18, 6, 8),
            promql.spend_by(LABEL_SERVICE_NAME),
            legend=f"{{{{{LABEL_SERVICE_NAME}}}}}",
        ),
        _budget_state_table(),
        *_change_panels(),
    ]
    dashboard = (
        db.Dashboard(TITLE)
        .uid(UID)
        .tags(["costline", "llm", "finance"])
        .description(
            "Which business workflow is burning the LLM budget? Totals are exact for the time range."
        )
        .timezone("utc")
        .time("now-30d", "now")
        .refresh("5m")
        .readonly()
    )
    for variable in [*datasource_variables(), *filter_variables()]:
        dashboard = dashboard.with_variable(variable)
    for panel in panels:
        dashboard = dashboard.with_panel(panel)
    return dashboard
