"""A ledger built through the real pipeline, and `costline report` run on it as a user runs it (a process).

Calls are emitted as GenAI client spans by the real OTel SDK (explicit start times, attribution attributes as
costline's instrumentation writes them), encoded by the real OTLP encoder, and sent through `Pipeline`
(normaliser, serve's pricer with the bundled list prices, SQLite ledger, metrics). Costs in the tests are
computed by hand from list prices per million tokens, never with costline's pricing code.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, set_span_in_context
from opentelemetry.util.types import AttributeValue

from costline import attributes as attr
from costline_processor.ledger import open_ledger
from costline_processor.metrics import CostMetrics, LabelLimits, SelfTelemetry
from costline_processor.pipeline import Pipeline
from costline_processor.pricing import Pricer
from genai_spans import Call

COSTLINE = Path(sys.executable).with_name("costline")
START = datetime(2026, 11, 1, tzinfo=UTC)
_ids = count(1)


@dataclass(frozen=True)
class Spend:
    """One LLM call on day `day` after START (at noon, plus `minute`), tokens inclusive as semconv."""

    day: int
    workflow: str | None
    model: str
    input_tokens: int
    output_tokens: int
    provider: str = "openai"
    cache_read: int = 0
    cache_write: int = 0
    tenant: str | None = "acme"  # None: a call without tenant_id
    user: str = "u1"
    minute: int = 0
    extra: dict[str, AttributeValue] = field(default_factory=dict)

    @property
    def at(self) -> datetime:
        return START + timedelta(days=self.day, hours=12, minutes=self.minute)

    def attributes(self) -> dict[str, AttributeValue]:
        """As costline's instrumentation writes them (genai_spans.Call), plus the tenant and user."""
        call = Call(
            self.provider,
            self.model,
            self.input_tokens,
            self.output_tokens,
            cache_read=self.cache_read,
            cache_write=self.cache_write,
            response_id=f"resp-{next(_ids)}",
            workflow_id=self.workflow,
            extra={
                **({attr.TENANT_ID: self.tenant} if self.tenant else {}),
                attr.USER_ID: self.user,
                **self.extra,
            },
        )
        return call.attributes()


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000


@dataclass(frozen=True)
class Done:
    """A business outcome as `costline.record_outcome` sends it, on day `day` after START."""

    day: int
    workflow: str
    outcome: str
    count: int = 1


def build_ledger(
    path: Path | str, traces: Sequence[Sequence[Spend]], outcomes: Sequence[Done] = ()
) -> Path | str:
    """Record each trace's calls (one root span per trace) and the outcomes through the pipeline into the
    ledger at `path` (a SQLite file or a postgresql:// URL)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "report-app"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    llm = provider.get_tracer(attr.INSTRUMENTATION_SCOPE)
    app = provider.get_tracer("app")
    for calls in traces:
        start = _ns(calls[0].at)
        root = app.start_span("handle request", kind=SpanKind.SERVER, start_time=start)
        for call in calls:
            at = _ns(call.at)
            span = llm.start_span(
                f"chat {call.model}",
                context=set_span_in_context(root),
                kind=SpanKind.CLIENT,
                attributes=call.attributes(),
                start_time=at,
            )
            span.end(end_time=at + 1_000_000)
        root.end(end_time=_ns(calls[-1].at) + 2_000_000)
    for done in outcomes:
        at = _ns(START + timedelta(days=done.day, hours=13))
        attributes: dict[str, AttributeValue] = {
            attr.LLM_OUTCOME_NAME: done.outcome,
            attr.LLM_OUTCOME_COUNT: done.count,
            attr.WORKFLOW_ID: done.workflow,
        }
        llm.start_span(attr.OUTCOME_SPAN_NAME, attributes=attributes, start_time=at).end(end_time=at + 1000)
    provider.shutdown()
    telemetry = SelfTelemetry()
    with open_ledger(path, read_only=False, replica_id="report-tests") as ledger:
        pipeline = Pipeline(
            pricer=Pricer.load(None),
            ledger=ledger,
            metrics=CostMetrics(limits=LabelLimits(max_values_per_label=100), telemetry=telemetry),
            telemetry=telemetry,
            forwarder=None,
            max_inflight=1,
        )
        pipeline.export(encode_spans(exporter.get_finished_spans()))
    return path


def single(calls: Sequence[Spend]) -> list[list[Spend]]:
    """Each call in a trace of its own."""
    return [[call] for call in calls]


def costline_report(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(COSTLINE), "report", *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == expect, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result
