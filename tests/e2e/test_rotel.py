"""Interop with a real, non-Python OTLP collector: app -> rotel (Rust) -> costline serve -> "Tempo".

rotel (PyPI `rotel`, the dev extra) receives the app's spans over OTLP/gRPC, batches them and exports them
to costline over OTLP/gRPC with a bearer token, retrying while costline is unreachable. gpt-4o list
price: $2.50 per million input tokens, $10 per million output tokens.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import rotel
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from serve_process import ServeProcess, total

from costline import attributes as attr
from costline_processor import metric_names as names
from genai_spans import Call, make_spans
from otlp_grpc_capture import GrpcTraceCapture

pytestmark = pytest.mark.e2e

ROTEL_AGENT = Path(rotel.__file__).with_name("rotel-agent")
TOKEN = "e2e-token"
CALL_COST = (2_000 * Decimal("2.50") + 300 * Decimal(10)) / Decimal(1_000_000)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_listening(port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on {port}"
            time.sleep(0.05)


class Rotel:
    """rotel-agent in the foreground, receiving OTLP/gRPC and exporting to `target` over OTLP/gRPC."""

    def __init__(self, workdir: Path, target_port: int) -> None:
        self.grpc_port = free_port()
        self.log_path = workdir / "rotel.log"
        self.command = [
            str(ROTEL_AGENT), "start",
            f"--otlp-grpc-endpoint=127.0.0.1:{self.grpc_port}",
            f"--otlp-http-endpoint=127.0.0.1:{free_port()}",
            "--otlp-receiver-metrics-disabled", "--otlp-receiver-logs-disabled",
            "--exporter=otlp",
            f"--otlp-exporter-endpoint=http://127.0.0.1:{target_port}",
            "--otlp-exporter-protocol=grpc",
            f"--otlp-exporter-custom-headers=authorization=Bearer {TOKEN}",
            "--otlp-exporter-retry-initial-backoff=200ms",
            "--otlp-exporter-retry-max-backoff=1s",
            "--batch-timeout=50ms",
            f"--pid-file={workdir / 'rotel.pid'}",
            f"--log-file={self.log_path}",
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Rotel:
        with (self.log_path.parent / "rotel.out").open("wb") as out:
            self.process = subprocess.Popen(
                self.command, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ)
            )
        wait_listening(self.grpc_port)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


def send_through(collector: Rotel, calls: int, prefix: str) -> None:
    spans = make_spans(
        [Call("openai", "gpt-4o", 2_000, 300, response_id=f"{prefix}-{n}") for n in range(calls)],
        plain_spans=2,
    )
    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{collector.grpc_port}", insecure=True)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    exporter.shutdown()


def wait_for_requests(
    serve: ServeProcess, count: int, timeout_s: float = 30.0
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    deadline = time.monotonic() + timeout_s
    while True:
        samples = serve.metrics()
        if total(samples, names.PROM_REQUESTS_TOTAL) >= count or time.monotonic() > deadline:
            return samples
        time.sleep(0.1)


def test_spans_through_rotel_are_priced_once_and_reach_tempo(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    grpc_port = free_port()
    args = [f"--grpc-port={grpc_port}", f"--traces-endpoint={tempo.endpoint}", f"--bearer-token={TOKEN}"]
    with ServeProcess(tmp_path, args=args) as serve, Rotel(tmp_path, grpc_port) as collector:
        send_through(collector, calls=20, prefix="a")
        samples = wait_for_requests(serve, 20)
    assert total(samples, names.PROM_REQUESTS_TOTAL) == 20
    assert total(samples, names.PROM_COST_USD_TOTAL) == pytest.approx(float(20 * CALL_COST), rel=1e-12)
    spans = tempo.wait_for_spans(lambda spans: len(spans) >= 23)
    assert len(spans) == 23  # 20 LLM spans, 2 plain spans, the root
    priced = [s for s in spans if attr.LLM_COST_USD in s.attributes]
    assert len(priced) == 20
    assert all(s.attributes[attr.LLM_COST_USD] == pytest.approx(float(CALL_COST), rel=1e-12) for s in priced)


def test_rotel_retries_while_costline_is_down(tmp_path: Path, tempo: GrpcTraceCapture) -> None:
    grpc_port = free_port()
    args = [f"--grpc-port={grpc_port}", f"--traces-endpoint={tempo.endpoint}", f"--bearer-token={TOKEN}"]
    with Rotel(tmp_path, grpc_port) as collector:
        send_through(collector, calls=10, prefix="b")  # costline is not running: rotel keeps the batch
        time.sleep(1.0)
        with ServeProcess(tmp_path, args=args) as serve:
            samples = wait_for_requests(serve, 10)
    assert total(samples, names.PROM_REQUESTS_TOTAL) == 10
    assert total(samples, names.PROM_COST_USD_TOTAL) == pytest.approx(float(10 * CALL_COST), rel=1e-12)
    assert len({s.span_id for s in tempo.spans}) == 13
