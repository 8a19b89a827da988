"""Every PromQL expression the dashboards and the ruler use, built from the names contract.

Money over a window (spend, budget use, cost per outcome or request, unpriced calls) is
`costline_processor.window_promql.window_total`: exact across replica churn, counter resets and missing
samples, where `increase()` would extrapolate to the window edges and miss a new series' first burst
(that module's docstring has the method; docs/metrics.md the guarantees). Rates over time (burn rate,
tokens/s) use `rate()` as usual.

Month-to-date on the dashboards is a *time range*, not PromQL: the panel's relative time is `now/M` ("this
month so far", dashboard timezone UTC), so `$__range` is the time since the 1st and `window_total` over it is
the month-to-date spend. The ruler has no dashboard time range: `month_to_date` adds up the exact totals of
the month's whole days, today's whole hours and this hour's whole minutes (see there).
"""

from __future__ import annotations

from typing import Final

from costline.attributes import UNATTRIBUTED
from costline_processor import window_promql
from costline_processor.metric_names import (
    LABEL_DOWNGRADE_TO,
    LABEL_FEATURE_ID,
    LABEL_MODEL,
    LABEL_ON_STOP,
    LABEL_OUTCOME,
    LABEL_PERIOD,
    LABEL_REASON,
    LABEL_SERVICE_NAME,
    LABEL_STATUS,
    LABEL_TENANT_ID,
    LABEL_TOKEN_TYPE,
    LABEL_WORKFLOW_ID,
    PERIOD_MONTHLY,
    PROM_BUDGET_SPENT_USD,
    PROM_BUDGET_STOP_USD,
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
from costline_processor.window_promql import SECONDS_PER_DAY, Window

RANGE: Final = Window("$__range", "$__range_s")  # Grafana's panel range, with its length in seconds
RATE_INTERVAL: Final = "$__rate_interval"
# Dashboard variables are named after the label they filter.
FILTER_VARIABLES: Final = (LABEL_WORKFLOW_ID, LABEL_TENANT_ID, LABEL_SERVICE_NAME, LABEL_MODEL)
UNPRICED_FILTERS: Final = (LABEL_SERVICE_NAME, LABEL_MODEL)  # the unpriced counter has no attribution labels
OUTCOME_FILTERS: Final = (LABEL_WORKFLOW_ID,)
BUDGET_FILTERS: Final = (LABEL_WORKFLOW_ID,)
# A budget is its scope (the keys it has; the others are absent, i.e. "") and its period.
BUDGET_KEY: Final = (LABEL_WORKFLOW_ID, LABEL_FEATURE_ID, LABEL_TENANT_ID, LABEL_PERIOD)
BUDGET_STOP_KEY: Final = (*BUDGET_KEY, LABEL_ON_STOP, LABEL_DOWNGRADE_TO)
# The budgets of one workflow_id alone: the ones month-to-date spend per workflow is compared with.
WORKFLOW_ONLY: Final = f'{LABEL_WORKFLOW_ID}!="", {LABEL_FEATURE_ID}="", {LABEL_TENANT_ID}=""'
WEEK: Final = Window.of(7 * SECONDS_PER_DAY)
DAY: Final = Window.of(SECONDS_PER_DAY)
MONTH_DAYS: Final = 30  # "month over month" on the dashboards: the last 30 days against the 30 before
MONTH: Final = Window.of(MONTH_DAYS * SECONDS_PER_DAY)
TWO_MONTHS: Final = Window.of(2 * MONTH_DAYS * SECONDS_PER_DAY)
# The ruler's month-to-date pieces: (window, subquery range:step, which steps' windows lie in the period).
_EVAL_TIME: Final = "max_over_time(vector(time())[1m:1m] @ end())"  # the evaluation time, to the minute
MONTH_PIECES: Final = (
    (Window.of(SECONDS_PER_DAY), "31d:1d",
     f"month(vector(time() - {SECONDS_PER_DAY})) == scalar(month({_EVAL_TIME}))"),
    (Window.of(3600), "1d:1h",
     f"floor(vector(time() - 3600) / {SECONDS_PER_DAY}) == scalar(floor({_EVAL_TIME} / {SECONDS_PER_DAY}))"),
    (Window.of(60), "1h:1m",
     f"floor(vector(time() - 60) / 3600) == scalar(floor({_EVAL_TIME} / 3600))"),
)  # fmt: skip
PIECE_LABEL: Final = "costline_piece"  # query-internal: keeps the pieces apart until they are summed


def selector(metric: str, filters: tuple[str, ...] = FILTER_VARIABLES, extra: str = "") -> str:
    """`metric{label=~"$label", ...}`; "All" is `.*`, so an unfiltered dashboard matches everything."""
    matchers = [f'{label}=~"${label}"' for label in filters]
    if extra:
        matchers.append(extra)
    return f"{metric}{{{', '.join(matchers)}}}" if matchers else metric


def window_total(series: str, by: tuple[str, ...] = (), window: Window = RANGE) -> str:
    """What counter `series` added over `window` (the panel's range by default), summed by `by`."""
    return window_promql.window_total(series, by, window)


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
    budget = selector(PROM_BUDGET_USD, BUDGET_FILTERS, f'{LABEL_PERIOD}="{PERIOD_MONTHLY}", {WORKFLOW_ONLY}')
    return f"max by ({LABEL_WORKFLOW_ID}) ({budget})"


def budget_used_ratio() -> str:
    """Month-to-date spend / monthly budget (the panel's range is `now/M`)."""
    spent = window_total(cost(), (LABEL_WORKFLOW_ID,))
    return f"{spent} / on({LABEL_WORKFLOW_ID}) {monthly_budget()}"


def _by(labels: tuple[str, ...]) -> str:
    return ", ".join(labels)


def budget_spent(filters: tuple[str, ...] = BUDGET_FILTERS) -> str:
    """Each budget's spend this period: the replicas' ledger shares (`llm_budget_spent_usd`) summed."""
    return f"sum by ({_by(BUDGET_KEY)}) ({selector(PROM_BUDGET_SPENT_USD, filters)})"


def budget_limit(filters: tuple[str, ...] = BUDGET_FILTERS) -> str:
    return f"max by ({_by(BUDGET_KEY)}) ({selector(PROM_BUDGET_USD, filters)})"


def budget_ratio(spent: str | None = None, limit: str | None = None) -> str:
    """Spent / limit per budget, every scope and period (the figure GET /v1/budgets shows per replica)."""
    return f"{spent or budget_spent()} / on({_by(BUDGET_KEY)}) {limit or budget_limit()}"


def budget_stop(filters: tuple[str, ...] = BUDGET_FILTERS) -> str:
    """The spend at which a budget with `stop_at` stops, with its on_stop and downgrade_to."""
    return f"max by ({_by(BUDGET_STOP_KEY)}) ({selector(PROM_BUDGET_STOP_USD, filters)})"


def budget_stopped(spent: str | None = None, stop: str | None = None) -> str:
    """1 for a budget whose spend (all replicas) reached its stop, else 0: the app's guard's rule."""
    return f"{spent or budget_spent()} >= bool on({_by(BUDGET_KEY)}) group_right {stop or budget_stop()}"


def remaining_days_of_month() -> str:
    """Days left in the (UTC) month, counting the rest of today as a fraction."""
    return (
        f"(scalar(days_in_month() - day_of_month()) + 1 - (time() % {SECONDS_PER_DAY}) / {SECONDS_PER_DAY})"
    )


def month_end_projection() -> str:
    """Month-to-date spend + the last 7 days' daily average for each remaining day (range is `now/M`)."""
    spent = window_total(cost(), (LABEL_WORKFLOW_ID,))
    last_week = window_total(cost(), (LABEL_WORKFLOW_ID,), WEEK)
    return f"sort_desc({spent} + {last_week} / 7 * {remaining_days_of_month()})"


def cost_per_outcome() -> str:
    spent = window_total(cost(), (LABEL_WORKFLOW_ID,))
    outcomes = window_total(
        selector(PROM_WORKFLOW_OUTCOMES_TOTAL, OUTCOME_FILTERS), (LABEL_WORKFLOW_ID, LABEL_OUTCOME)
    )
    return f"{spent} / on({LABEL_WORKFLOW_ID}) group_right {outcomes}"


def month_over_month_change() -> str:
    """Spend in the last 30 days minus the 30 days before, per workflow: the 60-day total is both, so the
    change is twice the last 30 days less the 60 days (exact, as each total is)."""
    last = window_total(cost(), (LABEL_WORKFLOW_ID,), MONTH)
    both = window_total(cost(), (LABEL_WORKFLOW_ID,), TWO_MONTHS)
    return f"sort_desc(2 * {last} - {both})"


def daily_cost_per_outcome() -> str:
    """At each step: the workflow's spend of the day before it over the outcomes recorded in that day."""
    spent = window_total(cost(), (LABEL_WORKFLOW_ID,), DAY)
    outcomes = window_total(
        selector(PROM_WORKFLOW_OUTCOMES_TOTAL, OUTCOME_FILTERS), (LABEL_WORKFLOW_ID, LABEL_OUTCOME), DAY
    )
    return f"{spent} / on({LABEL_WORKFLOW_ID}) group_right {outcomes}"


def remaining_days_of_year() -> str:
    """Days left in the (UTC) year, counting the rest of today as a fraction."""
    year = "scalar(year())"
    days = f"(365 + ({year} % 4 == bool 0) - ({year} % 100 == bool 0) + ({year} % 400 == bool 0))"
    return f"({days} - scalar(day_of_year()) + 1 - (time() % {SECONDS_PER_DAY}) / {SECONDS_PER_DAY})"


def year_end_projection() -> str:
    """Spend so far this year (the panel's range is `now/y`) + the rest of the year at the 30-day growth rate,
    as `costline report --compare` projects: the last 30 days' spend per day, compounding from their midpoint
    at g per day, g = (last 30 days / the 30 before)^(1/30); at a flat pace when there is no growth to
    measure (no spend before, no spend now, or none changed)."""
    so_far = window_total(cost())
    last = window_total(cost(), (), MONTH)
    before = f"({window_total(cost(), (), TWO_MONTHS)} - {last})"
    growth = f"(({last} / {before}) ^ (1 / {MONTH_DAYS}))"
    days = remaining_days_of_year()
    ahead = f"{last} / {MONTH_DAYS} * {growth} ^ {MONTH_DAYS / 2} * ({growth} ^ {days} - 1) / ln({growth})"
    measured = f"({before} > 0) and on() ({last} > 0) and on() ({last} != {before})"
    return f"(({so_far} + {ahead}) and on() {measured}) or ({so_far} + {last} / {MONTH_DAYS} * {days})"


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


def month_to_date(series: str, by: tuple[str, ...]) -> str:
    """Spend since 00:00 UTC on the 1st, up to the evaluation time's last whole minute.

    A range selector's length is a constant, so the month is cut into pieces that are: its whole days,
    today's whole hours and this hour's whole minutes. Each piece is a subquery whose steps land on the
    UTC day, hour or minute boundaries (subquery steps are aligned to multiples of the step, and month,
    day and hour starts are such multiples); at each step `window_total` gives the exact total of the
    day, hour or minute that ends there, and the steps whose window lies in the period are summed.
    Inside a subquery `time()` is the step's time; the evaluation time is pinned with `@ end()`.
    """
    pieces = []
    for window, subquery, in_period in MONTH_PIECES:
        steps = f"sum_over_time(({window_total(series, by, window)} and on() ({in_period}))[{subquery}])"
        pieces.append(f'label_replace({steps}, "{PIECE_LABEL}", "{window.range}", "", "")')
    return f"sum by ({', '.join(by)}) ({' or '.join(pieces)})"
