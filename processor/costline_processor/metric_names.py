"""Metric and label names, defined once (docs/architecture.md, "The names contract").

Names are the OTLP instrument names; Prometheus/Mimir show them with the standard translation
(`llm.cost` with unit `USD` and monotonic sum -> `llm_cost_USD_total` is *not* what we want, so the OTLP
name already carries the unit word and the unit is an annotation such as `{USD}`, which adds no suffix:
`llm.cost.usd` -> `llm_cost_usd_total`; unit "1" would append `_ratio` to the budget gauge).
"""

from __future__ import annotations

from typing import Final

from costline import attributes as _shared
from costline.attributes import FEATURE_ID, TENANT_ID, WORKFLOW_ID

# OTLP instrument names
COST_USD: Final = "llm.cost.usd"
TOKENS: Final = "llm.tokens"
REQUESTS: Final = "llm.requests"
UNPRICED_REQUESTS: Final = "llm.unpriced_requests"
BUDGET_USD: Final = "llm.budget.usd"
BUDGET_SPENT_USD: Final = "llm.budget.spent.usd"
BUDGET_RATIO: Final = "llm.budget.ratio"
BUDGET_STOPPED: Final = "llm.budget.stopped"
BUDGET_STOP_USD: Final = "llm.budget.stop.usd"
BUDGET_BLOCKED_REQUESTS: Final = "llm.budget.blocked_requests"
WORKFLOW_OUTCOMES: Final = "llm.workflow.outcomes"
# Gauge: when this instance's counters started from zero (the ledger's creation); it changes on a reset.
COUNTERS_START_TIME: Final = "costline.counters.start_time"

# The names Prometheus/Mimir show (OTLP translation with suffixes)
PROM_COST_USD_TOTAL: Final = "llm_cost_usd_total"
PROM_TOKENS_TOTAL: Final = "llm_tokens_total"
PROM_REQUESTS_TOTAL: Final = "llm_requests_total"
PROM_UNPRICED_REQUESTS_TOTAL: Final = "llm_unpriced_requests_total"
PROM_BUDGET_USD: Final = _shared.PROM_BUDGET_USD  # the app's budget guard queries these three
PROM_BUDGET_SPENT_USD: Final = _shared.PROM_BUDGET_SPENT_USD
PROM_BUDGET_RATIO: Final = "llm_budget_ratio"
PROM_BUDGET_STOPPED: Final = "llm_budget_stopped"
PROM_BUDGET_STOP_USD: Final = _shared.PROM_BUDGET_STOP_USD
PROM_BUDGET_BLOCKED_REQUESTS_TOTAL: Final = "llm_budget_blocked_requests_total"
PROM_WORKFLOW_OUTCOMES_TOTAL: Final = "llm_workflow_outcomes_total"
PROM_COUNTERS_START_TIME_SECONDS: Final = "costline_counters_start_time_seconds"

# Labels
LABEL_WORKFLOW_ID: Final = WORKFLOW_ID
LABEL_FEATURE_ID: Final = FEATURE_ID
LABEL_TENANT_ID: Final = TENANT_ID
LABEL_SERVICE_NAME: Final = "service_name"
LABEL_PROVIDER: Final = "provider"
LABEL_MODEL: Final = "model"
LABEL_TOKEN_TYPE: Final = "token_type"
LABEL_STATUS: Final = "status"
LABEL_REASON: Final = "reason"
LABEL_PERIOD: Final = _shared.LABEL_PERIOD
LABEL_OUTCOME: Final = "outcome"
LABEL_ON_STOP: Final = _shared.LABEL_ON_STOP
LABEL_DOWNGRADE_TO: Final = _shared.LABEL_DOWNGRADE_TO
# Target labels Prometheus adds on scrape and Mimir derives from service.name / service.instance.id:
# together they name one costline instance (one ledger's counters).
LABEL_JOB: Final = "job"
LABEL_INSTANCE: Final = "instance"
INSTANCE_LABELS: Final = (LABEL_JOB, LABEL_INSTANCE)

COST_LABELS: Final = (
    LABEL_WORKFLOW_ID,
    LABEL_FEATURE_ID,
    LABEL_TENANT_ID,
    LABEL_SERVICE_NAME,
    LABEL_PROVIDER,
    LABEL_MODEL,
    LABEL_TOKEN_TYPE,
)
REQUEST_LABELS: Final = (
    LABEL_WORKFLOW_ID,
    LABEL_FEATURE_ID,
    LABEL_TENANT_ID,
    LABEL_SERVICE_NAME,
    LABEL_PROVIDER,
    LABEL_MODEL,
    LABEL_STATUS,
)
UNPRICED_LABELS: Final = (LABEL_SERVICE_NAME, LABEL_PROVIDER, LABEL_MODEL, LABEL_REASON)
# The budget series carry the budget's scope keys (a key outside the scope is absent) and its period; the
# legacy workflow budgets are labelled (workflow_id, period) as before.
BUDGET_SCOPE_LABELS: Final = (LABEL_WORKFLOW_ID, LABEL_FEATURE_ID, LABEL_TENANT_ID)
BUDGET_LABELS: Final = (*BUDGET_SCOPE_LABELS, LABEL_PERIOD)
BUDGET_STOP_LABELS: Final = (*BUDGET_LABELS, LABEL_ON_STOP, LABEL_DOWNGRADE_TO)
OUTCOME_LABELS: Final = (LABEL_WORKFLOW_ID, LABEL_OUTCOME)

