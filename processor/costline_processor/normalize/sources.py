"""Which instrumentation wrote a span, and how its token attributes map to the inclusive semconv model.

Each source is a small table of attribute names plus one fact: whether its input count already includes the
cache tokens. Anthropic's API reports `input_tokens` EXCLUSIVE of cache reads and writes; most
instrumentations add them back (inclusive), OpenLIT does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from costline import attributes as attr
from costline_processor.model import Usage
from costline_processor.normalize import foreign_names as fn
from costline_processor.normalize._values import Attributes, BadUsage, token_count

SOURCE_COSTLINE: Final = "costline"
SOURCE_ANTHROPIC_SDK: Final = "anthropic_sdk"
SOURCE_OTEL_GENAI: Final = "otel_genai"
SOURCE_OPENLLMETRY: Final = "openllmetry"
SOURCE_OPENINFERENCE: Final = "openinference"
SOURCE_OPENLIT: Final = "openlit"
SOURCES: Final = (
    SOURCE_COSTLINE,
    SOURCE_ANTHROPIC_SDK,
    SOURCE_OTEL_GENAI,
    SOURCE_OPENLLMETRY,
    SOURCE_OPENINFERENCE,
    SOURCE_OPENLIT,
)


@dataclass(frozen=True, slots=True)
class UsageKeys:
    """Attribute names for each token count, first present wins (newest name first)."""

    input: tuple[str, ...]
    output: tuple[str, ...]
    cache_read: tuple[str, ...]
    cache_write: tuple[str, ...]
    cache_write_1h: tuple[str, ...] = ()
    cache_write_5m: tuple[str, ...] = ()
    reasoning: tuple[str, ...] = ()

    def all(self) -> tuple[str, ...]:
        return (
            *self.input,
            *self.output,
            *self.cache_read,
            *self.cache_write,
            *self.cache_write_1h,
            *self.cache_write_5m,
            *self.reasoning,
        )


SEMCONV_KEYS: Final = UsageKeys(
    input=(attr.GEN_AI_USAGE_INPUT_TOKENS, attr.GEN_AI_USAGE_PROMPT_TOKENS),
    output=(attr.GEN_AI_USAGE_OUTPUT_TOKENS, attr.GEN_AI_USAGE_COMPLETION_TOKENS),
    cache_read=(attr.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, fn.TRACELOOP_CACHE_READ_OLD),
    cache_write=(
        attr.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
        attr.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
        fn.TRACELOOP_CACHE_CREATION_OLD,
    ),
    cache_write_1h=(attr.LLM_USAGE_CACHE_WRITE_1H_INPUT_TOKENS, fn.ANTHROPIC_CACHE_WRITE_1H),
    cache_write_5m=(fn.ANTHROPIC_CACHE_WRITE_5M,),
    reasoning=(attr.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, fn.TRACELOOP_REASONING_TOKENS),
)

OPENINFERENCE_KEYS: Final = UsageKeys(
    input=(fn.OI_PROMPT_TOKENS,),
    output=(fn.OI_COMPLETION_TOKENS,),
    cache_read=(fn.OI_CACHE_READ,),
    cache_write=(fn.OI_CACHE_WRITE,),
    reasoning=(fn.OI_REASONING,),
)

TRACELOOP_MARKERS: Final = (
    fn.TRACELOOP_LLM_REQUEST_TYPE,
    fn.TRACELOOP_USAGE_TOTAL_TOKENS,
    fn.TRACELOOP_GEN_AI_TOTAL_TOKENS,
    fn.TRACELOOP_IS_STREAMING,
)


def detect(scope_name: str, attrs: Attributes, sdk_name: str | None) -> str:
    """The source of a span, from its scope name first and its attribute set second."""
    if scope_name == attr.INSTRUMENTATION_SCOPE:
        return SOURCE_COSTLINE
    if scope_name == fn.ANTHROPIC_SDK_SCOPE:
        return SOURCE_ANTHROPIC_SDK
    if fn.OPENINFERENCE_SPAN_KIND in attrs or scope_name.startswith(fn.OPENINFERENCE_SCOPE_PREFIX):
        return SOURCE_OPENINFERENCE
    if scope_name.startswith(fn.OPENLIT_SCOPE_PREFIX) or sdk_name == fn.OPENLIT_SCOPE_PREFIX:
        return SOURCE_OPENLIT
    if scope_name in fn.TRACELOOP_SCOPES or any(key in attrs for key in TRACELOOP_MARKERS):
        return SOURCE_OPENLLMETRY
    return SOURCE_OTEL_GENAI


def keys_for(source: str) -> UsageKeys:
    return OPENINFERENCE_KEYS if source == SOURCE_OPENINFERENCE else SEMCONV_KEYS


def read_usage(
    attrs: Attributes, source: str, anthropic_served: bool, cache_excluded: bool = False
) -> Usage | None:
    """The inclusive usage on a span; None when it reports none; BadUsage when it is impossible.

    `cache_excluded`: the source is known to report the input without its cache tokens (Bedrock's peers).
    """
    keys = keys_for(source)
    input_tokens = token_count(attrs, keys.input)
    output_tokens = token_count(attrs, keys.output)
    cache_read = token_count(attrs, keys.cache_read) or 0
    cache_write = token_count(attrs, keys.cache_write)
    write_1h = token_count(attrs, keys.cache_write_1h) or 0
    write_5m = token_count(attrs, keys.cache_write_5m)
    reasoning = token_count(attrs, keys.reasoning) or 0
    if input_tokens is None and output_tokens is None:
        return None
    if cache_write is None:
        cache_write = (write_5m or 0) + write_1h
    input_tokens = input_tokens or 0
    if cache_excluded or (
        anthropic_served and (source == SOURCE_OPENLIT or input_tokens < cache_read + cache_write)
    ):
        # Anthropic's exclusive input: OpenLIT always; older instrumentations betray it by an input
        # smaller than the cache tokens it must contain.
        input_tokens += cache_read + cache_write
    usage = Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens or 0,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=write_1h,
        reasoning_tokens=reasoning,
    )
    _check(usage)
    return usage


def _check(usage: Usage) -> None:
    if usage.cache_read_tokens + usage.cache_write_tokens > usage.input_tokens:
        raise BadUsage("cache read + cache write tokens exceed the input tokens")
    if usage.cache_write_1h_tokens > usage.cache_write_tokens:
        raise BadUsage("1-hour cache write tokens exceed all cache write tokens")
    if usage.reasoning_tokens > usage.output_tokens:
        raise BadUsage("reasoning tokens exceed the output tokens")
