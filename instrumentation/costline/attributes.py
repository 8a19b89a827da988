"""Every attribute, baggage key and span name costline reads or writes, defined once.

The instrumentation, the processor, the dashboards' generator and the tests import these names; a string
literal for any of them elsewhere is a bug (docs/architecture.md, "The names contract").
"""

from __future__ import annotations

from typing import Final

# --- attribution keys: baggage key == span attribute == metric label -------------------------------------
WORKFLOW_ID: Final = "workflow_id"
FEATURE_ID: Final = "feature_id"
TENANT_ID: Final = "tenant_id"
USER_ID: Final = "user_id"
ATTRIBUTION_KEYS: Final = (WORKFLOW_ID, FEATURE_ID, TENANT_ID, USER_ID)
# user_id is high-cardinality: spans only, never a metric label.
METRIC_ATTRIBUTION_KEYS: Final = (WORKFLOW_ID, FEATURE_ID, TENANT_ID)
UNATTRIBUTED: Final = "unattributed"

# --- OTel GenAI semantic conventions (newest names) ------------------------------------------------------
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"  # inclusive of cache read + cache write
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"  # inclusive of reasoning tokens
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"  # older name
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_OPENAI_REQUEST_SERVICE_TIER: Final = "gen_ai.openai.request.service_tier"
GEN_AI_OPENAI_RESPONSE_SERVICE_TIER: Final = "gen_ai.openai.response.service_tier"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
# Cloud and AWS SDK conventions (what opentelemetry-instrumentation-botocore writes too): the client's region
# and the request id AWS returned (Bedrock's Converse has no other response id).
CLOUD_REGION: Final = "cloud.region"
AWS_REQUEST_ID: Final = "aws.request_id"

# Deprecated semconv names still emitted by older instrumentations (read by the processor, never written).
GEN_AI_SYSTEM: Final = "gen_ai.system"
GEN_AI_USAGE_PROMPT_TOKENS: Final = "gen_ai.usage.prompt_tokens"
GEN_AI_USAGE_COMPLETION_TOKENS: Final = "gen_ai.usage.completion_tokens"

# gen_ai.operation.name values
OPERATION_CHAT: Final = "chat"
OPERATION_TEXT_COMPLETION: Final = "text_completion"
OPERATION_EMBEDDINGS: Final = "embeddings"
OPERATION_GENERATE_CONTENT: Final = "generate_content"

# gen_ai.provider.name values
PROVIDER_OPENAI: Final = "openai"
PROVIDER_AZURE_OPENAI: Final = "azure.ai.openai"
PROVIDER_ANTHROPIC: Final = "anthropic"
PROVIDER_AWS_BEDROCK: Final = "aws.bedrock"
PROVIDER_GCP_VERTEX_AI: Final = "gcp.vertex_ai"
PROVIDER_GROQ: Final = "groq"
PROVIDER_DEEPSEEK: Final = "deepseek"
PROVIDER_X_AI: Final = "x_ai"
PROVIDER_MISTRAL_AI: Final = "mistral_ai"
PROVIDER_PERPLEXITY: Final = "perplexity"
PROVIDER_OPENROUTER: Final = "openrouter"
PROVIDER_TOGETHER: Final = "together"
PROVIDER_FIREWORKS: Final = "fireworks"
PROVIDER_GEMINI: Final = "gcp.gemini"
PROVIDER_SELF_HOSTED: Final = "openai_compatible"
PROVIDER_UNKNOWN: Final = "unknown"  # the processor could not tell who served the call

# --- facts semconv has no name for yet: the llm. namespace ---------------------------------------------
LLM_USAGE_CACHE_WRITE_1H_INPUT_TOKENS: Final = "llm.usage.cache_write_1h.input_tokens"
LLM_USAGE_ESTIMATED: Final = "llm.usage.estimated"
LLM_REQUEST_BATCH: Final = "llm.request.batch"
LLM_SERVICE_TIER: Final = "llm.service_tier"  # provider-neutral tier: default, flex, priority, batch
LLM_INSTRUMENTATION: Final = "llm.instrumentation"  # which costline wrapper produced the span
# The attribution keys whose propagated value was invalid and dropped (string array; absent when none was).
LLM_ATTRIBUTION_REJECTED: Final = "llm.attribution.rejected"

