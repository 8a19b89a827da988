"""A sampler that keeps every LLM call span and samples everything else as configured.

Cost attribution needs every billable call: a 10% trace sample would make costs 10x too small and noisy.
`OTEL_TRACES_SAMPLER=costline_genai` loads `sampler_from_env` (entry point group
`opentelemetry_traces_sampler`); `OTEL_TRACES_SAMPLER_ARG` configures the sampler for all other spans:
a ratio (`0.1`, meaning `parentbased_traceidratio:0.1`), a standard sampler name (`parentbased_always_on`,
`always_off`, ...) or `name:ratio` (`traceidratio:0.25`). Unset means `parentbased_always_on`.

Trade-off: an LLM span is sampled even when its parent was not, so such traces arrive in Tempo as
fragments (the LLM span and its children, their parent missing). Cost stays complete; trace views of
unsampled requests do not. Imports the OTel SDK: only loaded when the SDK is configuring itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import sampling
from opentelemetry.trace import Link, SpanKind, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from costline import attributes

logger = logging.getLogger("costline")

_GENAI_START_ATTRIBUTES: Final = (
    attributes.GEN_AI_OPERATION_NAME,
    attributes.GEN_AI_PROVIDER_NAME,
    attributes.GEN_AI_SYSTEM,
)
# Spans kept by name whatever their attributes: outcomes, and SDK-native call spans.
_ALWAYS_SAMPLED_NAMES: Final = frozenset({attributes.OUTCOME_SPAN_NAME, "anthropic.messages.create"})

_NAMED: Final[Mapping[str, sampling.Sampler]] = {
    "always_on": sampling.ALWAYS_ON,
    "always_off": sampling.ALWAYS_OFF,
    "parentbased_always_on": sampling.DEFAULT_ON,
    "parentbased_always_off": sampling.DEFAULT_OFF,
}
_RATIO: Final[Mapping[str, Callable[[float], sampling.Sampler]]] = {
    "traceidratio": sampling.TraceIdRatioBased,
    "parentbased_traceidratio": sampling.ParentBasedTraceIdRatio,
}
_DEFAULT_DELEGATE: Final = "parentbased_always_on"


def is_genai_call(name: str, kind: SpanKind | None, span_attributes: Attributes) -> bool:
    """Whether a starting span is an LLM call (or an outcome) by its name, kind and start attributes."""
    if name in _ALWAYS_SAMPLED_NAMES:
        return True
    if kind is not SpanKind.CLIENT or not span_attributes:
        return False
    return any(key in span_attributes for key in _GENAI_START_ATTRIBUTES)


class GenAiSampler(sampling.Sampler):
    """Always samples LLM call spans; asks `delegate` about every other span."""

    def __init__(self, delegate: sampling.Sampler) -> None:
        self._delegate = delegate

    def should_sample(  # noqa: PLR0917 - the SDK's Sampler signature
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> sampling.SamplingResult:
        if is_genai_call(name, kind, attributes):
            parent_state = get_current_span(parent_context).get_span_context().trace_state
            return sampling.SamplingResult(sampling.Decision.RECORD_AND_SAMPLE, attributes, parent_state)
        return self._delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"CostlineGenAiSampler{{delegate={self._delegate.get_description()}}}"


def parse_delegate(arg: str | None) -> sampling.Sampler:
    """The sampler `OTEL_TRACES_SAMPLER_ARG` names; raises `ValueError` for an unknown or bad value."""
    text = (arg or "").strip().lower()
    if not text:
        return _NAMED[_DEFAULT_DELEGATE]
    name, _, ratio_text = text.partition(":")
    if name in _NAMED and not ratio_text:
        return _NAMED[name]
    if name not in _RATIO:  # a bare ratio
        name, ratio_text = "parentbased_traceidratio", text
    try:
        ratio = float(ratio_text or "1.0")
    except ValueError:
        raise ValueError(f"unknown sampler {text!r}") from None
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"sampling ratio must be in [0, 1] (got {ratio})")
    return _RATIO[name](ratio)


def sampler_from_env(arg: str | None = None) -> sampling.Sampler:
    """Entry point factory: the OTel SDK calls it with `OTEL_TRACES_SAMPLER_ARG` (or None)."""
    try:
        delegate = parse_delegate(arg)
    except ValueError as exc:
        logger.warning("costline: bad OTEL_TRACES_SAMPLER_ARG (%s); using %s", exc, _DEFAULT_DELEGATE)
        delegate = _NAMED[_DEFAULT_DELEGATE]
    return GenAiSampler(delegate)
