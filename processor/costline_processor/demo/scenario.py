"""The demo's traffic plan: a 24-property hotel group with eight LLM workflows over two fortnights.

Pure and seeded: the same seed and end date always give the same calls, so the demo's numbers are testable.
The first fortnight is the baseline; in the second the bill rises by about half, for reasons the report's
comparison must name:

- a retry loop: from day 17 the housekeeping dispatcher re-asks the model up to ten times for one property
  whose room feed is malformed (many calls per trace, one tenant);
- a 5,770-token system prompt, sent uncached, that the revenue-management copilot ships with from day 14
  (trimming it would cut that workflow's spend in the second fortnight by nearly three quarters);
- a debug mode left on in the front-desk concierge from day 22, which makes every call about 2.4x as large
  (its prompt and its answer);
- three procurement power users who join in the second fortnight (about a fifth of that workflow's spend).
Some calls run outside any workflow (a nightly script nobody tagged), so the unattributed line is visible.
Two steady workflows run on Gemini (google-genai) and on Bedrock (boto3); they are planned with a random
stream of their own, so adding them left the other workflows' calls as they were.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal

Api = Literal["chat", "responses", "messages", "embeddings", "generate_content", "converse"]
Provider = Literal["openai", "anthropic", "gcp.gemini", "aws.bedrock"]

PROPERTIES: Final = tuple(f"property-{n:02d}" for n in range(1, 25))
MALFORMED_PROPERTY: Final = "property-17"
POWER_USERS: Final = ("night-auditor-ana", "payroll-lead-raj", "gm-chen")
VERBOSE_SYSTEM_PROMPT_TOKENS: Final = 5770
DEBUG_FACTOR: Final = 2.4  # the concierge's debug mode: prompts and answers this many times as long
DAYS: Final = 28
PERIOD_DAYS: Final = 14  # two consecutive periods: the baseline, then the one whose bill rose
PROMPT_CHANGE_DAY: Final = 14  # the revenue-management copilot's verbose prompt ships
RETRY_LOOP_DAY: Final = 17  # the malformed room feed starts
DEBUG_DAY: Final = 22  # the concierge's debug mode is switched on, and left on
POWER_USER_SHARE: Final = 0.22  # of the procurement assistant's calls in the second period
RETRY_ATTEMPTS: Final = 10


@dataclass(frozen=True, slots=True)
class PlannedUsage:
    """Usage the mock provider will report, in the inclusive semconv model."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class PlannedCall:
    seq: int
    at: datetime
    workflow_id: str | None
    feature_id: str | None
    tenant_id: str | None
    user_id: str | None
    provider: Provider
    api: Api
    model: str
    stream: bool
    usage: PlannedUsage
    trace_group: int  # calls sharing a trace_group run inside one parent span (one trace)
    driver: str | None = None  # the hidden cost driver that produced the call, for verification only
    outcome: str | None = None  # business outcome the app records after the call


@dataclass(frozen=True, slots=True)
class _Workflow:
    workflow_id: str
    feature_id: str
    provider: Provider
    api: Api
    model: str
    calls_per_day: int
    input_tokens: tuple[int, int]
    output_tokens: tuple[int, int]
    cached_share: float  # share of input read from the prompt cache
    stream_share: float
    outcome: str | None
    reasoning_share: float = 0.0


WORKFLOWS: Final = (
    _Workflow(
        "front_desk_concierge",
        "guest_chat",
        "anthropic",
        "messages",
        "claude-sonnet-4-6",
        24,
        (1800, 3200),
        (150, 450),
        0.7,
        0.8,
        "guest_request_resolved",
    ),
    _Workflow(
        "housekeeping_dispatcher",
        "room_assignment",
        "openai",
        "chat",
        "gpt-4.1",
        20,
        (900, 1600),
        (80, 220),
        0.0,
        0.0,
        "rooms_dispatched",
    ),
    _Workflow(
        "revenue_management_copilot",
        "rate_recommendation",
        "openai",
        "responses",
        "o4-mini",
        14,
        (300, 700),
        (400, 600),
        0.0,
        0.3,
        "rate_plan_published",
        reasoning_share=0.6,
    ),
    _Workflow(
        "guest_feedback_summarizer",
        "review_digest",
        "anthropic",
        "messages",
        "claude-haiku-4-5",
        10,
        (2500, 4500),
        (200, 400),
        0.0,
        0.0,
        "reviews_summarized",
    ),
    _Workflow(
        "procurement_assistant",
        "purchase_order",
        "openai",
        "chat",
        "gpt-4.1",
        10,
        (600, 1200),
        (250, 500),
        0.0,
        0.5,
        "purchase_order_drafted",
    ),
    _Workflow(
        "payroll_question_assistant",
        "hr_helpdesk",
        "anthropic",
        "messages",
        "claude-sonnet-4-6",
        11,
        (700, 1400),
        (150, 350),
        0.5,
        0.5,
        "payroll_question_answered",
    ),
)
# Planned from their own random stream (STEADY_STREAM): the workflows above keep the calls they had before.
STEADY_WORKFLOWS: Final = (
    _Workflow(
        "guest_review_translator",
        "review_translation",
        "gcp.gemini",
        "generate_content",
        "gemini-2.5-flash",
        12,
        (1200, 2600),
        (400, 900),
        0.3,
        0.3,
        "review_translated",
        reasoning_share=0.5,
    ),
    _Workflow(
        "supplier_invoice_extractor",
        "invoice_capture",
        "aws.bedrock",
        "converse",
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        8,
        (2500, 5000),
        (200, 450),
        0.4,
        0.3,
        "invoice_posted",
    ),
)
STEADY_STREAM: Final = "steady"
UNATTRIBUTED_JOB: Final = _Workflow(
    "", "", "openai", "embeddings", "text-embedding-3-small", 4, (6000, 12000), (0, 0), 0.0, 0.0, None
)