# --- budget guardrails (costline._budget_guard): what the guard did to a call -----------------------------
LLM_BUDGET_BLOCKED: Final = "llm.budget.blocked"  # True: BudgetExceeded was raised, nothing was sent
LLM_BUDGET_SCOPE: Final = "llm.budget.scope"  # the budget's scope: "workflow_id=support;tenant_id=acme"
LLM_BUDGET_PERIOD: Final = "llm.budget.period"  # daily | monthly
LLM_BUDGET_DOWNGRADED_FROM: Final = "llm.budget.downgraded_from"  # the model the app asked for
LLM_BUDGET_WOULD_BLOCK: Final = "llm.budget.would_block"  # dry run: a block budget is stopped
LLM_BUDGET_WOULD_DOWNGRADE_TO: Final = "llm.budget.would_downgrade_to"  # dry run: the model it would send
# On a framework's own LLM span (LangChain's, via OpenInference/OpenLLMetry...): the span id (hex) of
# costline's span of the same call, so the processor counts the call once (costline._mirrors).
LLM_MIRRORED_BY: Final = "llm.mirrored_by"

# --- the budgets vocabulary both sides share: `costline serve` exports and serves it, the guard reads it ---
BUDGET_PERIOD_DAILY: Final = "daily"  # UTC calendar periods
BUDGET_PERIOD_MONTHLY: Final = "monthly"
BUDGET_ON_STOP_BLOCK: Final = "block"
BUDGET_ON_STOP_DOWNGRADE: Final = "downgrade"
BUDGET_STATUS_STOPPED: Final = "stopped"  # GET /v1/budgets `status` of a budget at or over its stop
# Series names as Prometheus/Mimir show them, and their labels (the guard's PromQL source sums them).
PROM_BUDGET_USD: Final = "llm_budget_usd"
PROM_BUDGET_SPENT_USD: Final = "llm_budget_spent_usd"
PROM_BUDGET_STOP_USD: Final = "llm_budget_stop_usd"
LABEL_PERIOD: Final = "period"
LABEL_ON_STOP: Final = "on_stop"
LABEL_DOWNGRADE_TO: Final = "downgrade_to"

# --- written by the processor ----------------------------------------------------------------------------
LLM_COST_USD: Final = "llm.cost.usd"
LLM_COST_INPUT_USD: Final = "llm.cost.input.usd"
LLM_COST_OUTPUT_USD: Final = "llm.cost.output.usd"
LLM_COST_CACHE_READ_USD: Final = "llm.cost.cache_read.usd"
LLM_COST_CACHE_WRITE_USD: Final = "llm.cost.cache_write.usd"
LLM_PRICING_SOURCE: Final = "llm.pricing.source"
LLM_COST_UNPRICED_REASON: Final = "llm.cost.unpriced_reason"
LLM_COST_UNPRICED_DETAIL: Final = "llm.cost.unpriced_detail"  # why, naming the candidates (never a label)
# The de facto total-cost attribute (USD, double): LiteLLM writes it, Langfuse and OpenLIT read it, so a
# trace UI shows costline's price. The semconv proposal (gen_ai.usage.cost.amount/.currency) is not merged.
GEN_AI_USAGE_COST: Final = "gen_ai.usage.cost"
LLM_COST_DUPLICATE_OF: Final = "llm.cost.duplicate_of"  # span id of the span that carries the priced call
# true when the span's start time was out of range (unset, older than retention, a day ahead): the ledger
# recorded the call at the time it arrived instead
LLM_COST_START_TIME_OUT_OF_RANGE: Final = "llm.cost.start_time_out_of_range"

# --- business outcomes (record_outcome) ------------------------------------------------------------------
# An outcome travels as a tiny INTERNAL span so it rides the same trace pipeline as the LLM spans.
OUTCOME_SPAN_NAME: Final = "costline.outcome"
LLM_OUTCOME_NAME: Final = "llm.outcome.name"
LLM_OUTCOME_COUNT: Final = "llm.outcome.count"

# --- instrumentation scope ---------------------------------------------------------------------------------
INSTRUMENTATION_SCOPE: Final = "costline"
