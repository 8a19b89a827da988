"""`costline.record_outcome`: count a business outcome so dashboards can show cost per outcome.

An outcome is sent as a tiny INTERNAL span (name `costline.outcome`) in the current trace, so it rides the
same pipeline as the LLM spans and needs no metrics SDK in the app. The processor turns it into
`llm_workflow_outcomes_total{workflow_id, outcome}`. Span shape (the contract the processor reads):

- name `attributes.OUTCOME_SPAN_NAME`, kind INTERNAL, scope `attributes.INSTRUMENTATION_SCOPE`
- `llm.outcome.name` (str), `llm.outcome.count` (int >= 1)
- the attribution keys in force (`workflow_id`, `feature_id`, `tenant_id`, `user_id`); a key that is not
  set is absent, and the processor counts it as `unattributed`.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from costline import attributes
from costline._validation import validate_count, validate_value
from costline.baggage import read_attribution


def _tracer() -> trace.Tracer:
    # Looked up per call: the app may install its TracerProvider after importing costline.
    return trace.get_tracer(attributes.INSTRUMENTATION_SCOPE)


def record_outcome(outcome: str, *, count: int = 1) -> None:
    """Record that the current workflow produced `count` of `outcome` (e.g. `"ticket_resolved"`).

    Raises `ValueError` for an invalid name (same rules as attribution values) or a count that is not a
    positive int. Without an OTel SDK installed this is a no-op.
    """
    span_attributes: dict[str, AttributeValue] = {
        attributes.LLM_OUTCOME_NAME: validate_value("outcome", outcome),
        attributes.LLM_OUTCOME_COUNT: validate_count("count", count),
    }
    span_attributes.update(read_attribution().span_attributes())
    _tracer().start_span(
        attributes.OUTCOME_SPAN_NAME, kind=SpanKind.INTERNAL, attributes=span_attributes
    ).end()
