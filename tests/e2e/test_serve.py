"""`costline serve` end to end: apps export with the real OTel SDK exporters (gRPC and HTTP), the service
prices every call, forwards every span to a gRPC "Tempo" and exposes the costs on /metrics and over OTLP.

Expected costs are computed here by hand from the providers' list prices, USD per million tokens (never
with costline's pricing code):

| model | input | cache read | cache write | output |
|---|---|---|---|---|
| claude-sonnet-4-0 (Anthropic) | 3 | 0.30 | 3.75 (5-minute TTL) | 15 |
| o4-mini (OpenAI; reasoning tokens are billed as output) | 1.10 | 0.275 | - | 4.40 |
| claude-sonnet-4-5, >200k input tokens: the whole request at long-context rates | 6 | 0.60 | 7.50 | 22.50 |
| gpt-4o through the Batch API: 50% of 2.50 / 10 | 1.25 | - | - | 5 |
| llama-3.1-70b self-hosted, from the price-overrides file written below | 0.40 | - | - | 0.80 |
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from serve_process import ServeProcess, total

from costline import attributes as attr
from costline_processor import metric_names as names
from genai_spans import Call, OutcomeSpec, make_spans
from otlp_capture import key_values
from otlp_grpc_capture import GrpcTraceCapture
from otlp_metrics_capture import OtlpMetricsCapture, point_sum

pytestmark = pytest.mark.e2e

M = Decimal(1_000_000)
SONNET = Call(
    "anthropic", "claude-sonnet-4-0", 10_000, 500, cache_read=6_000, cache_write=2_000, response_id="msg_01"
)
SONNET_COST = (2_000 * Decimal(3) + 6_000 * Decimal("0.30") + 2_000 * Decimal("3.75") + 500 * Decimal(15)) / M
O4_MINI = Call("openai", "o4-mini", 4_000, 3_000, cache_read=1_024, reasoning=2_500, response_id="resp_01")
O4_MINI_COST = (2_976 * Decimal("1.10") + 1_024 * Decimal("0.275") + 3_000 * Decimal("4.40")) / M
LONG_CONTEXT = Call(
    "anthropic", "claude-sonnet-4-5", 250_000, 1_000, response_id="msg_02", workflow_id="research"
)
LONG_CONTEXT_COST = (250_000 * Decimal(6) + 1_000 * Decimal("22.50")) / M
BATCH = Call(
    "openai", "gpt-4o", 20_000, 2_000, response_id="batch_req_1", workflow_id="nightly_report", batch=True
)
BATCH_COST = (20_000 * Decimal("1.25") + 2_000 * Decimal(5)) / M
SELF_HOSTED = Call("openai_compatible", "llama-3.1-70b-instruct", 100_000, 10_000, response_id="cmpl-9")
SELF_HOSTED_COST = (100_000 * Decimal("0.40") + 10_000 * Decimal("0.80")) / M

OVERRIDES = """\
version: 1
models:
  - id: vllm-llama-70b
    provider: openai_compatible
    model: "llama-3.1-70b*"
    rates:
      input: 0.40
      output: 0.80
