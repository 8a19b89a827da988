"""The admin endpoint (`/metrics`, `/healthz`, `/readyz`, `/v1/budgets`) answers every method and error in
plain text."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_in_process import running_service

from otlp_grpc_capture import GrpcTraceCapture
from raw_http import send_raw

TEXT = "text/plain; charset=utf-8"
METHODS = ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


def test_other_methods_get_405_allow_get_and_other_paths_a_plain_404(
    tmp_path: Path, tempo: GrpcTraceCapture
) -> None:
    with running_service(tmp_path, tempo) as service:
        connection = http.client.HTTPConnection("127.0.0.1", service.admin.port, timeout=10)
        for path in ("/metrics", "/healthz", "/readyz", "/v1/budgets"):
            for method in METHODS:
                connection.request(method, path, body=b"x" * 1000 if method in ("POST", "PUT") else None)
                response = connection.getresponse()
                body = response.read()
                assert (response.status, response.getheader("Allow")) == (405, "GET"), (method, path)
                assert response.getheader("Content-Type") == TEXT
                want = f"method {method} not allowed: send GET {path}\n".encode()
                assert body == (b"" if method == "HEAD" else want), (method, path)
        for method, path in (("GET", "/"), ("POST", "/v1/traces"), ("GET", "/metrics/x"), ("HEAD", "/x")):
            connection.request(method, path)
            response = connection.getresponse()
            body = response.read()
            assert (response.status, response.getheader("Content-Type")) == (404, TEXT), (method, path)
            want = b"not found: only GET /metrics, /healthz, /readyz or /v1/budgets is served here\n"
            assert body == (b"" if method == "HEAD" else want), (method, path)
        connection.request("GET", "/healthz")  # still the same kept-alive connection
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"ok\n")
        connection.close()
        for raw, status in (
            (b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"501"),
            (b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", b"431"),
        ):
            answer = send_raw(service.admin.port, raw)
            assert answer.startswith(b"HTTP/1.1 " + status + b" "), answer[:200]
            assert f"Content-Type: {TEXT}".encode() in answer
            assert b"<html" not in answer.lower()
        # Without a readable HTTP version the answer is HTTP/0.9's: the text alone, no status line.
        assert (
            send_raw(service.admin.port, b"GET /healthz HTTP/2.0\r\n\r\n")
            == b"505 Invalid HTTP version (2.0)\n"
        )
        assert send_raw(service.admin.port, b"\x16\x03\x01hello\r\n\r\n").startswith(
            b"400 Bad request syntax"
        )


def test_a_hostile_content_length_on_the_admin_port_closes_the_connection_after_the_answer(
    tmp_path: Path, tempo: GrpcTraceCapture
) -> None:
    with running_service(tmp_path, tempo) as service:
        for value in (b"\xb2", b"-1", b"9" * 5000):
            answer = send_raw(
                service.admin.port, b"POST /healthz HTTP/1.1\r\nContent-Length: " + value + b"\r\n\r\n"
            )
            assert answer.startswith(b"HTTP/1.1 405 "), answer[:200]
            assert b"Connection: close" in answer
            answer = send_raw(
                service.admin.port, b"GET /healthz HTTP/1.1\r\nContent-Length: " + value + b"\r\n\r\n"
            )
            assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
            assert b"Connection: close" in answer
