"""Both receivers serve TLS when `tls_cert`/`tls_key` are set; OTel SDK exporters verify it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from serve_in_process import running_service

from costline import attributes as attr
from genai_spans import Call, make_spans
from otlp_grpc_capture import GrpcTraceCapture

GPT = Call("openai", "gpt-4o", 1_000, 100, response_id="chatcmpl-tls")


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command-line tool."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


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
