"""costline.record_outcome: a tiny INTERNAL span the processor turns into llm_workflow_outcomes_total."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import costline
from costline import attributes


def test_outcome_span_shape_inside_a_workflow(otel_spans: InMemorySpanExporter) -> None:
    tracer = trace.get_tracer("app")
    with (
        tracer.start_as_current_span("handle_ticket") as parent,
        costline.workflow("support", tenant_id="acme", feature_id="triage", user_id="u-7"),
    ):
        costline.record_outcome("ticket_resolved", count=3)

    outcome, _parent = otel_spans.get_finished_spans()
    assert outcome.name == attributes.OUTCOME_SPAN_NAME
    assert outcome.kind is SpanKind.INTERNAL
    assert outcome.instrumentation_scope is not None
    assert outcome.instrumentation_scope.name == attributes.INSTRUMENTATION_SCOPE
    assert outcome.parent is not None
    assert outcome.parent.span_id == parent.get_span_context().span_id
    assert dict(outcome.attributes or {}) == {
        attributes.LLM_OUTCOME_NAME: "ticket_resolved",
        attributes.LLM_OUTCOME_COUNT: 3,
        attributes.WORKFLOW_ID: "support",
        attributes.TENANT_ID: "acme",
        attributes.FEATURE_ID: "triage",
        attributes.USER_ID: "u-7",
    }
    assert isinstance((outcome.attributes or {})[attributes.LLM_OUTCOME_COUNT], int)


def test_outcome_without_workflow_has_no_attribution_keys(otel_spans: InMemorySpanExporter) -> None:
    costline.record_outcome("signup")
    (outcome,) = otel_spans.get_finished_spans()
    # Absent keys are counted as `unattributed` by the processor.
    assert dict(outcome.attributes or {}) == {
        attributes.LLM_OUTCOME_NAME: "signup",
        attributes.LLM_OUTCOME_COUNT: 1,
    }


@pytest.mark.parametrize(
    ("outcome", "count", "message"),
    [
        ("", 1, "outcome must not be empty"),
        ("ticket resolved", 1, "outcome may contain only letters, digits and . _ - : / @ + (got ' '"),
        (7, 1, "outcome must be a str (got int)"),
        ("x" * 129, 1, "outcome must be at most 128 characters (got 129)"),
        ("ok", 0, "count must be a positive integer (got 0)"),
        ("ok", -2, "count must be a positive integer (got -2)"),
        ("ok", True, "count must be an int (got bool)"),
        ("ok", 1.5, "count must be an int (got float)"),
        ("ok", "3", "count must be an int (got str)"),
    ],
)
def test_invalid_outcome_or_count_raises(
    otel_spans: InMemorySpanExporter, outcome: Any, count: Any, message: str
) -> None:
    with pytest.raises(ValueError) as raised:  # noqa: PT011 - the message is checked below
        costline.record_outcome(outcome, count=count)
    assert message in str(raised.value)
    assert otel_spans.get_finished_spans() == ()


def test_works_with_only_the_otel_api_installed() -> None:
    """Without the SDK, `import costline`, workflow and record_outcome work (no-op spans) and stay light."""
    probe = textwrap.dedent(
        """
        import sys
        for blocked in ("opentelemetry.sdk", "openai", "anthropic", "wrapt"):
            sys.modules[blocked] = None  # importing any of these now raises ImportError
        import costline
        with costline.workflow("support", tenant_id="acme"):
            costline.record_outcome("done", count=2)
            print(costline.current_attribution())
        try:
            costline.AttributionSpanProcessor
        except ImportError as exc:
            print("lazy:", type(exc).__name__, exc)
        print(costline.__version__)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "{'workflow_id': 'support', 'tenant_id': 'acme'}"
    assert lines[1].startswith("lazy: ImportError costline.AttributionSpanProcessor needs opentelemetry-sdk")
    assert lines[2] == costline.__version__ != "0+unknown"
    assert result.stderr == ""
