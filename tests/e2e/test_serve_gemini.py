"""google-genai end to end: an app under `opentelemetry-instrument` calls Gemini (Gemini API and Vertex AI,
plain and streamed) through the real SDK against the fake provider, exports OTLP/gRPC to `costline serve`.

The app also runs the official OpenTelemetry google-genai instrumentation (told to skip its `google-genai<3`
check), so each call is traced twice (costline's span per request inside the peer's span around the public
method): same trace, same response id, counted once.
Gemini reports the 1,500 thinking tokens apart from the candidates; they are billed as output. Expected cost
by hand from Google's list price for gemini-2.5-flash, USD per million tokens: input 0.30, cached input 0.03,
output 2.50 (thinking included).
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from serve_process import ServeProcess, total

from costline import attributes as attr
from costline_processor import metric_names as names
from costline_processor.mock_provider import MockBehaviour, MockProvider, MockUsage
from otlp_grpc_capture import GrpcTraceCapture

pytestmark = pytest.mark.e2e

KEEP_ENABLED = {"costline", "httpx", "httpx2"}
USAGE = MockUsage(input_tokens=20_000, output_tokens=2_000, cache_read_tokens=8_000, reasoning_tokens=1_500)
M = Decimal(1_000_000)
COST = (12_000 * Decimal("0.30") + 8_000 * Decimal("0.03") + 2_000 * Decimal("2.50")) / M  # 0.00884

APP = textwrap.dedent(
    """
    import sys

    import google.auth.credentials
    from google import genai
    from google.genai import types
    from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor

    import costline

    GoogleGenAiSdkInstrumentor().instrument(skip_dep_check=True)  # the official one, on top of costline's


    class Credentials(google.auth.credentials.Credentials):
        def refresh(self, request):
            self.token = "dummy-token"


    options = types.HttpOptions(base_url=sys.argv[1], retry_options=types.HttpRetryOptions(attempts=1))
    gemini_api = genai.Client(api_key="dummy", http_options=options)
    vertex = genai.Client(
        vertexai=True, project="p", location="us-central1", credentials=Credentials(), http_options=options
    )
    with costline.workflow("research", tenant_id="acme"):
        gemini_api.models.generate_content(model="gemini-2.5-flash", contents="hi")
        for _ in gemini_api.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"):
            pass
        vertex.models.generate_content(model="gemini-2.5-flash", contents="hi")
    """
)


def run_app(tmp_path: Path, provider: MockProvider, grpc_target: str) -> None:
    app = tmp_path / "app.py"
    app.write_text(APP)
    bin_dir = Path(sys.executable).parent
    peers = {ep.name for ep in importlib.metadata.entry_points(group="opentelemetry_instrumentor")}
    env = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        "HOME": str(tmp_path),
        "OTEL_SERVICE_NAME": "research-bot",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{grpc_target}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": ",".join(sorted(peers - KEEP_ENABLED)),
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
    }
    command = [str(bin_dir / "opentelemetry-instrument"), str(bin_dir / "python"), str(app), provider.url]
    result = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_gemini_calls_priced_with_thinking_tokens_and_counted_once(
    tmp_path: Path, mock_provider: MockProvider
) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE)
    with GrpcTraceCapture() as tempo:
        with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]) as serve:
            run_app(tmp_path, mock_provider, serve.grpc_target)  # the app's exporter flushes at exit
            samples = serve.metrics()
        spans = [s for s in tempo.spans if attr.GEN_AI_RESPONSE_ID in s.attributes]

    assert len(mock_provider.requests) == 3
    assert total(samples, names.PROM_REQUESTS_TOTAL, workflow_id="research", tenant_id="acme") == 3
    assert total(samples, names.PROM_REQUESTS_TOTAL, provider=attr.PROVIDER_GEMINI) == 2
    assert total(samples, names.PROM_REQUESTS_TOTAL, provider=attr.PROVIDER_GCP_VERTEX_AI) == 1
    assert total(samples, names.PROM_COST_USD_TOTAL, workflow_id="research") == pytest.approx(
        float(3 * COST), rel=1e-12
    )
    assert total(samples, names.PROM_TOKENS_TOTAL, token_type="output") == 3 * 2_000  # thinking included
    assert total(samples, names.PROM_TOKENS_TOTAL, token_type="cache_read") == 3 * 8_000

    assert len(spans) == 6, sorted(s.scope_name for s in spans)  # two spans per call
    for response_id in {s.attributes[attr.GEN_AI_RESPONSE_ID] for s in spans}:
        pair = [s for s in spans if s.attributes[attr.GEN_AI_RESPONSE_ID] == response_id]
        (priced,) = [s for s in pair if attr.LLM_COST_USD in s.attributes]
        (duplicate,) = [s for s in pair if attr.LLM_COST_DUPLICATE_OF in s.attributes]
        assert priced.scope_name == attr.INSTRUMENTATION_SCOPE
        assert priced.attributes[attr.LLM_COST_USD] == pytest.approx(float(COST), rel=1e-12)
        assert duplicate.attributes[attr.LLM_COST_DUPLICATE_OF] == priced.span_id