# token_type values (reasoning is counted inside output)
TOKEN_INPUT: Final = "input"  # uncached input
TOKEN_CACHE_READ: Final = "cache_read"
TOKEN_CACHE_WRITE: Final = "cache_write"
TOKEN_OUTPUT: Final = "output"
TOKEN_TYPES: Final = (TOKEN_INPUT, TOKEN_CACHE_READ, TOKEN_CACHE_WRITE, TOKEN_OUTPUT)

# status values
STATUS_OK: Final = "ok"
STATUS_ERROR: Final = "error"

# unpriced reasons
REASON_UNKNOWN_MODEL: Final = "unknown_model"
REASON_NO_USAGE: Final = "no_usage"
REASON_INVALID_USAGE: Final = "invalid_usage"
UNPRICED_REASONS: Final = (REASON_UNKNOWN_MODEL, REASON_NO_USAGE, REASON_INVALID_USAGE)

# period values of the budget series (UTC calendar periods; the dashboards and the ruler compare
# month-to-date spend with the monthly ones)
PERIOD_DAILY: Final = _shared.BUDGET_PERIOD_DAILY
PERIOD_MONTHLY: Final = _shared.BUDGET_PERIOD_MONTHLY

OVERFLOW_LABEL_VALUE: Final = "__overflow__"

# --- self-telemetry of `costline serve` (the processor's own health, on /metrics) ----------------------
SELF_SPANS_RECEIVED: Final = "costline_spans_received_total"
SELF_LLM_SPANS_RECEIVED: Final = "costline_llm_spans_received_total"
SELF_SPANS_FORWARDED: Final = "costline_spans_forwarded_total"
SELF_SPANS_DROPPED: Final = "costline_spans_dropped_total"  # label reason: downstream rejected them for good
SELF_REQUESTS_REFUSED: Final = "costline_requests_refused_total"  # label reason (retryable refusals)
SELF_REQUESTS_INVALID: Final = "costline_requests_invalid_total"  # label reason (malformed, too large, auth)
SELF_FORWARD_FAILURES: Final = "costline_forward_failures_total"
SELF_INFLIGHT_BATCHES: Final = "costline_inflight_batches"  # gauge

# --- self-telemetry written by the ledger/metrics side (costline_processor.metrics) ----------------------
SELF_SPANS_PRICED: Final = "costline_spans_priced_total"
SELF_SPANS_UNPRICED: Final = "costline_spans_unpriced_total"  # label reason
SELF_DUPLICATES_IGNORED: Final = "costline_duplicates_ignored_total"  # label kind
# new calls counted on their own although a different call of their trace has their response id
SELF_RESPONSE_ID_COLLISIONS: Final = "costline_response_id_collisions_total"
# LLM spans whose start time was out of range: recorded at the time they arrived
SELF_START_TIME_OUT_OF_RANGE: Final = "costline_spans_start_time_out_of_range_total"
SELF_EXPORT_FAILURES: Final = "costline_export_failures_total"  # label target (otlp_metrics)
SELF_EXPORTS: Final = "costline_exports_total"  # label target: successful metric pushes
SELF_LABEL_OVERFLOW: Final = "costline_label_overflow_total"  # label label: the metric label that overflowed
# labels key (an attribution key) and rejected_by: a value costline.workflow() would refuse, not recorded
SELF_ATTRIBUTION_REJECTED: Final = "costline_attribution_rejected_total"
REJECTED_BY_INSTRUMENTATION: Final = "instrumentation"  # the app dropped it (propagated baggage)
REJECTED_BY_PROCESSOR: Final = "processor"  # it arrived on a span; the call is unattributed for that key

# OTLP units: curly-brace annotations, so Prometheus/Mimir append no unit suffix (docs/metrics.md).
UNIT_USD: Final = "{USD}"
UNIT_TOKEN: Final = "{token}"
UNIT_REQUEST: Final = "{request}"
UNIT_OUTCOME: Final = "{outcome}"
UNIT_SECONDS: Final = "s"  # a real unit: the translation appends `_seconds`

# Label value for a call whose model is unknown (no request or response model on the span).
UNKNOWN_MODEL: Final = "unknown"
