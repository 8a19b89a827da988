"""Both receivers serve TLS when `tls_cert`/`tls_key` are set; OTel SDK exporters verify it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from serve_in_process import running_service

from costline import attributes as attr
from costline_processor import metric_names as names
from costline_processor import receiver_http
from costline_processor.server import Service
from genai_spans import Call, make_spans
from otlp_grpc_capture import GrpcTraceCapture
from tls_certificate import self_signed_certificate

GPT = Call("openai", "gpt-4o", 1_000, 100, response_id="chatcmpl-tls")


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


def test_grpc_and_http_receivers_serve_tls(
    tmp_path: Path, tempo: GrpcTraceCapture, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests lets these variables override the exporter's own CA file (session.verify).
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    cert, key = certificate
    with running_service(tmp_path, tempo, tls_cert=cert, tls_key=key) as service:
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        grpc_exporter = GrpcSpanExporter(
            endpoint=f"127.0.0.1:{service.grpc.port}", insecure=False, credentials=credentials
        )
        assert grpc_exporter.export(make_spans([GPT])) == SpanExportResult.SUCCESS
        grpc_exporter.shutdown()
        http_exporter = HttpSpanExporter(
            endpoint=f"https://127.0.0.1:{service.http.port}/v1/traces", certificate_file=str(cert)
        )
        assert http_exporter.export(make_spans([GPT])) == SpanExportResult.SUCCESS
        http_exporter.shutdown()
    assert len([s for s in tempo.spans if attr.LLM_COST_USD in s.attributes]) == 2


def test_idle_tls_connections_hold_a_connection_thread_only_until_the_handshake_timeout(
    tmp_path: Path, tempo: GrpcTraceCapture, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both connection threads taken by idle connections: an exporter waits, then gets one, not a reset."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setattr(receiver_http, "MAX_CONNECTIONS", 2)
    cert, key = certificate
    with running_service(tmp_path, tempo, tls_cert=cert, tls_key=key, tls_handshake_timeout_s=1.0) as service:
        idle = [socket.create_connection(("127.0.0.1", service.http.port), timeout=5) for _ in range(2)]
        try:
            time.sleep(0.2)  # both accepted, each in its thread, before the exporter connects
            began = time.monotonic()
            exporter = HttpSpanExporter(
                endpoint=f"https://127.0.0.1:{service.http.port}/v1/traces",
                certificate_file=str(cert),
                timeout=10,
            )
            assert exporter.export(make_spans([GPT])) == SpanExportResult.SUCCESS
            waited = time.monotonic() - began
            exporter.shutdown()
            assert [connection.recv(1) for connection in idle] == [b"", b""]  # closed by the server
        finally:
            for connection in idle:
                connection.close()
        assert 0.6 < waited < 4.0  # it waited for the handshake timeout to free a thread, no longer
        # The connection thread counts the failure after closing the socket the test saw closed.
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and _failed_handshakes(service) < 2:
            time.sleep(0.02)
        assert _failed_handshakes(service) == 2


def _failed_handshakes(service: Service) -> float:
    return service.telemetry.value(names.SELF_REQUESTS_INVALID, reason="tls_handshake")
