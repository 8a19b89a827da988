"""The OTLP/HTTP receiver: protobuf and JSON, gzip, the OTLP/HTTP status codes, never a crash."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from serve_in_process import running_service

from costline import attributes as attr
from costline_processor import metric_names as names
from costline_processor import receiver_http
from costline_processor.server import Service
from genai_spans import Call, encode_request, make_spans
from otlp_grpc_capture import GrpcTraceCapture
from raw_http import send_raw

GPT = Call("openai", "gpt-4o", 1_000, 100, response_id="chatcmpl-1")
PROTOBUF = {"Content-Type": "application/x-protobuf"}


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


def post(
    service: Service, body: bytes, headers: dict[str, str], path: str = "/v1/traces"
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", service.http.port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def payload() -> bytes:
    return encode_request(make_spans([GPT], plain_spans=1)).SerializeToString()


def test_sdk_http_exporter_with_gzip(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    with running_service(tmp_path, tempo) as service:
        exporter = OTLPSpanExporter(
            endpoint=f"http://127.0.0.1:{service.http.port}/v1/traces", compression=Compression.Gzip
        )
        assert exporter.export(make_spans([GPT], plain_spans=1)) == SpanExportResult.SUCCESS
        assert exporter.export(make_spans([GPT])) == SpanExportResult.SUCCESS  # same kept-alive connection
        exporter.shutdown()
    assert len(tempo.spans) == 5
    priced = [s for s in tempo.spans if attr.LLM_COST_USD in s.attributes]
    assert len(priced) == 2


def test_otlp_json_with_hex_ids(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    request = encode_request(make_spans([GPT]))
    document = json_format.MessageToDict(request)
    span_ids = []
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:  # protobuf's JSON is base64; OTLP/JSON is hex
                        span[key] = base64.b64decode(span[key]).hex()
                span_ids.append(span["spanId"])
    body = json.dumps(document).encode()
    with running_service(tmp_path, tempo) as service:
        status, headers, reply = post(service, body, {"Content-Type": "application/json"})
    assert status == 200, reply
    assert headers["Content-Type"] == "application/json"
    assert sorted(s.span_id for s in tempo.spans) == sorted(span_ids)
    assert any(attr.LLM_COST_USD in s.attributes for s in tempo.spans)


BAD_REQUESTS = [
    (b"\x0a\xff\xff\xff", PROTOBUF, 400, "malformed protobuf"),
    (b"{not json", {"Content-Type": "application/json"}, 400, "malformed OTLP/JSON"),
    (
        b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}',
        {"Content-Type": "application/json"},
        400,
        "traceId is not hex",
    ),
    (b"[" * 100_000, {"Content-Type": "application/json"}, 400, "malformed OTLP/JSON"),
    (b'{"resourceSpans": 5}', {"Content-Type": "application/json"}, 400, "malformed OTLP/JSON"),
    (b"x", {"Content-Type": "text/plain"}, 415, "Content-Type must be"),
    (b"not gzip", {**PROTOBUF, "Content-Encoding": "gzip"}, 400, "corrupt gzip"),
    (b"x", {**PROTOBUF, "Content-Encoding": "br"}, 415, "unsupported Content-Encoding"),
]


def test_bad_requests_get_a_clear_status_and_the_service_keeps_serving(
    tmp_path: Path, tempo: GrpcTraceCapture
) -> None:
    with running_service(tmp_path, tempo) as service:
        for body, headers, status, message in BAD_REQUESTS:
            got, reply_headers, reply = post(service, body, headers)
            assert got == status, (message, reply)
            if reply_headers["Content-Type"] == "application/json":
                assert message in json.loads(reply)["message"]
            else:
                assert message in Status.FromString(reply).message
        assert post(service, payload(), PROTOBUF)[0] == 200
    assert len(tempo.spans) == 3  # the root, the LLM and the plain span of the one good request


def test_size_limits_apply_before_and_after_decompression(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    bomb = gzip.compress(b"\0" * 10_000_000)  # ~10 KB on the wire, 10 MB inflated
    with running_service(tmp_path, tempo, max_message_bytes=64 * 1024) as service:
        assert post(service, b"\0" * 100_000, PROTOBUF)[0] == 413
        assert post(service, bomb, {**PROTOBUF, "Content-Encoding": "gzip"})[0] == 413
        assert post(service, gzip.compress(payload()), {**PROTOBUF, "Content-Encoding": "gzip"})[0] == 200


def test_auth_path_and_method(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    with running_service(tmp_path, tempo, bearer_token="s3cret") as service:
        assert post(service, payload(), PROTOBUF)[0] == 401
        assert post(service, payload(), {**PROTOBUF, "Authorization": "Bearer nope"})[0] == 401
        assert post(service, payload(), {**PROTOBUF, "Authorization": "Bearer s3cret"}, "/v1/logs")[0] == 404
        assert post(service, payload(), {**PROTOBUF, "Authorization": "Bearer s3cret"})[0] == 200
    assert len(tempo.spans) == 3


def test_unavailable_and_overloaded_carry_retry_after(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    with running_service(tmp_path, tempo, max_inflight_batches=1) as service:
        tempo.fail_with = grpc.StatusCode.UNAVAILABLE
        status, headers, reply = post(service, payload(), PROTOBUF)
        assert (status, headers["Retry-After"]) == (503, "2")
        assert "unavailable" in Status.FromString(reply).message
        tempo.fail_with = None
        tempo.hold = threading.Event()
        first = threading.Thread(target=post, args=(service, payload(), PROTOBUF))
        first.start()
        try:
            deadline = time.monotonic() + 10
            while service.ledger.totals().requests < 1:  # recorded; its slot is held until Tempo answers
                assert time.monotonic() < deadline
                time.sleep(0.02)
            status, headers, _ = post(service, payload(), PROTOBUF)
            assert (status, headers["Retry-After"]) == (429, "1")
        finally:
            tempo.hold.set()
            first.join(10)


def test_metrics_and_health_endpoints(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    with running_service(tmp_path, tempo) as service:
        assert post(service, payload(), PROTOBUF)[0] == 200
        connection = http.client.HTTPConnection("127.0.0.1", service.admin.port, timeout=10)
        for path, want in (("/healthz", b"ok\n"), ("/readyz", b"ready\n")):
            connection.request("GET", path)
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, want)
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
        connection.request(
            "GET", "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
        response = connection.getresponse()
        openmetrics = response.read().decode()
        connection.close()
    assert "llm_cost_usd_total{" in text
    assert "costline_spans_received_total" in text
    assert response.getheader("Content-Type", "").startswith("application/openmetrics-text")
    assert openmetrics.endswith("# EOF\n")


def test_connections_beyond_the_cap_wait_for_a_thread_instead_of_being_closed(
    tmp_path: Path, tempo: GrpcTraceCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receiver_http, "MAX_CONNECTIONS", 2)
    with running_service(tmp_path, tempo) as service:
        held = [socket.create_connection(("127.0.0.1", service.http.port), timeout=5) for _ in range(2)]
        statuses: list[int] = []
        waiting = threading.Thread(target=lambda: statuses.append(post_status(service)))
        try:
            waiting.start()
            waiting.join(1.0)
            assert statuses == []  # both threads are taken by the idle connections: not served, not closed
        finally:
            for connection in held:
                connection.close()
        waiting.join(10)
        assert statuses == [200]  # served as soon as a thread was free


def post_status(service: Service) -> int:
    try:
        return post(service, payload(), PROTOBUF)[0]
    except (ConnectionError, http.client.HTTPException):
        return 0


def request_raw(service: Service, raw: bytes) -> bytes:
    return send_raw(service.http.port, raw)


def test_other_methods_and_paths_get_short_plain_text_answers(
    tmp_path: Path, tempo: GrpcTraceCapture
) -> None:
    with running_service(tmp_path, tempo) as service:
        connection = http.client.HTTPConnection("127.0.0.1", service.http.port, timeout=10)
        for method in ("GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"):
            connection.request(method, "/v1/traces", body=b"x" * 1000 if method == "PUT" else None)
            response = connection.getresponse()
            body = response.read()
            assert (response.status, response.getheader("Allow")) == (405, "POST"), method
            assert response.getheader("Content-Type") == "text/plain; charset=utf-8"
            assert body == (
                b"" if method == "HEAD" else f"method {method} not allowed: send POST /v1/traces\n".encode()
            )
        for method, path in (("GET", "/"), ("GET", "/v1/logs"), ("DELETE", "/v1/traces/x"), ("HEAD", "/x")):
            connection.request(method, path)
            response = connection.getresponse()
            body = response.read()
            assert response.status == 404, (method, path)
            assert response.getheader("Content-Type") == "text/plain; charset=utf-8"
            assert body in (b"", b"not found: only POST /v1/traces is served here\n")
        connection.request("POST", "/v1/traces", body=payload(), headers=PROTOBUF)  # the same connection
        assert connection.getresponse().status == 200
        connection.close()
        unknown_method = request_raw(service, b"BREW /v1/traces HTTP/1.1\r\nHost: x\r\n\r\n")
        assert unknown_method.startswith(b"HTTP/1.1 501 ")
        assert b"text/plain" in unknown_method
        assert b"<html" not in unknown_method.lower()
        too_long_header = b"POST /v1/traces HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
        rejected = request_raw(service, too_long_header)
        assert rejected.startswith(b"HTTP/1.1 431 ")
        assert b"text/plain" in rejected
        assert b"<html" not in rejected.lower()
    assert len(tempo.spans) == 3


def test_prometheus_endpoint_can_be_turned_off(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    with running_service(tmp_path, tempo, prometheus=False) as service:
        connection = http.client.HTTPConnection("127.0.0.1", service.admin.port, timeout=10)
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        assert (response.status, response.read()) == (
            404,
            b"not found: only GET /healthz, /readyz or /v1/budgets is served here\n",
        )
        connection.request("GET", "/healthz")
        assert connection.getresponse().status == 200
        connection.close()


# Header bytes are read as ISO-8859-1, so b"\xb2" is "²": str.isdigit() says yes, int() says no.
BAD_CONTENT_LENGTHS = {
    b"\xb2": 400,
    b"\xb9\xb3": 400,
    b"-1": 400,
    b"+5": 400,
    b"5 5": 400,
    b"5,5": 400,
    b"0x10": 400,
    b"5_0": 400,
    b"\xa05": 400,  # a no-break space is not the whitespace HTTP allows around a value
    b"9" * 30: 413,
    b"9" * 5000: 413,  # int() refuses more than 4,300 digits
}


def status_of(answer: bytes) -> int:
    """The status of a raw HTTP answer; 0 when the server closed the connection without one."""
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def test_a_content_length_that_is_not_a_number_of_bytes_is_a_400_never_a_500(
    tmp_path: Path, tempo: GrpcTraceCapture
) -> None:
    body = payload()
    with running_service(tmp_path, tempo) as service:
        for value, status in BAD_CONTENT_LENGTHS.items():
            head = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            answer = request_raw(service, head + b"Content-Length: " + value + b"\r\n\r\n" + body)
            assert status_of(answer) == status, (value[:20], answer[:300])
            reply = Status.FromString(answer.split(b"\r\n\r\n", 1)[1])
            assert "Content-Length" in reply.message or "exceeds" in reply.message, reply
            # A refused method reads no body it cannot measure: it answers and closes the connection.
            refused = request_raw(
                service, b"PUT /v1/traces HTTP/1.1\r\nContent-Length: " + value + b"\r\n\r\n"
            )
            assert status_of(refused) == 405, (value[:20], refused[:300])
            assert b"Connection: close" in refused
        twice = b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(body), len(body) + 1)
        head = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        assert status_of(request_raw(service, head + twice + b"\r\n" + body)) == 400
        # What RFC 9110 allows: whitespace around the value, leading zeros, the same value twice.
        for header in (
            b"Content-Length: \t%d \r\n" % len(body),
            b"Content-Length: " + b"0" * 5000 + b"%d\r\n" % len(body),
            b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(body), len(body)),
        ):
            assert status_of(request_raw(service, head + header + b"\r\n" + body)) == 200, header[:40]
        assert service.telemetry.value(names.SELF_REQUESTS_REFUSED, reason="internal_error") == 0
    assert len(tempo.spans) == 3 * 3
