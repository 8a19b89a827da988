"""Bedrock-served spans (`aws.bedrock`): model ARNs, the exclusive input count peers copy, their estimates.

Model names: Bedrock accepts an ARN for a model id (`arn:aws:bedrock:us-east-1::foundation-model/ID`,
`arn:aws:bedrock:us-east-1:ACCOUNT:inference-profile/us.ID`); the catalogue, the ledger and the metric labels
know the id after the slash, cross-region prefix kept (it decides the price). Other ARNs (application
inference profiles, provisioned throughput) name no model and stay as they are.

Usage: Converse's `inputTokens`, InvokeModel's token-count headers and Nova's `usage.inputTokens` EXCLUDE the
cache reads and writes. costline adds them back; the peers mostly copy the exclusive count next to the cache
counts: the official botocore extension and OpenLLMetry's bedrock instrumentation always, OpenInference on
its InvokeModel path for Nova (AWS's `totalTokens` betrays it there; its Converse and Anthropic counts are
inclusive). Other instrumentations' spans of Bedrock (an Anthropic SDK instrumentation on `AnthropicBedrock`)
follow semconv.

Estimates: the official botocore extension has no token count for Mistral and Cohere Command bodies and writes
an estimate from the text length instead; the span is marked estimated so nobody takes it for Bedrock's count.
"""

from __future__ import annotations

import re
from typing import Final

from costline_processor.normalize import foreign_names as fn
from costline_processor.normalize._values import Attributes, BadUsage, token_count
from costline_processor.normalize.sources import OPENINFERENCE_KEYS, SOURCE_OPENINFERENCE

_MODEL_ARN: Final = re.compile(
    r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d*:(?:foundation-model|inference-profile|system-defined-inference-profile)/"
)
_ESTIMATED_BY_BOTOCORE: Final = ("mistral.", "cohere.command")
_EXCLUSIVE_SCOPES: Final = frozenset({fn.OTEL_BOTOCORE_BEDROCK_SCOPE, fn.OPENLLMETRY_BEDROCK_SCOPE})


def model_id(name: str | None) -> str | None:
    """`name` without a foundation-model or inference-profile ARN prefix."""
    if name is None:
        return None
    return _MODEL_ARN.sub("", name, count=1) or name


def input_excludes_cache(source: str, scope_name: str, attrs: Attributes) -> bool:
    """Whether the span's input count leaves out its cache tokens (module docstring)."""
    if scope_name in _EXCLUSIVE_SCOPES:
        return True
    if source != SOURCE_OPENINFERENCE:
        return False  # costline, and any other instrumentation's spans of Bedrock: semconv's inclusive count
    try:
        total = token_count(attrs, (fn.OI_TOTAL_TOKENS,))
        parts = [token_count(attrs, keys) or 0 for keys in _OPENINFERENCE_PARTS]
    except BadUsage:  # the usage reader reports it
        return False
    prompt, completion, cache_read, cache_write = parts
    cache = cache_read + cache_write
    return total is not None and cache > 0 and total == prompt + completion + cache


_OPENINFERENCE_PARTS: Final = (
    OPENINFERENCE_KEYS.input,
    OPENINFERENCE_KEYS.output,
    OPENINFERENCE_KEYS.cache_read,
    OPENINFERENCE_KEYS.cache_write,
)


def estimated_by_peer(scope_name: str, model: str | None) -> bool:
    """The botocore extension's text-length estimates (Mistral, Cohere Command) are no provider count."""
    return scope_name == fn.OTEL_BOTOCORE_BEDROCK_SCOPE and any(
        m in (model or "") for m in _ESTIMATED_BY_BOTOCORE
    )
