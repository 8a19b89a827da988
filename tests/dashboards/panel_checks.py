"""What each dashboard panel is checked against, shared by the history and the live Prometheus tests."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from dashboards.promql import FILTER_VARIABLES
from grafana_queries import regex_value
from prom_expected import Expectations, Filters, Values

from costline_processor.metric_names import (
    LABEL_MODEL,
    LABEL_OUTCOME,
    LABEL_PERIOD,
    LABEL_REASON,
    LABEL_SERVICE_NAME,
    LABEL_TENANT_ID,
    LABEL_TOKEN_TYPE,
    LABEL_WORKFLOW_ID,
)

FINANCE, ENGINEERING = "costline-finance", "costline-engineering"
WF, MODEL = (LABEL_WORKFLOW_ID,), (LABEL_MODEL,)
BUDGET = (LABEL_WORKFLOW_ID, LABEL_PERIOD)
Instant = Callable[[Expectations, int], Values]

INSTANT: dict[tuple[str, int, str], tuple[tuple[str, ...], Instant]] = {
    (FINANCE, 1, "A"): (WF, lambda e, r: e.by_label(r, "workflow_id")),
    (FINANCE, 2, "A"): ((), lambda e, r: e.top3_share(r)),
    (FINANCE, 3, "A"): ((), lambda e, r: e.unattributed_share(r)),
    (FINANCE, 4, "A"): ((), lambda e, r: {(): float(e.total(r))}),
    (FINANCE, 5, "A"): (WF, lambda e, r: e.by_label(r, "workflow_id")),
    (FINANCE, 5, "B"): (WF, lambda e, r: {k: float(v) for k, v in e.budgets().items()}),
    (FINANCE, 5, "C"): (WF, lambda e, r: e.budget_ratio(r)),
    (FINANCE, 6, "A"): (WF, lambda e, r: e.projection(r)),
    (FINANCE, 7, "A"): ((LABEL_WORKFLOW_ID, LABEL_OUTCOME), lambda e, r: e.cost_per_outcome(r)),
    (FINANCE, 8, "A"): ((LABEL_TENANT_ID,), lambda e, r: e.by_label(r, "tenant_id")),
    (FINANCE, 9, "A"): ((LABEL_SERVICE_NAME,), lambda e, r: e.by_label(r, "service_name")),
    (FINANCE, 10, "A"): (BUDGET, lambda e, r: {k: float(v) for k, v in e.budget_spent().items()}),
    (FINANCE, 10, "B"): (BUDGET, lambda e, r: e.budget_gauge_ratio()),
    (FINANCE, 10, "C"): (BUDGET, lambda e, r: e.budget_stop()),
    (FINANCE, 10, "D"): (BUDGET, lambda e, r: e.budget_stopped()),
    (FINANCE, 11, "A"): (WF, lambda e, r: e.month_over_month()),
    (FINANCE, 13, "A"): ((), lambda e, r: e.year_end(r)),
    (ENGINEERING, 7, "A"): ((LABEL_REASON, LABEL_MODEL), lambda e, r: e.unpriced(r)),
    (ENGINEERING, 8, "A"): (WF, lambda e, r: e.cost_per_request(r)),
}
RANGE: dict[tuple[str, int, str], tuple[tuple[str, ...], str]] = {
    (FINANCE, 12, "A"): ((LABEL_WORKFLOW_ID, LABEL_OUTCOME), "outcome_daily"),
    (ENGINEERING, 1, "A"): (WF, "burn_workflow"),
    (ENGINEERING, 2, "A"): (MODEL, "burn_model"),
    (ENGINEERING, 3, "A"): ((LABEL_TOKEN_TYPE,), "tokens"),
    (ENGINEERING, 4, "A"): (WF, "cache"),
    (ENGINEERING, 5, "A"): (WF, "requests"),
    (ENGINEERING, 6, "A"): (WF, "errors"),
}
FILTERS = {
    "all": Filters(),
    "filtered": Filters(workflow_id=("customer_support", "code_review"), model=("gpt-4o", "gpt-4o-mini")),
}


def variables(filters: Filters) -> dict[str, str]:
    return {name: regex_value(list(getattr(filters, name) or []) or None) for name in FILTER_VARIABLES}


def series_values(result: list[dict[str, Any]], labels: tuple[str, ...], index: int = -1) -> Values:
    """Label values -> number, of an instant result or of one step of a range result."""
    found: Values = {}
    for series in result:
        point = series["value"] if "value" in series else series["values"][index]
        found[tuple(series["metric"].get(label, "") for label in labels)] = float(point[1])
    return found


def assert_equal(actual: Values, expected: Values, context: str) -> None:
    assert set(actual) == set(expected), (
        f"{context}: label sets differ: {sorted(actual)} != {sorted(expected)}"
    )
    for key, want in expected.items():
        got = actual[key]
        if math.isnan(want):
            assert math.isnan(got), f"{context} {key}: {got} != NaN"
        else:
            assert got == pytest.approx(want, rel=1e-9, abs=1e-12), f"{context} {key}: {got} != {want}"
