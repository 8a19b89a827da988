"""A real `costline serve` with TLS keeps serving real OTel exporters while hostile connections are open.

Idle connections (connected, sending nothing), slow ones (a ClientHello one byte every 0.2 s) and garbage
ones (random bytes) are opened to the TLS port first; then OTel SDK exporters, verifying the self-signed
certificate, export through the same port. Every export must be acknowledged (so recorded in the ledger)
within a bound, every hostile connection must be closed by the server within the handshake timeout plus
a margin, and the process must not grow a thread per hostile gRPC connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from serve_process import ServeProcess

from costline_processor.ledger import Ledger
from genai_spans import Call, make_spans
from hostile_sockets import KINDS, HostileConnection, open_hostile_connections
from tls_certificate import self_signed_certificate

pytestmark = pytest.mark.e2e

HANDSHAKE_TIMEOUT_S = 2.0
CLOSE_MARGIN_S = 3.0  # the server closes a hostile connection at most this late after the timeout
HOSTILE_EACH = 8  # connections of every kind (idle, slow, garbage) per receiver
EXPORTERS = 4
EXPORTS_EACH = 5
EXPORT_TIMEOUT_S = 10.0
EXPORT_BOUND_S = 3.0  # one export, handshake included (measured: at most 0.08 s)
GRPC_WORKERS = 16 + 4  # the receiver's pool with the default max_inflight_batches
# gpt-4o list price: $2.50 input, $10 output per million tokens; 1,000 in and 100 out tokens.
CALL_COST = Decimal("0.0035")


def exports(make_exporter: Callable[[], SpanExporter], prefix: str) -> list[tuple[bool, float]]:
    """EXPORTERS exporters at once, EXPORTS_EACH calls each: (succeeded, seconds) of every export."""
    results: list[tuple[bool, float]] = []

    def run(exporter_index: int) -> None:
        exporter = make_exporter()
        try:
            for n in range(EXPORTS_EACH):
                call = Call("openai", "gpt-4o", 1_000, 100, response_id=f"{prefix}-{exporter_index}-{n}")
                began = time.monotonic()
                result = exporter.export(make_spans([call]))
                results.append((result == SpanExportResult.SUCCESS, time.monotonic() - began))
        finally:
            exporter.shutdown()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(EXPORTERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(EXPORTS_EACH * EXPORT_TIMEOUT_S * 2)
    return results


@dataclass
class Phase:
    """Exports through one receiver while hostile connections are open, and the service's threads."""

    results: list[tuple[bool, float]]
    hostile: list[HostileConnection]
    threads_before: int  # before the hostile connections
    threads_hostile: int  # with them open, before the exporters
    threads_peak: int  # sampled while the exporters ran

    def summary(self) -> str:
        closes = {
            kind: sorted(
                round(c.closed_after_s, 2) for c in self.hostile if c.kind == kind and c.closed_after_s
            )
            for kind in KINDS
        }
        slowest = max((seconds for _, seconds in self.results), default=0.0)
        return (
            f"slowest export {slowest:.2f}s, closed after (s) {closes}, threads {self.threads_before} -> "
            f"{self.threads_hostile} with {len(self.hostile)} hostile connections -> peak {self.threads_peak}"
        )


def exports_amid_hostile_connections(
    serve: ServeProcess, port: int, make_exporter: Callable[[], SpanExporter], prefix: str
) -> Phase:
    """Hostile connections first, then the exporters."""
    threads_before = serve.thread_count()
    hostile = open_hostile_connections(port, HOSTILE_EACH, HANDSHAKE_TIMEOUT_S + CLOSE_MARGIN_S)
    time.sleep(0.5)  # all of them reach the server, and its threads, before the first exporter
    threads_hostile = serve.thread_count()
    peak = [threads_hostile]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak.append(serve.thread_count())

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        results = exports(make_exporter, prefix)
    finally:
        done.set()
        sampler.join()
    for connection in hostile:
        connection.join()
    return Phase(results, hostile, threads_before, threads_hostile, max(peak))


def check_prompt_and_closed(phase: Phase) -> None:
    results, hostile = phase.results, phase.hostile
    assert len(results) == EXPORTERS * EXPORTS_EACH
    assert all(ok for ok, _ in results), results
    slowest = max(seconds for _, seconds in results)
    assert slowest < EXPORT_BOUND_S, f"an export took {slowest:.1f}s"
    still_open = [(c.kind, c.bytes_sent) for c in hostile if c.closed_after_s is None]
    assert still_open == [], f"not closed within {HANDSHAKE_TIMEOUT_S + CLOSE_MARGIN_S}s: {still_open}"
    idle_closed = [c.closed_after_s for c in hostile if c.kind == "idle" and c.closed_after_s is not None]
    assert min(idle_closed) >= HANDSHAKE_TIMEOUT_S - 0.5, idle_closed  # closed by the timeout, not early


def test_tls_receivers_serve_exporters_while_idle_slow_and_garbage_connections_are_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests lets these variables override the exporter's own CA file (session.verify).
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    cert, key = self_signed_certificate(tmp_path)
    args = [f"--tls-cert={cert}", f"--tls-key={key}", f"--tls-handshake-timeout-s={HANDSHAKE_TIMEOUT_S}"]
    serve = ServeProcess(tmp_path, args=args).start()
    try:
        http = exports_amid_hostile_connections(
            serve,
            serve.http_port,
            lambda: HttpSpanExporter(
                endpoint=f"https://127.0.0.1:{serve.http_port}/v1/traces",
                certificate_file=str(cert),
                timeout=EXPORT_TIMEOUT_S,
            ),
            "http",
        )
        print("HTTP:", http.summary())  # pytest -s shows the numbers
        check_prompt_and_closed(http)
        # One thread per open connection, hostile or not (at most 256): the handshakes run there.
        assert http.threads_hostile <= http.threads_before + len(http.hostile), http.summary()
        assert http.threads_peak <= http.threads_before + len(http.hostile) + EXPORTERS, http.summary()
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        grpc_phase = exports_amid_hostile_connections(
            serve,
            serve.grpc_port,
            lambda: GrpcSpanExporter(
                endpoint=serve.grpc_target, insecure=False, credentials=credentials, timeout=EXPORT_TIMEOUT_S
            ),
            "grpc",
        )
        print("gRPC:", grpc_phase.summary())
        check_prompt_and_closed(grpc_phase)
        # grpc-core handshakes in its own event engine: a hostile connection costs no thread.
        assert grpc_phase.threads_hostile <= grpc_phase.threads_before + 1, grpc_phase.summary()
        assert grpc_phase.threads_peak <= grpc_phase.threads_before + GRPC_WORKERS, grpc_phase.summary()
        assert serve.stop() == 0, serve.log()
    finally:
        serve.stop()
    with Ledger(serve.ledger_path, read_only=True) as ledger:
        totals = ledger.totals()
    assert totals.requests == 2 * EXPORTERS * EXPORTS_EACH
    assert totals.cost_total == 2 * EXPORTERS * EXPORTS_EACH * CALL_COST
