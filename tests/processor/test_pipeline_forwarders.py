"""Forwarding over OTLP/HTTP (`traces_protocol: http`): enriched spans reach an HTTP "Tempo"; a down
endpoint is retryable; a permanent refusal is counted, not retried."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from serve_in_process import running_service

from costline import attributes as attr
from costline_processor import metric_names as names
from costline_processor.forwarder import DownstreamUnavailable, HttpForwarder
from costline_processor.metrics import SelfTelemetry
from genai_spans import Call, encode_request, make_spans
from otlp_capture import OtlpCapture
from otlp_grpc_capture import GrpcTraceCapture

GPT = Call("openai", "gpt-4o", 1_000, 100, response_id="chatcmpl-http")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_service_forwards_over_http_with_keep_alive(tmp_path: Path) -> None:
    with OtlpCapture() as tempo_http, GrpcTraceCapture() as unused:
        http = {"traces_endpoint": tempo_http.endpoint, "traces_protocol": "http"}
        with running_service(tmp_path, unused, **http) as service:
            for _ in range(3):
                service.pipeline.export(encode_request(make_spans([GPT], plain_spans=1)))
        spans = tempo_http.spans
    assert len(spans) == 9
    assert len([s for s in spans if attr.LLM_COST_USD in s.attributes]) == 3
    assert unused.spans == []


def test_http_endpoint_down_is_retryable() -> None:
    telemetry = SelfTelemetry()
    forwarder = HttpForwarder(
        f"http://127.0.0.1:{closed_port()}",
        headers=[("X-Scope-OrgID", "acme")],
        timeout_s=2,
        telemetry=telemetry,
    )
    with pytest.raises(DownstreamUnavailable, match="ConnectionRefusedError"):
        forwarder.forward(encode_request(make_spans([GPT])).SerializeToString(), 2)
    assert telemetry.value(names.SELF_FORWARD_FAILURES) == 1
    forwarder.close()


def test_http_permanent_refusal_is_dropped_and_counted() -> None:
    telemetry = SelfTelemetry()
    with OtlpCapture() as tempo_http:
        # The capture answers 404 for any path but /v1/traces: a permanent refusal.
        forwarder = HttpForwarder(
            f"{tempo_http.endpoint}/wrong/path", headers=[], timeout_s=2, telemetry=telemetry
        )
        forwarder.forward(encode_request(make_spans([GPT])).SerializeToString(), 2)
        forwarder.close()
    assert telemetry.value(names.SELF_SPANS_DROPPED, reason="downstream_rejected") == 2
