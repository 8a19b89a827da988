"""Attribution a caller sends in the W3C `baggage` header cannot bill spend to a tenant it picks.

A real WSGI app (stdlib `wsgiref` server on 127.0.0.1, wrapped in `opentelemetry-instrumentation-wsgi`'s
middleware, which extracts the inbound context with the global propagators as Flask and Django
instrumentations do) runs under `opentelemetry-instrument` and calls the real openai client against the
mock provider for each request. It exports OTLP/gRPC to a real `costline serve`, which forwards to a gRPC
"Tempo". The test sends hostile `baggage` headers and reads what each part recorded: the forwarded spans,
serve's /metrics, the ledger and `costline report --format csv`.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote_plus

import grpc
import pytest
from serve_process import ServeProcess, total

from costline import attributes as attr
from costline._config import ENV_PROVIDER_OVERRIDES, ENV_TRUST_INBOUND_BAGGAGE
from costline_processor import metric_names as names
from costline_processor.ledger import Ledger
from costline_processor.mock_provider import MockProvider
from genai_spans import Call, OutcomeSpec, encode_request, make_spans
from otlp_capture import CapturedSpan
from otlp_grpc_capture import GrpcTraceCapture

pytestmark = pytest.mark.e2e

KEEP_ENABLED = {"costline", "httpx", "httpx2"}
FORMULA = '=HYPERLINK("http://evil","x")'
FORMULA_BAGGAGE = "%3DHYPERLINK(%22http%3A%2F%2Fevil%22%2C%22x%22)"  # what a client sends (percent-encoded)
SPAN_KIND_SERVER, SPAN_KIND_CLIENT = 2, 3  # OTLP enum
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

APP = textwrap.dedent(
    """
    import sys
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    import openai
    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

    import costline

    client = openai.OpenAI(base_url=sys.argv[1], api_key="test", max_retries=0)


    def chat():
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])


    def app(environ, start_response):
        if environ["PATH_INFO"] == "/edge":
            with costline.workflow("checkout"):  # an edge service sets its own attribution
                chat()
        else:
            chat()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass


    server = make_server("127.0.0.1", 0, OpenTelemetryMiddleware(app), handler_class=QuietHandler)
    print(server.server_port, flush=True)
    for _ in range(int(sys.argv[2])):
        server.handle_request()
    """
)


@pytest.fixture
def tempo() -> Iterator[GrpcTraceCapture]:
    with GrpcTraceCapture() as capture:
        yield capture


def serve_app(
    tmp_path: Path, provider: MockProvider, grpc_target: str, requests: list[tuple[str, str]], **env: str
) -> None:
    """Run the app under opentelemetry-instrument; send each (path, baggage header); wait for its exit."""
    app = tmp_path / "app.py"
    app.write_text(APP)
    bin_dir = Path(sys.executable).parent
    peers = {ep.name for ep in importlib.metadata.entry_points(group="opentelemetry_instrumentor")}
    process_env = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        "HOME": str(tmp_path),
        "OTEL_SERVICE_NAME": "edge-api",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{grpc_target}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": ",".join(sorted(peers - KEEP_ENABLED)),
        ENV_PROVIDER_OVERRIDES: "127.0.0.1=openai",
        **env,
    }
    command = [
        str(bin_dir / "opentelemetry-instrument"),
        str(bin_dir / "python"),
        str(app),
        provider.openai_base_url,
        str(len(requests)),
    ]
    with subprocess.Popen(
        command, env=process_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            port = int(process.stdout.readline())
            for path, header in requests:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}{path}", headers={"baggage": header}
                )
                with urllib.request.urlopen(request, timeout=30) as reply:
                    assert reply.status == 200
            _, stderr = process.communicate(timeout=60)  # the exporter flushes at exit
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr


def _llm_spans(tempo: GrpcTraceCapture) -> list[CapturedSpan]:
    return [
        s for s in tempo.spans if s.scope_name == attr.INSTRUMENTATION_SCOPE and s.kind == SPAN_KIND_CLIENT
    ]


def _attribution(span: CapturedSpan) -> dict[str, object]:
    return {
        k: v
        for k, v in span.attributes.items()
        if k in (*attr.ATTRIBUTION_KEYS, attr.LLM_ATTRIBUTION_REJECTED)
    }


def _ledger_attribution(path: Path) -> list[tuple[str, str]]:
    with Ledger(path) as ledger:
        return sorted((str(c[attr.WORKFLOW_ID]), str(c[attr.TENANT_ID])) for c in ledger.iter_calls())


def _report_csv(ledger_path: Path) -> str:
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("costline")), "report", "--ledger", str(ledger_path),
            "--since", "1d", "--format", "csv", "--by", "workflow_id,tenant_id",
        ],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return result.stdout


def _leaked(provider: MockProvider, *needles: str) -> list[tuple[str, str]]:
    """Headers of the requests the provider received that carry any of `needles`."""
    return [
        (name, value)
        for request in provider.requests
        for name, value in request.headers.items()
        if any(needle in unquote_plus(value) for needle in needles)
    ]


def test_invalid_baggage_values_are_dropped_and_counted(
    tmp_path: Path, tempo: GrpcTraceCapture, mock_provider: MockProvider
) -> None:
    header = f"workflow_id=support,tenant_id={FORMULA_BAGGAGE}"
    with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]) as serve:
        serve_app(tmp_path, mock_provider, serve.grpc_target, [("/chat", header)])
        samples = serve.metrics()

    (llm,) = _llm_spans(tempo)
    assert _attribution(llm) == {
        attr.WORKFLOW_ID: "support",
        attr.LLM_ATTRIBUTION_REJECTED: [attr.TENANT_ID],
    }
    (server,) = [s for s in tempo.spans if s.kind == SPAN_KIND_SERVER]  # the WSGI middleware's span
    assert attr.TENANT_ID not in server.attributes
    rejected = {"key": attr.TENANT_ID, "rejected_by": names.REJECTED_BY_INSTRUMENTATION}
    assert total(samples, names.SELF_ATTRIBUTION_REJECTED, **rejected) == 1
    assert total(samples, names.PROM_REQUESTS_TOTAL, workflow_id="support", tenant_id=attr.UNATTRIBUTED) == 1
    assert _ledger_attribution(serve.ledger_path) == [("support", attr.UNATTRIBUTED)]
    assert "HYPERLINK" not in _report_csv(serve.ledger_path)
    assert _leaked(mock_provider, "HYPERLINK", "support") == []


def test_untrusted_inbound_baggage_is_ignored_and_the_edge_workflow_applies(
    tmp_path: Path, tempo: GrpcTraceCapture, mock_provider: MockProvider
) -> None:
    header = "workflow_id=stolen,tenant_id=acme-big-customer"
    with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]) as serve:
        serve_app(
            tmp_path,
            mock_provider,
            serve.grpc_target,
            [("/chat", header), ("/edge", header)],
            **{ENV_TRUST_INBOUND_BAGGAGE: "false"},
        )
        samples = serve.metrics()

    chat, edge = sorted(_llm_spans(tempo), key=lambda span: span.start_time_unix_nano)
    assert _attribution(chat) == {}
    assert _attribution(edge) == {attr.WORKFLOW_ID: "checkout"}
    assert not [s for s in tempo.spans if attr.TENANT_ID in s.attributes or "stolen" in s.attributes.values()]
    assert total(samples, names.PROM_REQUESTS_TOTAL, tenant_id="acme-big-customer") == 0
    assert total(samples, names.SELF_ATTRIBUTION_REJECTED) == 0  # valid values, deliberately not read
    assert _ledger_attribution(serve.ledger_path) == [
        ("checkout", attr.UNATTRIBUTED),
        (attr.UNATTRIBUTED, attr.UNATTRIBUTED),
    ]
    assert _leaked(mock_provider, "stolen", "acme-big-customer", "checkout") == []


def test_processor_refuses_invalid_attribution_from_any_sender(
    tmp_path: Path, tempo: GrpcTraceCapture
) -> None:
    """Defence in depth: spans not from costline's instrumentation (here the plain OTel SDK) get the rule."""
    hostile = Call(
        attr.PROVIDER_OPENAI, "gpt-4o-mini", 1000, 100, response_id="r-1", workflow_id="support",
        extra={attr.TENANT_ID: FORMULA, attr.FEATURE_ID: "x" * 129},
    )  # fmt: skip
    spans = make_spans([hostile], outcomes=[OutcomeSpec(FORMULA, "won")])
    with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]) as serve:
        with grpc.insecure_channel(serve.grpc_target) as channel:
            channel.unary_unary(EXPORT)(encode_request(spans).SerializeToString(), timeout=30)
        samples = serve.metrics()

    by = {"rejected_by": names.REJECTED_BY_PROCESSOR}
    assert total(samples, names.SELF_ATTRIBUTION_REJECTED, key=attr.TENANT_ID, **by) == 1
    assert total(samples, names.SELF_ATTRIBUTION_REJECTED, key=attr.FEATURE_ID, **by) == 1
    assert total(samples, names.SELF_ATTRIBUTION_REJECTED, key=attr.WORKFLOW_ID, **by) == 1  # the outcome's
    assert total(samples, names.PROM_WORKFLOW_OUTCOMES_TOTAL, workflow_id=attr.UNATTRIBUTED) == 1
    assert _ledger_attribution(serve.ledger_path) == [("support", attr.UNATTRIBUTED)]
    assert "HYPERLINK" not in _report_csv(serve.ledger_path)
