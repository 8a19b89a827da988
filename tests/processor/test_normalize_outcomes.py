"""Business outcomes (`costline.outcome` spans) read by the processor for cost per outcome."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from _normalize_spans import RESOURCE, START_NS, Value, make_span
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from costline import attributes as attr
from costline_processor.normalize import extract_outcome

BASE: dict[str, Value] = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}


def outcome_span(values: Mapping[str, Value], name: str = attr.OUTCOME_SPAN_NAME) -> Span:
    return make_span(values, name)


def test_extract_outcome() -> None:
    outcome = extract_outcome(
        outcome_span(
            {attr.LLM_OUTCOME_NAME: "ticket_resolved", attr.LLM_OUTCOME_COUNT: 3, attr.WORKFLOW_ID: "support"}
        ),
        RESOURCE,
    )
    assert outcome is not None
    assert (outcome.workflow_id, outcome.outcome, outcome.count, outcome.service_name) == (
        "support",
        "ticket_resolved",
        3,
        "support-bot",
    )
    assert outcome.time_ns == START_NS + 5_000_000


def test_outcome_without_workflow_is_unattributed_and_count_defaults_to_one() -> None:
    outcome = extract_outcome(outcome_span({attr.LLM_OUTCOME_NAME: "lead_qualified"}), RESOURCE)
    assert outcome is not None
    assert (outcome.workflow_id, outcome.count) == (attr.UNATTRIBUTED, 1)


def test_an_outcome_workflow_workflow_would_refuse_is_unattributed_and_reported() -> None:
    hostile = {attr.LLM_OUTCOME_NAME: "won", attr.WORKFLOW_ID: "=1+1", attr.TENANT_ID: "=2+2"}
    outcome = extract_outcome(outcome_span(hostile), RESOURCE)
    assert outcome is not None
    assert outcome.workflow_id == attr.UNATTRIBUTED
    assert outcome.rejected_attribution == ((attr.WORKFLOW_ID, "processor"),)  # tenant_id is not recorded


@pytest.mark.parametrize(
    "values",
    [
        {attr.LLM_OUTCOME_NAME: "=HYPERLINK(1)"},
        {attr.LLM_OUTCOME_NAME: "x" * 129},
        {attr.LLM_OUTCOME_COUNT: 1},
        {attr.LLM_OUTCOME_NAME: "x", attr.LLM_OUTCOME_COUNT: 0},
        {attr.LLM_OUTCOME_NAME: "x", attr.LLM_OUTCOME_COUNT: -2},
        {attr.LLM_OUTCOME_NAME: "x", attr.LLM_OUTCOME_COUNT: "3"},
        {attr.LLM_OUTCOME_NAME: "x", attr.LLM_OUTCOME_COUNT: 10**12},
    ],
)
def test_malformed_outcomes_are_ignored(values: dict[str, Value]) -> None:
    assert extract_outcome(outcome_span(values), RESOURCE) is None


def test_other_spans_are_not_outcomes() -> None:
    assert extract_outcome(make_span(BASE), RESOURCE) is None
