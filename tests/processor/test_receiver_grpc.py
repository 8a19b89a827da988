"""The OTLP/gRPC receiver: the real OTel SDK exporter in, a gRPC capture ("Tempo") out, typed refusals."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.grpc.exporter import Compression
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from serve_in_process import running_service

from costline import attributes as attr
from costline_processor.server import Service
from genai_spans import Call, encode_request, make_spans
from otlp_grpc_capture import GrpcTraceCapture

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
GPT = Call("openai", "gpt-4o", 1_000, 100, response_id="chatcmpl-1")


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


def raw_export(service: Service, payload: bytes, metadata: tuple[tuple[str, str], ...] = ()) -> bytes:
    with grpc.insecure_channel(f"127.0.0.1:{service.grpc.port}") as channel:
        call = channel.unary_unary(EXPORT)  # bytes in, bytes out: lets a test send anything
        response: bytes = call(payload, timeout=10, metadata=metadata)
        return response


def rpc_error(service: Service, payload: bytes, metadata: tuple[tuple[str, str], ...] = ()) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        raw_export(service, payload, metadata)
    return caught.value


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def retry_delay_s(error: grpc.RpcError) -> float:
    trailers = dict(error.trailing_metadata())  # type: ignore[attr-defined]
    status = Status.FromString(trailers["grpc-status-details-bin"])
    info = RetryInfo()
    assert status.details[0].Unpack(info)
    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9


def test_sdk_exporter_spans_are_priced_and_forwarded(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    with running_service(tmp_path, tempo) as service:
        exporter = OTLPSpanExporter(
            endpoint=f"127.0.0.1:{service.grpc.port}", insecure=True, compression=Compression.Gzip
        )
        assert exporter.export(make_spans([GPT], plain_spans=1)) == SpanExportResult.SUCCESS
        exporter.shutdown()
        spans = tempo.spans
    assert len(spans) == 3
    (llm,) = (s for s in spans if s.scope_name == attr.INSTRUMENTATION_SCOPE)
    # gpt-4o list price: $2.50 / Mtok input, $10 / Mtok output
    assert llm.attributes[attr.LLM_COST_USD] == pytest.approx((1_000 * 2.5 + 100 * 10) / 1e6, rel=1e-12)


def test_malformed_protobuf_is_invalid_argument(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    payload = encode_request(make_spans([GPT])).SerializeToString()
    with running_service(tmp_path, tempo) as service:
        error = rpc_error(service, payload[: len(payload) // 2])
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
        assert "malformed ExportTraceServiceRequest" in error.details()  # type: ignore[attr-defined]
        raw_export(service, payload)  # still serving
    assert len(tempo.spans) == 2


def test_oversized_request_is_resource_exhausted(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    payload = encode_request(make_spans([GPT], plain_spans=40)).SerializeToString()
    assert len(payload) > 2048
    with running_service(tmp_path, tempo, max_message_bytes=2048) as service:
        error = rpc_error(service, payload)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    assert tempo.spans == []


def test_bearer_token_is_required_when_configured(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    payload = encode_request(make_spans([GPT])).SerializeToString()
    with running_service(tmp_path, tempo, bearer_token="s3cret") as service:
        assert rpc_error(service, payload).code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
        wrong = (("authorization", "Bearer nope"),)
        assert rpc_error(service, payload, wrong).code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
        exporter = OTLPSpanExporter(
            endpoint=f"127.0.0.1:{service.grpc.port}",
            insecure=True,
            headers={"authorization": "Bearer s3cret"},
        )
        assert exporter.export(make_spans([GPT])) == SpanExportResult.SUCCESS
        exporter.shutdown()
    assert len(tempo.spans) == 2


def test_downstream_unavailable_asks_the_sender_to_retry(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    payload = encode_request(make_spans([GPT])).SerializeToString()
    with running_service(tmp_path, tempo) as service:
        tempo.fail_with = grpc.StatusCode.UNAVAILABLE
        error = rpc_error(service, payload)
        assert error.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
        assert retry_delay_s(error) > 0
        tempo.fail_with = None
        raw_export(service, payload)
        assert service.ledger.totals().requests == 1
    assert len(tempo.spans) == 2


def test_overload_is_resource_exhausted_with_retry_info(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    payload = encode_request(make_spans([GPT])).SerializeToString()
    tempo.hold = threading.Event()
    with running_service(tmp_path, tempo, max_inflight_batches=1) as service:
        first = threading.Thread(target=raw_export, args=(service, payload))
        first.start()
        try:
            wait_until(lambda: service.ledger.totals().requests == 1)  # recorded, held downstream
            error = rpc_error(service, payload)
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
            assert retry_delay_s(error) == 1.0
            assert dict(error.trailing_metadata())["google.rpc.retryinfo-bin"]  # type: ignore[attr-defined]
        finally:
            tempo.hold.set()
            first.join(10)
