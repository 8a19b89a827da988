"""`opentelemetry-instrument python app.py` with zero code config: from install to attributed spans.

The app runs in a subprocess with a clean environment (PATH, HOME, OTEL_* and
COSTLINE_PROVIDER_OVERRIDES), exports OTLP/HTTP to a capture receiver, and calls the real openai client
against the fake provider. Peer LLM instrumentations installed in this venv are disabled, so costline
(and the httpx2 HTTP instrumentation) is all that runs.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

from costline import attributes
from costline._config import ENV_PROVIDER_OVERRIDES
from costline_processor.mock_provider import MockProvider
from otlp_capture import CapturedSpan, OtlpCapture

pytestmark = pytest.mark.e2e

SERVICE = "support-bot"
KEEP_ENABLED = {"costline", "httpx", "httpx2"}
SPAN_KIND_CLIENT = 3  # OTLP enum

APP = textwrap.dedent(
    """
    import sys

    import openai
    from opentelemetry import trace

    import costline

    client = openai.OpenAI(base_url=sys.argv[1], api_key="test", max_retries=0)
    with costline.workflow("support", tenant_id="acme"):
        with trace.get_tracer("app").start_as_current_span("handle_ticket"):
            reply = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "my order is late"}]
            )
            costline.record_outcome("ticket_resolved")
    print("usage", reply.usage.prompt_tokens, reply.usage.completion_tokens)
    """
)


def peer_instrumentations() -> list[str]:
    """Every installed `opentelemetry_instrumentor` entry point name except ours and the HTTP client's."""
    names = {ep.name for ep in importlib.metadata.entry_points(group="opentelemetry_instrumentor")}
    return sorted(names - KEEP_ENABLED)


def run_app(tmp_path: Path, capture: OtlpCapture, provider: MockProvider, **extra_env: str) -> str:
    app = tmp_path / "app.py"
    app.write_text(APP)
    bin_dir = Path(sys.executable).parent
    env = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        "HOME": str(tmp_path),
        "OTEL_SERVICE_NAME": SERVICE,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": capture.endpoint,
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": ",".join(peer_instrumentations()),
        # A local base URL is "openai_compatible" by default; this is how users name their proxy's provider.
        ENV_PROVIDER_OVERRIDES: "127.0.0.1=openai",
        **extra_env,
    }
    result = subprocess.run(
        [
            str(bin_dir / "opentelemetry-instrument"),
            str(bin_dir / "python"),
            str(app),
            provider.openai_base_url,
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def _one(spans: list[CapturedSpan], name: str) -> CapturedSpan:
    (found,) = [span for span in spans if span.name == name]
    return found


def _llm_span(spans: list[CapturedSpan]) -> CapturedSpan:
    (found,) = [
        span
        for span in spans
        if span.scope_name == attributes.INSTRUMENTATION_SCOPE and span.kind == SPAN_KIND_CLIENT
    ]
    return found


def test_llm_span_is_attributed_with_no_code_configuration(
    tmp_path: Path, mock_provider: MockProvider
) -> None:
    assert {"openai", "anthropic"} <= set(peer_instrumentations())
    with OtlpCapture() as capture:
        stdout = run_app(tmp_path, capture, mock_provider)
        # The batch processor flushes at exit, so every span is there once the process ended.
        spans = capture.spans
    _, prompt_tokens, completion_tokens = stdout.split()

    llm = _llm_span(spans)
    assert llm.resource["service.name"] == SERVICE
    assert llm.attributes[attributes.WORKFLOW_ID] == "support"
    assert llm.attributes[attributes.TENANT_ID] == "acme"
    assert attributes.FEATURE_ID not in llm.attributes
    assert llm.attributes[attributes.GEN_AI_PROVIDER_NAME] == attributes.PROVIDER_OPENAI
    assert llm.attributes[attributes.GEN_AI_OPERATION_NAME] == attributes.OPERATION_CHAT
    assert llm.attributes[attributes.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert llm.attributes[attributes.GEN_AI_RESPONSE_MODEL]
    assert llm.attributes[attributes.GEN_AI_RESPONSE_ID]
    assert llm.attributes[attributes.GEN_AI_USAGE_INPUT_TOKENS] == int(prompt_tokens) > 0
    assert llm.attributes[attributes.GEN_AI_USAGE_OUTPUT_TOKENS] == int(completion_tokens) > 0

    # The attribution span processor was registered automatically: spans costline does not create carry it.
    handler = _one(spans, "handle_ticket")
    assert handler.attributes == {attributes.WORKFLOW_ID: "support", attributes.TENANT_ID: "acme"}
    assert llm.parent_span_id == handler.span_id
    http = [s for s in spans if s.scope_name == "opentelemetry.instrumentation.httpx"]
    assert len(http) == 1
    assert http[0].attributes[attributes.WORKFLOW_ID] == "support"

    outcome = _one(spans, attributes.OUTCOME_SPAN_NAME)
    assert outcome.attributes[attributes.LLM_OUTCOME_NAME] == "ticket_resolved"
    assert outcome.attributes[attributes.LLM_OUTCOME_COUNT] == 1
    assert outcome.attributes[attributes.WORKFLOW_ID] == "support"

    # Only costline's instrumentation produced a GenAI span: the peers are really disabled.
    genai = [s for s in spans if attributes.GEN_AI_OPERATION_NAME in s.attributes]
    assert [s.scope_name for s in genai] == [attributes.INSTRUMENTATION_SCOPE]

    # Privacy: the trace context reached the provider, the attribution did not.
    (request,) = mock_provider.requests
    headers = {name.lower(): unquote_plus(value) for name, value in request.headers.items()}
    assert "traceparent" in headers
    assert not [h for h in headers.items() if "support" in h[1] or "acme" in h[1] or "workflow_id" in h[1]]


def test_costline_genai_sampler_keeps_llm_spans_when_everything_else_is_dropped(
    tmp_path: Path, mock_provider: MockProvider
) -> None:
    with OtlpCapture() as capture:
        run_app(
            tmp_path,
            capture,
            mock_provider,
            OTEL_TRACES_SAMPLER="costline_genai",
            OTEL_TRACES_SAMPLER_ARG="always_off",
        )
        spans = capture.spans
    assert sorted(span.scope_name for span in spans) == [attributes.INSTRUMENTATION_SCOPE] * 2
    assert _llm_span(spans).attributes[attributes.WORKFLOW_ID] == "support"
    assert _one(spans, attributes.OUTCOME_SPAN_NAME).attributes[attributes.WORKFLOW_ID] == "support"
