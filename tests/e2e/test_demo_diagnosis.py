"""When demo calls do not reach the ledger, `costline demo` says where it looked and how far each part got.

Each case is made with real parts: a real `costline serve`, spans sent by the real OTel SDK OTLP/HTTP exporter
(as the demo app sends them), and the log lines that exporter really writes when it cannot deliver.
"""

from __future__ import annotations

import logging
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from serve_process import ServeProcess

from costline_processor.demo.diagnosis import RunFacts, explain_shortfall, recorded_calls, scrape_counters
from genai_spans import Call, make_spans

CALLS = [Call("openai", "gpt-4o", 1_000, 100, response_id=f"chatcmpl-{n}") for n in range(3)]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def app_log(tmp_path: Path) -> Iterator[Path]:
    """The exporter's own log lines, written to app.log as the demo app's stderr holds them."""
    path = tmp_path / "app.log"
    handler = logging.FileHandler(path)
    exporter_logger = logging.getLogger("opentelemetry.exporter")
    exporter_logger.addHandler(handler)
    yield path
    exporter_logger.removeHandler(handler)
    handler.close()


def _wait_for_rows(ledger: Path, rows: int) -> None:
    deadline = time.monotonic() + 10
    while recorded_calls(ledger) < rows:
        assert time.monotonic() < deadline, f"{ledger} never held {rows} rows"
        time.sleep(0.05)


def test_spans_priced_into_another_ledger_are_explained(tmp_path: Path, app_log: Path) -> None:
    """The original defect: serve priced every call into a ledger other than the one the demo read."""
    serve_dir = tmp_path / "serve"
    serve_dir.mkdir()
    spans = make_spans(CALLS)  # the LLM calls' spans and their parent's
    with ServeProcess(serve_dir) as serve:
        exporter = OTLPSpanExporter(endpoint=serve.http_traces_url, timeout=10)
        assert exporter.export(spans) == SpanExportResult.SUCCESS
        exporter.shutdown()
        _wait_for_rows(serve.ledger_path, len(CALLS))
        counters = scrape_counters(serve.metrics_port)
    read = tmp_path / "costline-demo" / "ledger.sqlite3"
    message = explain_shortfall(RunFacts(read, len(CALLS), len(CALLS), app_log, serve.log_path, counters))
    assert message.splitlines() == [
        "only 0 of 3 calls reached the ledger",
        f"  ledger read: {read} does not exist",
        f"  the app made 3 calls; {app_log} is empty",
        f"  costline serve received {len(spans)} spans (3 LLM spans), priced 3 calls, refused 0 and "
        f"rejected 0 export requests; {serve.log_path} has no errors",
        "  costline serve priced every call, so it wrote them to another ledger file than the one read",
    ]
    assert not read.exists()  # explaining never creates the ledger it reports missing


def test_spans_that_never_reached_serve_are_explained(tmp_path: Path, app_log: Path) -> None:
    with ServeProcess(tmp_path) as serve:
        lost = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{_closed_port()}/v1/traces", timeout=1)
        assert lost.export(make_spans(CALLS)) == SpanExportResult.FAILURE
        lost.shutdown()
        garbage = urllib.request.Request(
            serve.http_traces_url, data=b"not protobuf", headers={"Content-Type": "application/x-protobuf"}
        )
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(garbage, timeout=10)
        counters = scrape_counters(serve.metrics_port)
    message = explain_shortfall(
        RunFacts(serve.ledger_path, len(CALLS), len(CALLS), app_log, serve.log_path, counters)
    )
    lines = message.splitlines()
    assert lines[0] == "only 0 of 3 calls reached the ledger"
    assert lines[1] == f"  ledger read: {serve.ledger_path} (0 rows)"
    # one line per failed attempt (how many fit in the exporter's timeout varies), all about exporting
    app_line = re.fullmatch(
        rf"  the app made 3 calls; {re.escape(str(app_log))} has (\d+) lines? \((\d+) about ex.*", lines[2]
    )
    assert app_line, lines[2]
    assert app_line.group(1) == app_line.group(2), lines[2]
    assert "export" in lines[2].split("the first: ")[1]
    assert lines[3].startswith(
        "  costline serve received 0 spans (0 LLM spans), priced 0 calls, refused 0 and "
    )
    assert "rejected 1 export requests" in lines[3]
    assert lines[4] == "  no span reached costline serve: the app's OTLP exporter did not deliver them"


def test_a_serve_that_no_longer_answers_is_said_so(tmp_path: Path) -> None:
    assert scrape_counters(_closed_port()) is None
    facts = RunFacts(tmp_path / "ledger.sqlite3", 3, 1, tmp_path / "app.log", tmp_path / "serve.log", None)
    assert "costline serve did not answer on its /metrics endpoint" in explain_shortfall(facts)
