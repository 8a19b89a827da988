"""Every PromQL expression the dashboards and the ruler use, built from the names contract.

Totals over a window use `window_total`, not `increase()`: `increase()` extrapolates to the window edges and
drops the first value of a series born inside the window (a workflow's first burst would show as $0), which
is wrong for money. `window_total` takes, per series, the last value in the window minus the value at its
start, and counts a series born inside the window in full. It is exact wherever samples exist at both ends,
and it assumes costline's counters do not reset (they are restored from the ledger at start-up); a reset
would under-count that series for the window. Rates over time (burn rate, tokens/s) use `rate()` as usual.

Month-to-date on the dashboards is a *time range*, not PromQL: the panel's relative time is `now/M` ("this
month so far", dashboard timezone UTC), so `$__range` is the time since the 1st and `window_total` over it is
the month-to-date spend. The ruler has no dashboard time range; `month_to_date` finds the counter value at the
month start with an hour-resolution subquery over 31 days and `@ end()` (see `month_start_value`).
"""

from __future__ import annotations

from typing import Final

from costline.attributes import UNATTRIBUTED
from costline_processor.metric_names import (
    LABEL_MODEL,
    LABEL_OUTCOME,
    LABEL_PERIOD,
    LABEL_REASON,
    LABEL_SERVICE_NAME,
    LABEL_STATUS,
    LABEL_TENANT_ID,
    LABEL_TOKEN_TYPE,
    LABEL_WORKFLOW_ID,
    PERIOD_MONTHLY,
    PROM_BUDGET_USD,
    PROM_COST_USD_TOTAL,
    PROM_REQUESTS_TOTAL,
    PROM_TOKENS_TOTAL,
    PROM_UNPRICED_REQUESTS_TOTAL,
    PROM_WORKFLOW_OUTCOMES_TOTAL,
    STATUS_ERROR,
    TOKEN_CACHE_READ,
    TOKEN_CACHE_WRITE,
    TOKEN_INPUT,
)

RANGE: Final = "$__range"
RATE_INTERVAL: Final = "$__rate_interval"
# Dashboard variables are named after the label they filter.
FILTER_VARIABLES: Final = (LABEL_WORKFLOW_ID, LABEL_TENANT_ID, LABEL_SERVICE_NAME, LABEL_MODEL)
UNPRICED_FILTERS: Final = (LABEL_SERVICE_NAME, LABEL_MODEL)  # the unpriced counter has no attribution labels
OUTCOME_FILTERS: Final = (LABEL_WORKFLOW_ID,)
BUDGET_FILTERS: Final = (LABEL_WORKFLOW_ID,)
SECONDS_PER_DAY: Final = 86400


def selector(metric: str, filters: tuple[str, ...] = FILTER_VARIABLES, extra: str = "") -> str:
    """`metric{label=~"$label", ...}`; "All" is `.*`, so an unfiltered dashboard matches everything."""
    matchers = [f'{label}=~"${label}"' for label in filters]
    if extra:
        matchers.append(extra)
    return f"{metric}{{{', '.join(matchers)}}}" if matchers else metric


def window_total(series: str, by: tuple[str, ...] = (), window: str = RANGE) -> str:
    """Exact increase of counter `series` over `window`, summed by `by` (see the module docstring)."""
    grouping = f"sum by ({', '.join(by)}) " if by else "sum "
    last = f"max_over_time({series}[{window}])"
    first = f"{series} offset {window}"
    return f"{grouping}(({last} - {first}) or ({last} unless {first}))"


def cost(filters: tuple[str, ...] = FILTER_VARIABLES, extra: str = "") -> str:
    return selector(PROM_COST_USD_TOTAL, filters, extra)


def tokens(extra: str = "") -> str:
    return selector(PROM_TOKENS_TOTAL, extra=extra)


def requests(extra: str = "") -> str:
    return selector(PROM_REQUESTS_TOTAL, extra=extra)


# --- finance ---------------------------------------------------------------------------------------------


def spend_by(label: str) -> str:
    return f"sort_desc({window_total(cost(), (label,))})"


def top3_share() -> str:
    """Share of the three most expensive workflows; `unattributed` is not a workflow and never ranks."""
    by_workflow = window_total(cost(extra=f'{LABEL_WORKFLOW_ID}!="{UNATTRIBUTED}"'), (LABEL_WORKFLOW_ID,))
    return f"(sum(topk(3, {by_workflow})) or vector(0)) / {window_total(cost())}"


def unattributed_share() -> str:
    unattributed = window_total(cost(extra=f'{LABEL_WORKFLOW_ID}="{UNATTRIBUTED}"'))
    return f"({unattributed} or vector(0)) / {window_total(cost())}"


def monthly_budget() -> str:
    budget = selector(PROM_BUDGET_USD, BUDGET_FILTERS, f'{LABEL_PERIOD}="{PERIOD_MONTHLY}"')
    return f"max by ({LABEL_WORKFLOW_ID}) ({budget})"


