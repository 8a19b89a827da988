"""The "LLM cost - engineering" dashboard: burn rate, models, tokens, cache, errors, pricing gaps, traces."""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import dashboard as dbm

from costline_processor.metric_names import LABEL_MODEL, LABEL_REASON, LABEL_TOKEN_TYPE, LABEL_WORKFLOW_ID
from dashboards import promql, traceql
from dashboards.panels import bars, datasource_variables, filter_variables, graph, grid, query, traceql_table

UID: Final = "costline-engineering"
TITLE: Final = "LLM cost - engineering"
USD_PER_HOUR: Final = "currencyUSD"
DEFAULT_MIN_TRACE_COST: Final = "0.05"


def _label(name: str) -> str:
    return f"{{{{{name}}}}}"


def _burn_rate() -> Builder[dbm.Panel]:
    # Exemplars: costline attaches the trace id of a call to its cost sample; Grafana links it to Tempo
    # through the datasource's exemplarTraceIdDestinations (dashboards/provisioning/datasources).
    target = query(promql.burn_rate_by(LABEL_WORKFLOW_ID), legend=_label(LABEL_WORKFLOW_ID)).exemplar(True)
    return graph(
        1, "Burn rate by workflow (USD/hour)", grid(0, 0, 12, 8), [target], USD_PER_HOUR
    ).description("Click an exemplar (a dot) to open the trace of a call behind the spend in Tempo.")


def _model_cost() -> Builder[dbm.Panel]:
    target = query(promql.burn_rate_by(LABEL_MODEL), legend=_label(LABEL_MODEL)).exemplar(True)
    return graph(
        2, "Cost by model in the selected workflows (USD/hour)", grid(12, 0, 12, 8), [target], USD_PER_HOUR
    )


def _traffic_panels() -> list[Builder[dbm.Panel]]:
    wf = _label(LABEL_WORKFLOW_ID)
    return [
        graph(
            3,
            "Tokens by type (tokens/s)",
            grid(0, 8, 8, 8),
            [query(promql.tokens_rate_by_type(), legend=_label(LABEL_TOKEN_TYPE))],
            "short",
        ),
        graph(
            4,
            "Cache hit ratio",
            grid(8, 8, 8, 8),
            [query(promql.cache_hit_ratio(), legend=wf)],
            "percentunit",
        ),
        graph(5, "Requests (req/s)", grid(16, 8, 8, 8), [query(promql.requests_rate(), legend=wf)], "reqps"),
        graph(6, "Error rate", grid(0, 16, 8, 8), [query(promql.error_ratio(), legend=wf)], "percentunit"),
        bars(
            7,
            "Unpriced requests by reason",
            grid(8, 16, 8, 8),
            promql.unpriced_by_reason(),
            legend=f"{_label(LABEL_REASON)} ({_label(LABEL_MODEL)})",
            unit="short",
        ),
        bars(8, "Average cost per request", grid(16, 16, 8, 8), promql.cost_per_request(), legend=wf),
    ]


def _trace_panels() -> list[Builder[dbm.Panel]]:
    return [
        traceql_table(
            9, "Calls per trace (retry and agent loops)", grid(0, 24, 12, 10), traceql.calls_per_trace()
        ),
        traceql_table(10, "Most expensive traces", grid(12, 24, 12, 10), traceql.most_expensive_traces()),
    ]


def _min_cost_variable() -> db.TextBoxVariable:
    return (
        db.TextBoxVariable(traceql.MIN_TRACE_COST_VAR)
        .label("Trace cost at least (USD)")
        .default_value(DEFAULT_MIN_TRACE_COST)
    )


def engineering_dashboard() -> db.Dashboard:
    panels = [_burn_rate(), _model_cost(), *_traffic_panels(), *_trace_panels()]
    dashboard = (
        db.Dashboard(TITLE)
        .uid(UID)
        .tags(["costline", "llm", "engineering"])
        .description(
            "Why is a workflow expensive? Burn rate, models, tokens, cache, errors and the traces behind "
            "them."
        )
        .timezone("utc")
        .time("now-24h", "now")
        .refresh("1m")
        .tooltip(dbm.DashboardCursorSync.CROSSHAIR)
        .readonly()
    )
    for variable in [*datasource_variables(), *filter_variables(), _min_cost_variable()]:
        dashboard = dashboard.with_variable(variable)
    for panel in panels:
        dashboard = dashboard.with_panel(panel)
    return dashboard