def plan(seed: int = 7, end: date = date(2026, 11, 22)) -> list[PlannedCall]:
    """Every call of the two fortnights that end on `end` (inclusive), in time order."""
    rng = random.Random(seed)
    steady = random.Random(f"{seed}-{STEADY_STREAM}")
    start = datetime.combine(end - timedelta(days=DAYS - 1), time(), tzinfo=UTC)
    calls: list[PlannedCall] = []
    groups = iter(range(1_000_000_000))
    for day in range(DAYS):
        day_start = start + timedelta(days=day)
        for workflows, stream in (((*WORKFLOWS, UNATTRIBUTED_JOB), rng), (STEADY_WORKFLOWS, steady)):
            for workflow in workflows:
                for power_user in _senders(workflow, day, stream):
                    at = day_start + timedelta(seconds=stream.randrange(6 * 3600, 23 * 3600))
                    calls.extend(_calls_for(workflow, day, at, stream, next(groups), power_user))
    calls.sort(key=lambda call: (call.at, call.trace_group))
    return [_with_seq(call, seq) for seq, call in enumerate(calls)]


def _senders(workflow: _Workflow, day: int, rng: random.Random) -> list[str | None]:
    """One entry per request of the day: a power user's name, or None for the usual staff."""
    usual: list[str | None] = [None] * workflow.calls_per_day
    if workflow.workflow_id != "procurement_assistant" or day < PERIOD_DAYS:
        return usual
    # The power users come on top of the usual traffic: POWER_USER_SHARE of the period's calls.
    extra = round(workflow.calls_per_day * POWER_USER_SHARE / (1 - POWER_USER_SHARE))
    return usual + [rng.choice(POWER_USERS) for _ in range(extra)]


def _calls_for(  # noqa: PLR0917 - one request's inputs
    workflow: _Workflow, day: int, at: datetime, rng: random.Random, group: int, power_user: str | None
) -> Iterator[PlannedCall]:
    tenant = rng.choice(PROPERTIES)
    user = power_user or _user_for(workflow, rng)
    usage = _usage_for(workflow, rng)
    driver: str | None = "power_user" if power_user else None
    if workflow.workflow_id == "revenue_management_copilot" and day >= PROMPT_CHANGE_DAY:
        usage = _with_extra_input(usage, VERBOSE_SYSTEM_PROMPT_TOKENS)
        driver = "verbose_system_prompt"
    if workflow.workflow_id == "front_desk_concierge" and day >= DEBUG_DAY:
        usage = _scaled(usage, DEBUG_FACTOR)
        driver = "debug_mode"
    attempts = 1
    if (
        workflow.workflow_id == "housekeeping_dispatcher"
        and tenant == MALFORMED_PROPERTY
        and day >= RETRY_LOOP_DAY
    ):
        attempts, driver = RETRY_ATTEMPTS, "retry_loop"
    for attempt in range(attempts):
        last = attempt == attempts - 1
        yield PlannedCall(
            seq=0,
            at=at + timedelta(seconds=4 * attempt),
            workflow_id=workflow.workflow_id or None,
            feature_id=workflow.feature_id or None,
            tenant_id=tenant if workflow.workflow_id else None,
            user_id=user,
            provider=workflow.provider,
            api=workflow.api,
            model=workflow.model,
            stream=rng.random() < workflow.stream_share,
            usage=usage,
            trace_group=group,
            driver=driver,
            outcome=workflow.outcome if last and driver != "retry_loop" else None,
        )


def _user_for(workflow: _Workflow, rng: random.Random) -> str | None:
    if not workflow.workflow_id:
        return None
    return f"staff-{rng.randrange(1, 180):03d}"


def _usage_for(workflow: _Workflow, rng: random.Random) -> PlannedUsage:
    input_tokens = rng.randrange(*workflow.input_tokens)
    output_tokens = rng.randrange(*workflow.output_tokens) if workflow.output_tokens[1] else 0
    cache_read = int(input_tokens * workflow.cached_share) if rng.random() < 0.85 else 0
    # Anthropic writes the cached prefix when it is missing; OpenAI caches implicitly (no write charge).
    cache_write = (
        int(input_tokens * workflow.cached_share)
        if workflow.provider in {"anthropic", "aws.bedrock"} and not cache_read  # Bedrock here serves Claude
        else 0
    )
    reasoning = int(output_tokens * workflow.reasoning_share)
    return PlannedUsage(input_tokens, output_tokens, cache_read, cache_write, reasoning)


def _with_extra_input(usage: PlannedUsage, extra: int) -> PlannedUsage:
    return PlannedUsage(
        usage.input_tokens + extra,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.reasoning_tokens,
    )


def _scaled(usage: PlannedUsage, factor: float) -> PlannedUsage:
    """Every token count times `factor` (a debug mode: the whole context dumped in, verbose answers out)."""
    return PlannedUsage(*(round(count * factor) for count in (
        usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens,
        usage.reasoning_tokens,
    )))  # fmt: skip


def _with_seq(call: PlannedCall, seq: int) -> PlannedCall:
    return PlannedCall(
        seq,
        call.at,
        call.workflow_id,
        call.feature_id,
        call.tenant_id,
        call.user_id,
        call.provider,
        call.api,
        call.model,
        call.stream,
        call.usage,
        call.trace_group,
        call.driver,
        call.outcome,
    )
