"""`costline mock-provider`: a fake OpenAI/Anthropic/Gemini/Bedrock API, locally, for demos and load tests."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

import click

from costline_processor.bind_errors import bind_failure
from costline_processor.mock_provider import MockBehaviour, MockProvider, MockUsage

# (option, default, help) of the usage every reply reports, in the semconv (inclusive) model.
_USAGE_OPTIONS: tuple[tuple[str, int, str], ...] = (
    ("--input-tokens", 100, "Input tokens per call, INCLUDING cache read/write tokens (semconv model)."),
    ("--output-tokens", 20, "Output tokens per call, INCLUDING reasoning tokens."),
    ("--cache-read-tokens", 0, "Part of the input read from the prompt cache."),
    ("--cache-write-tokens", 0, "Part of the input written to the prompt cache."),
    ("--cache-write-1h-tokens", 0, "Part of the cache writes with a 1-hour TTL (Anthropic)."),
    ("--reasoning-tokens", 0, "Part of the output spent on reasoning."),
    ("--tool-use-prompt-tokens", 0, "Part of the input that is tool results fed back (Gemini)."),
)


def _usage_options(command: Callable[..., None]) -> Callable[..., None]:
    for flag, default, help_text in reversed(_USAGE_OPTIONS):
        option = click.option(
            flag, default=default, show_default=True, type=click.IntRange(0), help=help_text
        )
        command = option(command)
    return command


@click.command("mock-provider")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", default=8089, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port."
)
@_usage_options
@click.option("--text", default=MockBehaviour().text, show_default=True, help="Assistant reply text.")
@click.option(
    "--chunks", default=3, show_default=True, type=click.IntRange(1), help="Text deltas per streamed reply."
)
@click.option(
    "--event-delay-ms",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Delay between stream events.",
)
@click.option(
    "--response-model", default=None, help="Model name to report (default: echo the request's model)."
)
@click.option("--service-tier", default=None, help="Service tier to report (e.g. flex, priority).")
@click.option(
    "--latency-ms", default=0, show_default=True, type=click.IntRange(0), help="Delay before each reply."
)
@click.option(
    "--error-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Fraction of requests that fail with --error-status.",
)
@click.option(
    "--error-status",
    default=500,
    show_default=True,
    type=click.IntRange(400, 599),
    help="HTTP status of injected errors (e.g. 429, 500, 529).",
)
@click.option(
    "--seed", default=None, type=int, help="Seed for error injection, for a repeatable failure sequence."
)
@click.option(
    "--log-requests/--no-log-requests", default=False, show_default=True, help="Log each request to stderr."
)
def mock_provider(
    *,
    host: str,
    port: int,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int,
    cache_write_tokens: int,
    cache_write_1h_tokens: int,
    reasoning_tokens: int,
    tool_use_prompt_tokens: int,
    text: str,
    chunks: int,
    latency_ms: int,
    event_delay_ms: int,
    response_model: str | None,
    service_tier: str | None,
    error_rate: float,
    error_status: int,
    seed: int | None,
    log_requests: bool,
) -> None:
    """Serve a fake OpenAI + Anthropic + Gemini + Bedrock API until Ctrl-C.

    Point SDKs at it: OpenAI base_url = URL/v1, Anthropic base_url = URL, Anthropic Vertex base_url = URL/v1,
    google-genai (Gemini API and Vertex AI) base_url = URL, boto3 bedrock-runtime endpoint_url = URL (any
    dummy credentials and region). Every call reports the configured token usage, converted to each
    provider's wire format (Anthropic's input_tokens and Bedrock's inputTokens exclude cache tokens; OpenAI's
    prompt_tokens includes them; Gemini's candidatesTokenCount excludes thinking tokens). The first line
    printed is the URL it listens on.
    """
    try:
        usage = MockUsage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
            cache_write_1h_tokens=cache_write_1h_tokens,
            reasoning_tokens=reasoning_tokens,
            tool_use_prompt_tokens=tool_use_prompt_tokens,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if log_requests:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    server = MockProvider(
        host, port, error_rate=error_rate, error_status=error_status, seed=seed, log_requests=log_requests
    )
    server.default = MockBehaviour(
        usage=usage,
        text=text,
        chunks=chunks,
        latency_s=latency_ms / 1000,
        event_delay_s=event_delay_ms / 1000,
        response_model=response_model,
        service_tier=service_tier,
    )
    _serve(server, host, port)


def _serve(server: MockProvider, host: str, port: int) -> None:
    """Print where it listens, then serve until Ctrl-C or SIGTERM."""
    stopped = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    try:
        server.start()
    except OSError as exc:
        raise click.ClickException(bind_failure("--host", "--port", host, port, exc)) from None
    with server:
        click.echo(server.url)
        click.echo(f"OpenAI base_url: {server.openai_base_url}")
        click.echo(f"Anthropic base_url: {server.anthropic_base_url} (Vertex AI: {server.vertex_base_url})")
        click.echo(f"google-genai base_url: {server.gemini_base_url} (Gemini API and Vertex AI)")
        click.echo(f"boto3 bedrock-runtime endpoint_url: {server.bedrock_endpoint_url}")
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()
