"""The demo application: the hotel group's LLM traffic, replayed through the real SDKs.

`costline demo` runs this module under `opentelemetry-instrument`, exactly as a user runs their app: the
app only tags work with `costline.workflow(...)` and records outcomes. Two things are demo-only: the usage
each call reports is chosen by the plan (sent to the mock provider in a request header), and the OTel
SDK's clock is moved to each call's planned time so four weeks of traffic land in the ledger in seconds.
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
import openai
from opentelemetry import trace

import costline
from costline_processor.demo.scenario import PlannedCall, plan
from costline_processor.mock_provider import USAGE_HEADER

ENV_SEED = "COSTLINE_DEMO_SEED"
ENV_END = "COSTLINE_DEMO_END"
ENV_OPENAI_URL = "COSTLINE_DEMO_OPENAI_URL"
ENV_ANTHROPIC_URL = "COSTLINE_DEMO_ANTHROPIC_URL"
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
    def __init__(self, openai_url: str, anthropic_url: str) -> None:
        self.openai = openai.OpenAI(base_url=f"{openai_url}/v1", api_key="demo", max_retries=0)
        self.anthropic = anthropic.Anthropic(base_url=anthropic_url, api_key="demo", max_retries=0)

    def call(self, call: PlannedCall) -> None:
        headers = _usage_header(call)
        prompt = [{"role": "user", "content": f"{call.workflow_id or 'nightly job'} request {call.seq}"}]
        if call.api == "messages":
            self._messages(call, prompt, headers)
        elif call.api == "chat":
            self._chat(call, prompt, headers)
        elif call.api == "responses":
            self._responses(call, headers)
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


def _attribution(call: PlannedCall) -> AbstractContextManager[object]:
    if call.workflow_id is None:
        return nullcontext()
    return costline.workflow(
        call.workflow_id, feature_id=call.feature_id, tenant_id=call.tenant_id, user_id=call.user_id
    )


def run(seed: int, end: date, openai_url: str, anthropic_url: str) -> int:
    clock = SimulatedClock()
    _install_clock(clock)
    tracer = trace.get_tracer("costline.demo")
    replayer = Replayer(openai_url, anthropic_url)
    calls = plan(seed, end)
    done = 0
    for _, group in itertools.groupby(calls, key=lambda call: call.trace_group):
        batch = list(group)
        clock.move_to(int(batch[0].at.timestamp() * 1e9))
        with tracer.start_as_current_span(f"handle {batch[0].workflow_id or 'nightly_job'}"):
            for call in batch:
                clock.move_to(int(call.at.timestamp() * 1e9))
                with _attribution(call):
                    replayer.call(call)
                    if call.outcome:
                        costline.record_outcome(call.outcome)
                done += 1
        if done % 50 == 0 or done == len(calls):
            print(f"{PROGRESS_PREFIX}{done} {len(calls)}", flush=True)
    provider = trace.get_tracer_provider()
    if hasattr(provider, "force_flush"):
        provider.force_flush()
    return done


def main() -> None:
    seed = int(os.environ.get(ENV_SEED, "7"))
    end = date.fromisoformat(os.environ[ENV_END]) if ENV_END in os.environ else date.today()
    run(seed, end, os.environ[ENV_OPENAI_URL], os.environ[ENV_ANTHROPIC_URL])
    sys.stdout.flush()


if __name__ == "__main__":
    main()
