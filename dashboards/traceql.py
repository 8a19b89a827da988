"""TraceQL for the Tempo panels, built from the attribute names costline writes.

"Calls per trace" is trace-level data no cost metric carries (a per-trace label would be unbounded), so it is
a TraceQL search: traces with more than `MIN_CALLS` LLM calls, where retry and agent loops show up. A call
is a span the processor priced (`llm.cost.usd`) or could not price (`llm.cost.unpriced_reason`); duplicate
spans of the same call carry neither, so a doubly instrumented call is not counted twice.
"""

from __future__ import annotations

from typing import Final

from costline.attributes import (
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    LLM_COST_UNPRICED_REASON,
    LLM_COST_USD,
    WORKFLOW_ID,
)

MIN_CALLS: Final = 2
MIN_TRACE_COST_VAR: Final = "min_trace_cost_usd"


def _span(attribute: str) -> str:
    return f"span.{attribute}"


def _workflow_filter() -> str:
    return f'{_span(WORKFLOW_ID)} =~ "${WORKFLOW_ID}"'


def calls_per_trace() -> str:
    is_call = f"({_span(LLM_COST_USD)} != nil || {_span(LLM_COST_UNPRICED_REASON)} != nil)"
    return (
        f"{{ {is_call} && {_workflow_filter()} }} | count() > {MIN_CALLS}"
        f" | select({_span(WORKFLOW_ID)}, {_span(GEN_AI_REQUEST_MODEL)}, {_span(LLM_COST_USD)})"
    )


def most_expensive_traces() -> str:
    return (
        f"{{ {_span(LLM_COST_USD)} > 0 && {_workflow_filter()} }}"
        f" | sum({_span(LLM_COST_USD)}) > ${MIN_TRACE_COST_VAR}"
        f" | select({_span(WORKFLOW_ID)}, {_span(GEN_AI_RESPONSE_MODEL)}, {_span(LLM_COST_USD)})"
    )
