"""Times a sender puts on its spans decide neither retention nor dedupe, and cannot block a batch.

A gpt-4o call of 1,000 input and 100 output tokens ($0.0035 at $2.50 / $10 per million) is sent with a
start time of 0. `costline serve` used to purge its row (and so its dedupe key) within the hour, by that
start time, and count it again when the collector redelivered the batch; the windowed reports never saw it.
A start time past 2**63 (`start_time_unix_nano` is a fixed64) made the ledger refuse the whole batch, on
every retry.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from serve_process import COSTLINE, ServeProcess, total

from costline import attributes as attr
from costline_processor import metric_names as names
from genai_spans import Call, encode_request, make_spans
from otlp_grpc_capture import GrpcTraceCapture

pytestmark = pytest.mark.e2e

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
CALL_COST = (1_000 * Decimal("2.50") + 100 * Decimal(10)) / Decimal(1_000_000)
PURGED_LINE = "retention: purged"


def one_call_starting_at(start_ns: int, response_id: str) -> bytes:
    request: ExportTraceServiceRequest = encode_request(
        make_spans([Call("openai", "gpt-4o", 1_000, 100, response_id=response_id)])
    )
    for scope_spans in request.resource_spans[0].scope_spans:
        for span in scope_spans.spans:
            if scope_spans.scope.name == attr.INSTRUMENTATION_SCOPE:
                span.start_time_unix_nano = start_ns
    return request.SerializeToString()


def export(target: str, payload: bytes) -> grpc.StatusCode:
    with grpc.insecure_channel(target) as channel:
        try:
            channel.unary_unary(EXPORT)(payload, timeout=10)
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
            return code
    return grpc.StatusCode.OK


def report(ledger: Path) -> dict[str, object]:
    command = [str(COSTLINE), "report", f"--ledger={ledger}", "--since=1d", "--format=json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


def test_a_call_starting_at_0_is_counted_once_when_redelivered_after_a_restart(
    tmp_path: Path, tempo: GrpcTraceCapture
) -> None:
    batch = one_call_starting_at(0, "chatcmpl-zero")
    args = [f"--traces-endpoint={tempo.endpoint}"]
    with ServeProcess(tmp_path, args=args) as serve:
        assert export(serve.grpc_target, batch) == grpc.StatusCode.OK
        first = serve.metrics()
    assert total(first, names.SELF_START_TIME_OUT_OF_RANGE) == 1
    (forwarded,) = (s for s in tempo.spans if attr.GEN_AI_PROVIDER_NAME in s.attributes)
    assert forwarded.attributes[attr.LLM_COST_START_TIME_OUT_OF_RANGE] is True
    windowed = report(serve.ledger_path)  # what the metrics count, a report of the last day shows
    assert (windowed["total_requests"], Decimal(str(windowed["total_cost_usd"]))) == (1, CALL_COST)

    restarted = ServeProcess(tmp_path, args=args).start()  # retention runs at start
    try:
        deadline = time.monotonic() + 2  # the old retention logged its purge at once; give it the time
        while PURGED_LINE not in restarted.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert export(restarted.grpc_target, batch) == grpc.StatusCode.OK  # the collector resends it
        samples = restarted.metrics()
    finally:
        restarted.stop()
    assert PURGED_LINE not in restarted.log()
    assert total(samples, names.PROM_REQUESTS_TOTAL) == 1
    assert Decimal(repr(total(samples, names.PROM_COST_USD_TOTAL))).quantize(Decimal("1e-12")) == CALL_COST
    assert total(samples, names.SELF_DUPLICATES_IGNORED, kind="redelivered") == 1


def test_a_start_time_sqlite_cannot_store_does_not_block_the_batch(
    tmp_path: Path, tempo: GrpcTraceCapture
) -> None:
    batch = one_call_starting_at(2**64 - 1, "chatcmpl-far")
    with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]) as serve:
        assert export(serve.grpc_target, batch) == grpc.StatusCode.OK
        samples = serve.metrics()
    assert total(samples, names.PROM_REQUESTS_TOTAL) == 1
    assert total(samples, names.SELF_START_TIME_OUT_OF_RANGE) == 1
    assert report(serve.ledger_path)["total_requests"] == 1