"""


def close(got: float, want: Decimal) -> bool:
    return got == pytest.approx(float(want), rel=1e-12, abs=1e-15)


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


@pytest.fixture
def mimir() -> Iterator[OtlpMetricsCapture]:
    with OtlpMetricsCapture() as capture:
        yield capture


def test_real_exporters_to_tempo_prometheus_and_otlp_metrics(
    tmp_path: Path, tempo: GrpcTraceCapture, mimir: OtlpMetricsCapture
) -> None:
    overrides = tmp_path / "prices.yaml"
    overrides.write_text(OVERRIDES, encoding="utf-8")
    args = [
        f"--traces-endpoint={tempo.endpoint}",
        "--traces-headers=X-Scope-OrgID=acme",
        f"--price-overrides={overrides}",
        f"--metrics-endpoint={mimir.metrics_url}",
        "--metrics-interval-s=0.5",
    ]
    serve = ServeProcess(tmp_path, args=args).start()
    try:
        support_app = make_spans(
            [SONNET, O4_MINI, LONG_CONTEXT],
            plain_spans=1,
            outcomes=[OutcomeSpec("support", "ticket_resolved", 2)],
            service_name="support-bot",
        )
        grpc_exporter = GrpcSpanExporter(endpoint=serve.grpc_target, insecure=True)
        assert grpc_exporter.export(support_app) == SpanExportResult.SUCCESS
        grpc_exporter.shutdown()
        batch_app = make_spans([BATCH, SELF_HOSTED], service_name="batch-jobs")
        http_exporter = HttpSpanExporter(endpoint=serve.http_traces_url)
        assert http_exporter.export(batch_app) == SpanExportResult.SUCCESS
        http_exporter.shutdown()

        check_tempo(tempo, len(support_app) + len(batch_app))
        check_prometheus(serve)
        mimir.wait_for(lambda m: close(point_sum(m.latest_sums(names.COST_USD)), all_costs()))
    finally:
        exit_code = serve.stop()
    assert exit_code == 0, serve.log()
    check_final_push(mimir)


def all_costs() -> Decimal:
    return SONNET_COST + O4_MINI_COST + LONG_CONTEXT_COST + BATCH_COST + SELF_HOSTED_COST


def check_tempo(tempo: GrpcTraceCapture, span_count: int) -> None:
    spans = tempo.wait_for_spans(lambda spans: len(spans) >= span_count)
    assert len(spans) == span_count  # every span, LLM or not, exactly once
    assert {meta["x-scope-orgid"] for meta in tempo.metadata} == {"acme"}
    by_model = {s.attributes.get(attr.GEN_AI_REQUEST_MODEL): s.attributes for s in spans}
    expected = {
        SONNET.model: SONNET_COST,
        O4_MINI.model: O4_MINI_COST,
        LONG_CONTEXT.model: LONG_CONTEXT_COST,
        BATCH.model: BATCH_COST,
        SELF_HOSTED.model: SELF_HOSTED_COST,
    }
    for model, cost in expected.items():
        assert close(float(str(by_model[model][attr.LLM_COST_USD])), cost), model
    assert by_model[SELF_HOSTED.model][attr.LLM_PRICING_SOURCE] == "override:vllm-llama-70b"
    sonnet = by_model[SONNET.model]
    assert close(float(str(sonnet[attr.LLM_COST_CACHE_WRITE_USD])), 2_000 * Decimal("3.75") / M)
    plain = [s for s in spans if s.name.startswith("db query")]
    assert len(plain) == 1
    assert not [k for k in plain[0].attributes if k.startswith("llm.cost")]


def check_prometheus(serve: ServeProcess) -> None:
    samples = serve.metrics()
    cost = names.PROM_COST_USD_TOTAL
    assert close(total(samples, cost, workflow_id="support"), SONNET_COST + O4_MINI_COST + SELF_HOSTED_COST)
    assert close(total(samples, cost, workflow_id="research"), LONG_CONTEXT_COST)
    assert close(total(samples, cost, workflow_id="nightly_report"), BATCH_COST)
    cache_read = 6_000 * Decimal("0.30") + 1_024 * Decimal("0.275")
    assert close(total(samples, cost, workflow_id="support", token_type="cache_read"), cache_read / M)
    assert close(total(samples, cost, service_name="batch-jobs"), BATCH_COST + SELF_HOSTED_COST)
    tokens = names.PROM_TOKENS_TOTAL
    assert total(samples, tokens, model="o4-mini", token_type="output") == 3_000
    assert total(samples, tokens, model="o4-mini", token_type="input") == 2_976
    assert total(samples, names.PROM_REQUESTS_TOTAL) == 5
    assert total(samples, names.PROM_UNPRICED_REQUESTS_TOTAL) == 0
    outcomes = names.PROM_WORKFLOW_OUTCOMES_TOTAL
    assert total(samples, outcomes, workflow_id="support", outcome="ticket_resolved") == 2
    assert total(samples, names.SELF_SPANS_FORWARDED) == total(samples, names.SELF_SPANS_RECEIVED) > 0
    assert serve.get("/readyz") == (200, "ready\n")


def check_final_push(mimir: OtlpMetricsCapture) -> None:
    """SIGTERM pushed the final totals, under this replica's service.instance.id."""
    request = mimir.latest()
    assert request is not None
    resource = key_values(request.resource_metrics[0].resource.attributes)
    assert resource["service.instance.id"] == "e2e"
    assert close(point_sum(mimir.latest_sums(names.COST_USD)), all_costs())
    assert point_sum(mimir.latest_sums(names.REQUESTS)) == 5


def test_restart_keeps_counters_from_the_ledger(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]) as serve:
        exporter = GrpcSpanExporter(endpoint=serve.grpc_target, insecure=True)
        assert exporter.export(make_spans([SONNET])) == SpanExportResult.SUCCESS
        exporter.shutdown()
    with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]) as serve:
        assert close(total(serve.metrics(), names.PROM_COST_USD_TOTAL), SONNET_COST)


def test_bad_configuration_exits_2_listing_every_problem(tmp_path: Path) -> None:
    serve = ServeProcess(tmp_path, args=["--traces-protocol=udp", "--metrics-interval-s=-1"])
    with pytest.raises(RuntimeError, match="did not start"):
        serve.start(timeout_s=20)
    assert serve.process is not None
    assert serve.process.returncode == 2
    log = serve.log()
    assert "traces_protocol (--traces-protocol)" in log
    assert "metrics_interval_s (--metrics-interval-s)" in log
    assert "Traceback" not in log


def test_bad_price_overrides_exit_2(tmp_path: Path) -> None:
    overrides = tmp_path / "prices.yaml"
    overrides.write_text("version: 1\nmodels:\n  - id: x\n    rates: {input: -1}\n", encoding="utf-8")
    bad_prices = ServeProcess(tmp_path, args=[f"--price-overrides={overrides}"])
    with pytest.raises(RuntimeError, match="did not start"):
        bad_prices.start(timeout_s=20)
    assert bad_prices.process is not None
    assert bad_prices.process.returncode == 2
    assert "costline serve: config error: price_overrides: " in bad_prices.log()
    assert "Traceback" not in bad_prices.log()  # a taken port: test_serve_refusals.py


def test_sigterm_finishes_in_flight_requests_then_exits_0(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    tempo.hold = threading.Event()  # Tempo answers only when released: the request stays in flight
    serve = ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]).start()
    exporter = GrpcSpanExporter(endpoint=serve.grpc_target, insecure=True, timeout=30)
    result: list[SpanExportResult] = []
    exporting = threading.Thread(target=lambda: result.append(exporter.export(make_spans([SONNET]))))
    exporting.start()
    deadline = time.monotonic() + 15
    while total(serve.metrics(), names.PROM_REQUESTS_TOTAL) < 1:
        assert time.monotonic() < deadline, serve.log()
        time.sleep(0.02)
    assert serve.process is not None
    serve.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    while serve.get("/readyz")[0] != 503:  # out of the load balancer while it drains
        assert time.monotonic() < deadline, serve.log()
        time.sleep(0.02)
    tempo.hold.set()
    exporting.join(30)
    exporter.shutdown()
    assert result == [SpanExportResult.SUCCESS]  # the in-flight request was finished, not dropped
    assert serve.stop() == 0
    assert "received SIGTERM" in serve.log()
