"""Gemini-served spans (`gcp.gemini`, `gcp.vertex_ai`): model resource names, and thinking tokens peers drop.

Model names: the google-genai SDK accepts `models/gemini-2.5-pro` (Gemini API) and
`publishers/google/models/...`, `projects/P/locations/L/publishers/google/models/...` or `google/...`
(Vertex AI) for `gemini-2.5-pro`; the catalogue, the ledger and the metric labels know the bare model id.

Usage: Google's `candidates_token_count` excludes the thinking tokens and `prompt_token_count` the tool-use
prompt tokens. An instrumentation that copies those two fields as output and input (OpenLLMetry does)
under-counts a thinking model by its whole thinking budget, yet it also records Google's
`total_token_count`, which includes both. The difference is added to the output as reasoning: thinking is what
fills it on every thinking model, while tool-use prompt tokens (built-in tools' results) are rarer and, priced
as output, cost more, never less.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Final

from costline import attributes as attr
from costline_processor.model import Usage
from costline_processor.normalize import foreign_names as fn
from costline_processor.normalize._values import Attributes, BadUsage, token_count

GEMINI_PROVIDERS: Final = frozenset({attr.PROVIDER_GEMINI, attr.PROVIDER_GCP_VERTEX_AI})
_RESOURCE_PREFIX: Final = re.compile(
    r"^(?:(?:projects/[^/]+/locations/[^/]+/)?(?:publishers/google/)?models/|google/)"
)
_TOTAL_KEYS: Final = (fn.TRACELOOP_GEN_AI_TOTAL_TOKENS, fn.TRACELOOP_USAGE_TOTAL_TOKENS)


def model_id(name: str | None) -> str | None:
    """`name` without a Gemini API or Vertex AI resource prefix (`models/`, `.../publishers/google/models/`,
    `google/`)."""
    if name is None:
        return None
    return _RESOURCE_PREFIX.sub("", name, count=1) or name


def with_unreported_thoughts(usage: Usage, attrs: Attributes) -> Usage:
    """`usage` with the part of the span's reported total that input + output leave out, as reasoning."""
    try:
        total = token_count(attrs, _TOTAL_KEYS)
    except BadUsage:  # a broken total says nothing about the counts next to it
        return usage
    if total is None:
        return usage
    missing = total - usage.input_tokens - usage.output_tokens
    if missing <= 0:
        return usage
    return replace(
        usage,
        output_tokens=usage.output_tokens + missing,
        reasoning_tokens=usage.reasoning_tokens + missing,
    )
