"""Attribution that arrives in baggage from outside the process: validated, and ignored when not trusted.

In-process checks of `costline.baggage`; tests/e2e/test_inbound_baggage.py drives the same paths through a
real WSGI app under `opentelemetry-instrument` and `costline serve`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry import baggage, context, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import costline
from costline import attributes
from costline._config import ENV_TRUST_INBOUND_BAGGAGE, trust_inbound_baggage
from costline.baggage import read_attribution

HOSTILE = "tenant_id=%3DHYPERLINK(%22http%3A%2F%2Fevil%22)"


@pytest.fixture
def untrusted(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(ENV_TRUST_INBOUND_BAGGAGE, "false")
    trust_inbound_baggage.cache_clear()
    yield
    monkeypatch.delenv(ENV_TRUST_INBOUND_BAGGAGE)
    trust_inbound_baggage.cache_clear()


def _inbound(header: str) -> object:
    return context.attach(W3CBaggagePropagator().extract({"baggage": header}))


def test_a_formula_in_baggage_is_dropped_logged_once_and_named(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(costline.baggage, "_warned", set())  # as in a fresh process
    token = _inbound(f"workflow_id=support,{HOSTILE}")
    try:
        with caplog.at_level(logging.WARNING, logger="costline"):
            first, second = read_attribution(), read_attribution()
    finally:
        context.detach(token)  # type: ignore[arg-type]
    assert first == second
    assert dict(first.values) == {attributes.WORKFLOW_ID: "support"}
    assert first.rejected == (attributes.TENANT_ID,)
    assert costline.current_attribution() == {}
    (logged,) = [r.getMessage() for r in caplog.records]
    assert "dropped a propagated tenant_id" in logged
    assert "'=' in '=HYPERLINK" in logged  # the rule it broke, as costline.workflow() would say it
    assert ENV_TRUST_INBOUND_BAGGAGE in logged


def test_untrusted_baggage_is_ignored_and_workflow_still_applies(
    untrusted: None, otel_spans: InMemorySpanExporter
) -> None:
    tracer = trace.get_tracer("app")
    token = _inbound("workflow_id=stolen,tenant_id=acme-big-customer,region=eu")
    try:
        tracer.start_span("outside_any_workflow").end()
        assert costline.current_attribution() == {}
        with costline.workflow("checkout", feature_id="cart"):
            tracer.start_span("in_workflow").end()
            # What this service propagates downstream: its own keys, no caller's tenant, other baggage kept.
            assert baggage.get_all() == {
                "region": "eu",
                attributes.WORKFLOW_ID: "checkout",
                attributes.FEATURE_ID: "cart",
            }
            with costline.workflow("checkout_tax", tenant_id="edge-set"):
                tracer.start_span("nested").end()
    finally:
        context.detach(token)  # type: ignore[arg-type]
    spans = {span.name: dict(span.attributes or {}) for span in otel_spans.get_finished_spans()}
    assert spans["outside_any_workflow"] == {}
    assert spans["in_workflow"] == {attributes.WORKFLOW_ID: "checkout", attributes.FEATURE_ID: "cart"}
    assert spans["nested"] == {
        attributes.WORKFLOW_ID: "checkout_tax",
        attributes.FEATURE_ID: "cart",
        attributes.TENANT_ID: "edge-set",
    }


def test_trusted_is_the_default_and_a_bad_setting_keeps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for raw, expected in ((None, True), ("false", False), ("0", False), ("true", True), ("maybe", True)):
        if raw is None:
            monkeypatch.delenv(ENV_TRUST_INBOUND_BAGGAGE, raising=False)
        else:
            monkeypatch.setenv(ENV_TRUST_INBOUND_BAGGAGE, raw)
        trust_inbound_baggage.cache_clear()
        assert trust_inbound_baggage() is expected, raw
    monkeypatch.delenv(ENV_TRUST_INBOUND_BAGGAGE)
    trust_inbound_baggage.cache_clear()
