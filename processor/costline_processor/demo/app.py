"""The demo application: the hotel group's LLM traffic, replayed through the real SDKs.

`costline demo` runs this module under `opentelemetry-instrument`, exactly as a user runs their app: the
app only tags work with `costline.workflow(...)` and records outcomes. Three things are demo-only: the usage
each call reports is chosen by the plan (sent to the mock provider in a request header); the OTel SDK's
clock is moved to each call's planned time so four weeks of traffic land in the ledger in seconds; and
before each call under the demo's budget the app exports its spans and has the budget guard read once,
which is what the minutes between two real calls would have done (`costline_processor.demo.budget`).
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from typing import Any

import anthropic
import boto3
import openai
from botocore.config import Config
from google import genai
from google.genai import types as genai_types
from opentelemetry import trace

import costline
from costline import _budget_install
from costline_processor.demo import budget
from costline_processor.demo.scenario import PlannedCall, plan
from costline_processor.mock_provider import USAGE_HEADER

ENV_SEED = "COSTLINE_DEMO_SEED"
ENV_END = "COSTLINE_DEMO_END"
ENV_OPENAI_URL = "COSTLINE_DEMO_OPENAI_URL"
ENV_ANTHROPIC_URL = "COSTLINE_DEMO_ANTHROPIC_URL"  # the mock provider's own URL: Anthropic, Gemini, Bedrock
BEDROCK_REGION = "us-east-1"
PROGRESS_PREFIX = "progress "


class SimulatedClock:
    """Real time shifted so that 'now' is the planned time of the current call."""

    def __init__(self) -> None:
        self._offset_ns = 0

    def move_to(self, at_ns: int) -> None:
        self._offset_ns = at_ns - time.time_ns()

    def __call__(self) -> int:
        return time.time_ns() + self._offset_ns


def _install_clock(clock: Callable[[], int]) -> None:
    # The SDK stamps span start/end with its module-level time_ns; the demo moves that clock only.
    import opentelemetry.sdk.trace as sdk_trace  # noqa: PLC0415 - the SDK is only there under opentelemetry-instrument

    sdk_trace.time_ns = clock  # type: ignore[attr-defined]


def _usage_header(call: PlannedCall) -> dict[str, str]:
    usage = call.usage
    return {
        USAGE_HEADER: json.dumps(
            {
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cache_read_tokens": usage.cache_read_tokens,
                "cache_write_tokens": usage.cache_write_tokens,
                "reasoning_tokens": usage.reasoning_tokens,
            }
        )
    }


class Replayer:
    def __init__(self, openai_url: str, mock_url: str) -> None:
        self.openai = openai.OpenAI(base_url=f"{openai_url}/v1", api_key="demo", max_retries=0)
        self.anthropic = anthropic.Anthropic(base_url=mock_url, api_key="demo", max_retries=0)
        once = genai_types.HttpRetryOptions(attempts=1)
        self.gemini = genai.Client(
            api_key="demo", http_options=genai_types.HttpOptions(base_url=mock_url, retry_options=once)
        )
        self.bedrock = boto3.client(
            "bedrock-runtime", region_name=BEDROCK_REGION, endpoint_url=mock_url, aws_access_key_id="demo",
            aws_secret_access_key="demo", config=Config(retries={"total_max_attempts": 1}),
        )  # fmt: skip
        self._bedrock_headers: dict[str, str] = {}
        self.bedrock.meta.events.register("before-sign.bedrock-runtime.*", self._add_bedrock_headers)

    def _add_bedrock_headers(self, request: Any, **_: Any) -> None:
        for name, value in self._bedrock_headers.items():
            request.headers[name] = value

    def call(self, call: PlannedCall) -> None:
        headers = _usage_header(call)
        prompt = [{"role": "user", "content": f"{call.workflow_id or 'nightly job'} request {call.seq}"}]
        if call.api == "messages":
            self._messages(call, prompt, headers)
        elif call.api == "chat":
            self._chat(call, prompt, headers)
        elif call.api == "responses":
            self._responses(call, headers)
        elif call.api == "generate_content":
            self._generate_content(call, headers)
        elif call.api == "converse":
            self._converse(call, headers)
        else:
            self.openai.embeddings.create(model=call.model, input=["room notes"], extra_headers=headers)

    def _messages(self, call: PlannedCall, prompt: list[dict[str, str]], headers: dict[str, str]) -> None:
        args: dict[str, Any] = {
            "model": call.model,
            "max_tokens": 1024,
            "messages": prompt,
            "extra_headers": headers,
        }
        if call.stream:
            with self.anthropic.messages.stream(**args) as stream:
                for _ in stream.text_stream:
                    pass
        else:
            self.anthropic.messages.create(**args)

    def _chat(self, call: PlannedCall, prompt: list[dict[str, str]], headers: dict[str, str]) -> None:
        messages: Any = prompt  # the SDK's TypedDict union; a plain user message is one of them
        if call.stream:
            for _ in self.openai.chat.completions.create(
                model=call.model, messages=messages, stream=True, extra_headers=headers
            ):
                pass
        else:
            self.openai.chat.completions.create(model=call.model, messages=messages, extra_headers=headers)

    def _responses(self, call: PlannedCall, headers: dict[str, str]) -> None:
        if call.stream:
            for _ in self.openai.responses.create(
                model=call.model, input="forecast", stream=True, extra_headers=headers
            ):
                pass
        else:
            self.openai.responses.create(model=call.model, input="forecast", extra_headers=headers)

    def _generate_content(self, call: PlannedCall, headers: dict[str, str]) -> None:
        config = genai_types.GenerateContentConfig(http_options=genai_types.HttpOptions(headers=headers))
        contents = f"Translate guest review {call.seq} into English"
        if call.stream:
            for _ in self.gemini.models.generate_content_stream(
                model=call.model, contents=contents, config=config
            ):
                pass
        else:
            self.gemini.models.generate_content(model=call.model, contents=contents, config=config)

    def _converse(self, call: PlannedCall, headers: dict[str, str]) -> None:
        messages: Any = [{"role": "user", "content": [{"text": f"Extract supplier invoice {call.seq}"}]}]
        self._bedrock_headers = headers
        try:
            if call.stream:
                for _ in self.bedrock.converse_stream(modelId=call.model, messages=messages)["stream"]:
                    pass
            else:
                self.bedrock.converse(modelId=call.model, messages=messages)
        finally:
            self._bedrock_headers = {}


def _attribution(call: PlannedCall) -> AbstractContextManager[object]:
    if call.workflow_id is None:
        return nullcontext()
    return costline.workflow(
        call.workflow_id, feature_id=call.feature_id, tenant_id=call.tenant_id, user_id=call.user_id
    )


def _let_the_guard_catch_up() -> None:
    """Export the spans made so far, then have the budget guard read the budgets once."""
    provider = trace.get_tracer_provider()
    if hasattr(provider, "force_flush"):
        provider.force_flush()
    _budget_install.read_now()


def run(seed: int, end: date, openai_url: str, mock_url: str) -> int:
    clock = SimulatedClock()
    _install_clock(clock)
    tracer = trace.get_tracer("costline.demo")
    replayer = Replayer(openai_url, mock_url)
    calls = plan(seed, end)
    done = 0
    for _, group in itertools.groupby(calls, key=lambda call: call.trace_group):
        batch = list(group)
        clock.move_to(int(batch[0].at.timestamp() * 1e9))
        with tracer.start_as_current_span(f"handle {batch[0].workflow_id or 'nightly_job'}"):
            for call in batch:
                if budget.in_budget_period(call, end):
                    _let_the_guard_catch_up()
                clock.move_to(int(call.at.timestamp() * 1e9))
                with _attribution(call):
                    replayer.call(call)
                    if call.outcome:
                        costline.record_outcome(call.outcome)
                done += 1
        if done % 50 == 0 or done == len(calls):
            print(f"{PROGRESS_PREFIX}{done} {len(calls)}", flush=True)
    _let_the_guard_catch_up()
    return done


def main() -> None:
    seed = int(os.environ.get(ENV_SEED, "7"))
    end = date.fromisoformat(os.environ[ENV_END]) if ENV_END in os.environ else date.today()
    run(seed, end, os.environ[ENV_OPENAI_URL], os.environ[ENV_ANTHROPIC_URL])
    sys.stdout.flush()


if __name__ == "__main__":
    main()
