"""Metric and label names, defined once (DESIGN.md "Metrics").

Names are the OTLP instrument names; Prometheus/Mimir show them with the standard translation
(`llm.cost` with unit `USD` and monotonic sum -> `llm_cost_USD_total` is *not* what we want, so the OTLP
name already carries the unit word and the unit is left empty/"1": `llm.cost.usd` -> `llm_cost_usd_total`).
"""

from __future__ import annotations

from typing import Final

from costline.attributes import FEATURE_ID, TENANT_ID, WORKFLOW_ID

# OTLP instrument names
COST_USD: Final = "llm.cost.usd"
TOKENS: Final = "llm.tokens"
REQUESTS: Final = "llm.requests"
UNPRICED_REQUESTS: Final = "llm.unpriced_requests"
BUDGET_USD: Final = "llm.budget.usd"
WORKFLOW_OUTCOMES: Final = "llm.workflow.outcomes"

# The names Prometheus/Mimir show (OTLP translation with suffixes)
PROM_COST_USD_TOTAL: Final = "llm_cost_usd_total"
PROM_TOKENS_TOTAL: Final = "llm_tokens_total"
PROM_REQUESTS_TOTAL: Final = "llm_requests_total"
PROM_UNPRICED_REQUESTS_TOTAL: Final = "llm_unpriced_requests_total"
PROM_BUDGET_USD: Final = "llm_budget_usd"
PROM_WORKFLOW_OUTCOMES_TOTAL: Final = "llm_workflow_outcomes_total"

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
LABEL_PERIOD: Final = "period"
LABEL_OUTCOME: Final = "outcome"

COST_LABELS: Final = (
    LABEL_WORKFLOW_ID, LABEL_FEATURE_ID, LABEL_TENANT_ID, LABEL_SERVICE_NAME, LABEL_PROVIDER, LABEL_MODEL,
    LABEL_TOKEN_TYPE,
)
REQUEST_LABELS: Final = (
    LABEL_WORKFLOW_ID, LABEL_FEATURE_ID, LABEL_TENANT_ID, LABEL_SERVICE_NAME, LABEL_PROVIDER, LABEL_MODEL,
    LABEL_STATUS,
)
UNPRICED_LABELS: Final = (LABEL_SERVICE_NAME, LABEL_PROVIDER, LABEL_MODEL, LABEL_REASON)
BUDGET_LABELS: Final = (LABEL_WORKFLOW_ID, LABEL_PERIOD)
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

OVERFLOW_LABEL_VALUE: Final = "__overflow__"
