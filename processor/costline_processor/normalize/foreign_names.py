"""Attribute and scope names written by OTHER instrumentations, which the normaliser reads (never writes).

costline's own names live in costline.attributes; these belong to peers' schemas, so they are kept apart.
"""

from __future__ import annotations

from typing import Final

# --- instrumentation scopes ----------------------------------------------------------------------------
ANTHROPIC_SDK_SCOPE: Final = "com.anthropic.sdk.python"  # anthropic>=2 traces itself
OPENLIT_SCOPE_PREFIX: Final = "openlit"
OPENINFERENCE_SCOPE_PREFIX: Final = "openinference"
# opentelemetry-instrumentation-botocore's Bedrock extension (its scope name + the service name)
OTEL_BOTOCORE_BEDROCK_SCOPE: Final = "opentelemetry.instrumentation.botocore.bedrock-runtime"
TELEMETRY_SDK_NAME: Final = "telemetry.sdk.name"  # resource attribute; OpenLIT sets it to "openlit"
SERVICE_NAME: Final = "service.name"
SERVICE_INSTANCE_ID: Final = "service.instance.id"

# --- anthropic SDK native spans --------------------------------------------------------------------------
ANTHROPIC_MESSAGES_CREATE_SPAN: Final = "anthropic.messages.create"
ANTHROPIC_CACHE_WRITE_5M: Final = "anthropic.usage.cache_creation.ephemeral_5m_input_tokens"
ANTHROPIC_CACHE_WRITE_1H: Final = "anthropic.usage.cache_creation.ephemeral_1h_input_tokens"
ANTHROPIC_RESPONSE_SERVICE_TIER: Final = "anthropic.response.service_tier"
ANTHROPIC_REQUEST_SERVICE_TIER: Final = "anthropic.request.service_tier"

# --- OpenLLMetry (traceloop) --------------------------------------------------------------------------------
OPENLLMETRY_BEDROCK_SCOPE: Final = "opentelemetry.instrumentation.bedrock"
# OpenLLMetry names its scopes like the contrib packages it predates; these are its LLM ones.
TRACELOOP_SCOPES: Final = frozenset(
    {
        "opentelemetry.instrumentation.openai.v0",
        "opentelemetry.instrumentation.openai.v1",
        "opentelemetry.instrumentation.anthropic",
        OPENLLMETRY_BEDROCK_SCOPE,
        "opentelemetry.instrumentation.cohere",
        "opentelemetry.instrumentation.groq",
        "opentelemetry.instrumentation.mistralai",
        "opentelemetry.instrumentation.ollama",
        "opentelemetry.instrumentation.together",
        "opentelemetry.instrumentation.vertexai",
        "opentelemetry.instrumentation.google_generativeai",
    }
)
TRACELOOP_IS_STREAMING: Final = "gen_ai.is_streaming"
TRACELOOP_LLM_REQUEST_TYPE: Final = "llm.request.type"
TRACELOOP_USAGE_TOTAL_TOKENS: Final = "llm.usage.total_tokens"
TRACELOOP_GEN_AI_TOTAL_TOKENS: Final = "gen_ai.usage.total_tokens"
TRACELOOP_CACHE_READ_OLD: Final = "gen_ai.usage.cache_read_input_tokens"
TRACELOOP_CACHE_CREATION_OLD: Final = "gen_ai.usage.cache_creation_input_tokens"
TRACELOOP_REASONING_TOKENS: Final = "gen_ai.usage.reasoning_tokens"

# --- OpenAI semconv names newer than gen_ai.openai.* (official GenAI instrumentation 1.x, OpenLLMetry) ------
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"

# --- OpenInference (Arize) -----------------------------------------------------------------------------
OPENINFERENCE_SPAN_KIND: Final = "openinference.span.kind"
OPENINFERENCE_KIND_LLM: Final = "LLM"
OPENINFERENCE_KIND_EMBEDDING: Final = "EMBEDDING"
OI_PROMPT_TOKENS: Final = "llm.token_count.prompt"
OI_COMPLETION_TOKENS: Final = "llm.token_count.completion"
OI_CACHE_READ: Final = "llm.token_count.prompt_details.cache_read"
OI_CACHE_WRITE: Final = "llm.token_count.prompt_details.cache_write"
OI_REASONING: Final = "llm.token_count.completion_details.reasoning"
OI_TOTAL_TOKENS: Final = "llm.token_count.total"
OI_PROVIDER: Final = "llm.provider"
OI_SYSTEM: Final = "llm.system"
OI_MODEL_NAME: Final = "llm.model_name"
OI_REQUEST_MODEL_NAME: Final = "llm.request.model_name"
OI_RESPONSE_MODEL_NAME: Final = "llm.response.model_name"
OI_EMBEDDING_MODEL_NAME: Final = "embedding.model_name"
