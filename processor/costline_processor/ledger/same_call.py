"""Whether two spans with the same (trace id, response id) describe one LLM call or two.

A shared response id alone does not make two spans one call: servers repeat ids (Ollama's OpenAI API
answers `chatcmpl-<0..998>`; gateways and embedding endpoints send constant ids). Two spans are one call
when, as well, they name the same model, report the same usage and overlap in time: what an SDK's own span
and an instrumentation's span of one call always share. Anything else is counted as its own call.

Usage is compared on what every instrumentation reports alike: input tokens (cache reads and writes
included), cache reads, cache writes, and output tokens to within one (OpenLLMetry counts the placeholder
token of an Anthropic stream's `message_start`). Reasoning tokens and the 1-hour share of cache writes are
not compared: most instrumentations do not record them (tests/processor/test_peer_spans.py pins who does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from costline_processor import metric_names as names
from costline_processor.ledger.rows import SPAN_ID_SQL
from costline_processor.model import LlmCall

OUTPUT_TOKENS_TOLERANCE: Final = 1
# (uncached input, cache read, cache write, output): as stored in a `calls` row, None without usage
UsageKey = tuple[int, int, int, int] | None


@dataclass(frozen=True, slots=True)
class CallShape:
    """What tells two calls with the same (trace id, response id) apart, and the row that holds one."""

    seq: int
    span_id: bytes
    start_ns: int
    end_ns: int
    models: frozenset[str]
    usage: UsageKey


def models_of(model: str, request_model: str | None) -> frozenset[str]:
    """The model names a call goes by: the served model (the `model` label) and the requested one.

    Instrumentations differ in which they record (an alias such as `claude-sonnet-4-0` or the dated model
    it resolved to), so two spans name the same model when any of these names is shared. The label
    `unknown` of a call that names none is no name: such a call never matches another.
    """
    if request_model is None:
        return frozenset() if model == names.UNKNOWN_MODEL else frozenset((model,))
    return frozenset((model, request_model))


def usage_key(call: LlmCall) -> UsageKey:
    usage = call.usage
    if usage is None:
        return None
    cache_read, cache_write = usage.cache_read_tokens, usage.cache_write_tokens
    return usage.input_tokens - cache_read - cache_write, cache_read, cache_write, usage.output_tokens


def shape_of_row(row: Sequence[object]) -> CallShape:
    """The shape of a stored call from the columns of `SHAPE_COLUMNS`, in that order."""
    seq, span_id, start, end, model, request_model, uncached, cache_read, cache_write, output = row
    usage = None if uncached is None else (uncached, cache_read, cache_write, output)
    return CallShape(
        seq,  # type: ignore[arg-type]
        span_id,  # type: ignore[arg-type]
        start,  # type: ignore[arg-type]
        end,  # type: ignore[arg-type]
        models_of(model, request_model),  # type: ignore[arg-type]
        usage,  # type: ignore[arg-type]
    )


# The `calls` columns shape_of_row() reads.
SHAPE_COLUMNS: Final = (
    f"seq, {SPAN_ID_SQL}, time_ns, end_time_ns, model, request_model,"
    " tokens_input, tokens_cache_read, tokens_cache_write, tokens_output"
)


def same_call(first: CallShape, second: CallShape) -> bool:
    """Whether two spans of one trace with one response id describe the same call."""
    return (
        bool(first.models & second.models)
        and _same_usage(first.usage, second.usage)
        and first.start_ns <= second.end_ns
        and second.start_ns <= first.end_ns
    )


def _same_usage(first: UsageKey, second: UsageKey) -> bool:
    if first is None or second is None:
        return first is second  # one span saw usage, the other did not: two calls (the priced one stays)
    return first[:3] == second[:3] and abs(first[3] - second[3]) <= OUTPUT_TOKENS_TOLERANCE