def budget_used_ratio() -> str:
    """Month-to-date spend / monthly budget (the panel's range is `now/M`)."""
    spent = window_total(cost(), (LABEL_WORKFLOW_ID,))
    return f"{spent} / on({LABEL_WORKFLOW_ID}) {monthly_budget()}"


def remaining_days_of_month() -> str:
    """Days left in the (UTC) month, counting the rest of today as a fraction."""
    return (
        f"(scalar(days_in_month() - day_of_month()) + 1 - (time() % {SECONDS_PER_DAY}) / {SECONDS_PER_DAY})"
    )


def month_end_projection() -> str:
    """Month-to-date spend + the last 7 days' daily average for each remaining day (range is `now/M`)."""
    spent = window_total(cost(), (LABEL_WORKFLOW_ID,))
    last_week = window_total(cost(), (LABEL_WORKFLOW_ID,), "7d")
    return f"sort_desc({spent} + {last_week} / 7 * {remaining_days_of_month()})"


def cost_per_outcome() -> str:
    spent = window_total(cost(), (LABEL_WORKFLOW_ID,))
    outcomes = window_total(
        selector(PROM_WORKFLOW_OUTCOMES_TOTAL, OUTCOME_FILTERS), (LABEL_WORKFLOW_ID, LABEL_OUTCOME)
    )
    return f"{spent} / on({LABEL_WORKFLOW_ID}) group_right {outcomes}"


# --- engineering ------------------------------------------------------------------------------------------


def burn_rate_by(label: str) -> str:
    """USD per hour."""
    return f"sum by ({label}) (rate({cost()}[{RATE_INTERVAL}])) * 3600"


def tokens_rate_by_type() -> str:
    return f"sum by ({LABEL_TOKEN_TYPE}) (rate({tokens()}[{RATE_INTERVAL}]))"


def cache_hit_ratio() -> str:
    """Cache reads / all input tokens (uncached input + cache read + cache write), per workflow."""
    input_types = "|".join((TOKEN_INPUT, TOKEN_CACHE_READ, TOKEN_CACHE_WRITE))
    read = tokens(f'{LABEL_TOKEN_TYPE}="{TOKEN_CACHE_READ}"')
    every = tokens(f'{LABEL_TOKEN_TYPE}=~"{input_types}"')
    return (
        f"sum by ({LABEL_WORKFLOW_ID}) (rate({read}[{RATE_INTERVAL}]))"
        f" / sum by ({LABEL_WORKFLOW_ID}) (rate({every}[{RATE_INTERVAL}]))"
    )


def requests_rate() -> str:
    return f"sum by ({LABEL_WORKFLOW_ID}) (rate({requests()}[{RATE_INTERVAL}]))"


def error_ratio() -> str:
    errors = requests(f'{LABEL_STATUS}="{STATUS_ERROR}"')
    return (
        f"(sum by ({LABEL_WORKFLOW_ID}) (rate({errors}[{RATE_INTERVAL}])) or "
        f"sum by ({LABEL_WORKFLOW_ID}) (rate({requests()}[{RATE_INTERVAL}])) * 0)"
        f" / sum by ({LABEL_WORKFLOW_ID}) (rate({requests()}[{RATE_INTERVAL}]))"
    )


def unpriced_by_reason() -> str:
    unpriced = selector(PROM_UNPRICED_REQUESTS_TOTAL, UNPRICED_FILTERS)
    return f"sort_desc({window_total(unpriced, (LABEL_REASON, LABEL_MODEL))})"


def cost_per_request() -> str:
    spent = window_total(cost(), (LABEL_WORKFLOW_ID,))
    calls = window_total(requests(), (LABEL_WORKFLOW_ID,))
    return f"sort_desc({spent} / {calls})"


def spend_by_model() -> str:
    return spend_by(LABEL_MODEL)


# --- ruler (no dashboard variables: every series) ---------------------------------------------------------


def month_start_value(series: str) -> str:
    """Per-series counter value at 00:00 UTC on the 1st of the evaluation time's month.

    Inside the subquery `month()` is each hour step's month; the evaluation time's month is pinned with
    `@ end()`. Steps at or before the month start are those whose previous second lies in another month;
    the largest counter value among them is the value at the month start (month starts are hour-aligned,
    so a 1h step lands exactly on it). Series born inside the month have no such step: they count in full.
    """
    this_month = "scalar(month(max_over_time(vector(time())[1m:1m] @ end())))"
    before = f"(month(vector(time() - 1)) != {this_month})"
    return f"max_over_time(({series} and on() {before})[31d:1h])"


def month_to_date(series: str, by: tuple[str, ...]) -> str:
    start = month_start_value(series)
    return f"sum by ({', '.join(by)}) (({series} - {start}) or ({series} unless {start}))"
