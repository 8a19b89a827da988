"""`costline serve` refuses to start, in one line and with a non-zero exit, when it could not do its job.

A second serve on a ledger another one writes would open it read-only, say it is ready and then answer
every batch 503, so an exporter without a persistent queue drops those spans; a taken port must name the
option and the address. Both are refused before the ready line, never with a traceback.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from serve_process import ServeProcess, total

from costline_processor import metric_names as names
from costline_processor.server import READY_PREFIX
from genai_spans import Call, make_spans

pytestmark = pytest.mark.e2e

REFUSAL_TIMEOUT_S = 30.0  # a refused start takes ~1 s (loading the price data); the bound is for a slow CI


def call(number: int) -> Call:
    return Call("openai", "gpt-4o", 1_000, 100, response_id=f"chatcmpl-{number}")


def assert_one_line_refusal(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert READY_PREFIX not in output
    assert "Traceback" not in output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("costline serve: cannot start: "), lines[0]
    return lines[0]


def test_a_second_serve_on_a_held_ledger_refuses_to_start_and_the_first_keeps_working(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    with ServeProcess(tmp_path / "first", ledger_path=ledger) as first:
        assert first.process is not None
        exporter = GrpcSpanExporter(endpoint=first.grpc_target, insecure=True)
        assert exporter.export(make_spans([call(1)])) == SpanExportResult.SUCCESS

        result, seconds = ServeProcess(tmp_path / "second", ledger_path=ledger).run_to_exit(REFUSAL_TIMEOUT_S)

        line = assert_one_line_refusal(result)
        assert f"the ledger {ledger} is in use by pid {first.process.pid} (costline serve on host" in line
        advice = (
            "give each replica its own --ledger-url, or let them share one PostgreSQL ledger"
            " (--ledger-url postgresql://...)"
        )
        assert line.endswith(f"; a ledger has one writer: {advice}")
        assert seconds < REFUSAL_TIMEOUT_S
        # The first one never noticed: still ready, still recording.
        assert first.get("/readyz") == (200, "ready\n")
        assert exporter.export(make_spans([call(2)])) == SpanExportResult.SUCCESS
        exporter.shutdown()
        assert total(first.metrics(), names.PROM_REQUESTS_TOTAL) == 2
        assert "Traceback" not in first.log()
    # Once the holder is gone the ledger is free again, for a restart or a replacement.
    with ServeProcess(tmp_path / "second", ledger_path=ledger) as replacement:
        assert total(replacement.metrics(), names.PROM_REQUESTS_TOTAL) == 2


@pytest.mark.parametrize("listener", ["grpc", "http", "metrics"])
def test_a_taken_port_is_one_line_naming_the_option_and_the_address(tmp_path: Path, listener: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # ServeProcess passes port 0 for every listener: the later option wins.
        result, _ = ServeProcess(tmp_path, args=[f"--{listener}-port={port}"]).run_to_exit(REFUSAL_TIMEOUT_S)
    line = assert_one_line_refusal(result)
    assert line == (
        f"costline serve: cannot start: --{listener}-port: 127.0.0.1:{port} is already in use by another"
        " process: stop it, or choose another port (0 picks a free one)"
    )
