"""Bedrock end to end: a boto3 app under `opentelemetry-instrument` calls Bedrock Runtime (converse, its
stream, invoke_model and its stream) against the fake provider, exports OTLP/gRPC to `costline serve`.

The app also runs the official opentelemetry-instrumentation-botocore (its entry point stays enabled), which
makes Bedrock GenAI spans of its own: each call must still count once, at the rate its profile bills.
Expected cost by hand from AWS's Claude Sonnet 4.5 rates in the price data, USD per million tokens:
geographic `us.` profile input 3.30, cache read 0.33, 5-minute write 4.125, 1-hour write 6.60, output 16.50;
`global.` profile 3, 0.30, 3.75, 6, 15. On the wire Bedrock reports 10,000 input tokens: it leaves out the
8,000 read from the cache and the 2,000 written (500 of them for an hour).
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

KEEP_ENABLED = {"costline", "botocore"}
USAGE = MockUsage(
    input_tokens=20_000,
    output_tokens=1_000,
    cache_read_tokens=8_000,
    cache_write_tokens=2_000,
    cache_write_1h_tokens=500,
)
M = Decimal(1_000_000)
REGIONAL = (10_000 * Decimal("3.3") + 8_000 * Decimal("0.33") + 1_500 * Decimal("4.125")
            + 500 * Decimal("6.6") + 1_000 * Decimal("16.5")) / M  # fmt: skip
GLOBAL = (10_000 * 3 + 8_000 * Decimal("0.3") + 1_500 * Decimal("3.75") + 500 * 6 + 1_000 * 15) / M
# invoke_model's headers do not split the cache writes by TTL: all 2,000 at the 5-minute rate
GLOBAL_NO_TTL = (10_000 * 3 + 8_000 * Decimal("0.3") + 2_000 * Decimal("3.75") + 1_000 * 15) / M

APP = textwrap.dedent(
    """
    import json
    import sys

    import boto3
    from botocore.config import Config

    import costline

    client = boto3.client(
        "bedrock-runtime", region_name="us-west-2", endpoint_url=sys.argv[1],
        aws_access_key_id="x", aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1}),
    )
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
                       "messages": [{"role": "user", "content": "hi"}]})
    regional = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    global_ = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    with costline.workflow("claims_triage", tenant_id="acme"):
        client.converse(modelId=regional, messages=messages)
        for _ in client.converse_stream(modelId=regional, messages=messages)["stream"]:
            pass
        client.invoke_model(modelId=global_, body=body)["body"].read()
        for _ in client.invoke_model_with_response_stream(modelId=global_, body=body)["body"]:
            pass
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
        "OTEL_SERVICE_NAME": "claims-bot",
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


def test_bedrock_calls_priced_at_their_profile_s_rate_and_counted_once(
    tmp_path: Path, mock_provider: MockProvider
) -> None:
    mock_provider.default = MockBehaviour(usage=USAGE)
    with GrpcTraceCapture() as tempo:
        with ServeProcess(tmp_path, args=[f"--traces-endpoint={tempo.endpoint}"]) as serve:
            run_app(tmp_path, mock_provider, serve.grpc_target)  # the app's exporter flushes at exit
            samples = serve.metrics()
        spans = [s for s in tempo.spans if attr.GEN_AI_OPERATION_NAME in s.attributes]

    assert len(mock_provider.requests) == 4
    assert total(samples, names.PROM_REQUESTS_TOTAL, workflow_id="claims_triage", tenant_id="acme") == 4
    assert total(samples, names.PROM_REQUESTS_TOTAL, provider=attr.PROVIDER_AWS_BEDROCK) == 4
    expected = 2 * REGIONAL + GLOBAL_NO_TTL + GLOBAL
    assert expected == Decimal("0.23418")
    assert total(samples, names.PROM_COST_USD_TOTAL, workflow_id="claims_triage") == pytest.approx(
        float(expected), rel=1e-12
    )
    assert total(samples, names.PROM_TOKENS_TOTAL, token_type="cache_read") == 4 * 8_000
    assert total(samples, names.PROM_TOKENS_TOTAL, token_type="input") == 4 * 10_000

    # One GenAI span per call (the botocore extension stood down), each carrying its region and cost.
    assert len(spans) == 4, sorted(s.scope_name for s in spans)
    assert {s.scope_name for s in spans} == {attr.INSTRUMENTATION_SCOPE}
    costs = sorted(s.attributes[attr.LLM_COST_USD] for s in spans)
    assert costs == pytest.approx(
        sorted(float(c) for c in (REGIONAL, REGIONAL, GLOBAL_NO_TTL, GLOBAL)), rel=1e-12
    )
    assert {s.attributes[attr.CLOUD_REGION] for s in spans} == {"us-west-2"}
