"""What a downgrade would save: each workflow's actual token usage repriced at another model's list price.

Every priced call of the window (its input, cache read, cache write and output counts, its service tier, its
time) is priced again by the serve pricer as if it had gone to the candidate model; the saving is the exact
difference. Candidates are a short list of current general-purpose models (`CANDIDATES`); for each workflow
the report shows the cheapest of its own provider's and of the other providers', plus any `--what-if
WORKFLOW=MODEL`. A workflow whose calls all send one long prompt also gets the saving of trimming it.
Quality is not measured: the saving is exact, whether the cheaper model is good enough is the user's call.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

from costline import attributes as attr
from costline_processor.model import Usage
from costline_processor.pricing import Pricer
from costline_processor.report.calls import ZERO, CallRecord, ModelKey, price_usage
from costline_processor.report.facts import ReportInputError
from costline_processor.report.findings import BLOATED_INPUT_TOKENS
from costline_processor.report.periods import Window

QUALITY_NOTE: Final = (
    "The saving is exact: the same tokens repriced at list prices. Quality is not measured: whether the"
    " cheaper model does the job well enough is your call."
)
AVERAGE_MONTH_DAYS: Final = Decimal("30.4375")  # 365.25 / 12
UNIT: Final = Decimal("0.000001")
SAME_PROVIDER: Final = "same provider"
OTHER_PROVIDER: Final = "other provider"
ASKED: Final = "asked"
TRIM: Final = "prompt"
MIN_SHARED_PROMPT_TOKENS: Final = 1000
EMBEDDINGS: Final = "embeddings"
# Current general-purpose models, a step or two down from the flagships (nano/lite tiers are left out: they
# rarely replace a production model). Any other model can be asked for with --what-if WORKFLOW=MODEL.
CANDIDATES: Final = (
    (attr.PROVIDER_OPENAI, "gpt-4.1"),
    (attr.PROVIDER_OPENAI, "gpt-4.1-mini"),
    (attr.PROVIDER_OPENAI, "gpt-5-mini"),
    (attr.PROVIDER_OPENAI, "gpt-4o-mini"),
    (attr.PROVIDER_OPENAI, "o4-mini"),
    (attr.PROVIDER_ANTHROPIC, "claude-sonnet-4-5"),
    (attr.PROVIDER_ANTHROPIC, "claude-haiku-4-5"),
    (attr.PROVIDER_GEMINI, "gemini-2.5-pro"),
    (attr.PROVIDER_GEMINI, "gemini-2.5-flash"),
)


@dataclass(frozen=True, slots=True)
class WhatIf:
    workflow_id: str
    current_models: str  # e.g. "claude-sonnet-4-6", most expensive first
    change: str  # e.g. "claude-haiku-4-5 (anthropic)" or "trim the 3,812-token prompt every call sends"
    scope: str  # SAME_PROVIDER, OTHER_PROVIDER, ASKED or TRIM
    requests: int
    current_cost: Decimal
    repriced_cost: Decimal
    monthly_saving: Decimal
    provider: str = ""
    model: str = ""

    @property
    def saving(self) -> Decimal:
        return self.current_cost - self.repriced_cost

    @property
    def saving_share(self) -> Decimal:
        return self.saving / self.current_cost if self.current_cost else ZERO


def parse_what_if(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        workflow, sep, model = value.partition("=")
        if not sep or not workflow.strip() or not model.strip():
            raise ReportInputError(
                f"--what-if must be WORKFLOW=MODEL, e.g. support=claude-haiku-4-5 (got {value!r})"
            )
        pairs.append((workflow.strip(), model.strip()))
    return tuple(pairs)


def what_ifs(
    pricer: Pricer, window: Window, calls: Sequence[CallRecord], asked: Sequence[tuple[str, str]]
) -> list[WhatIf]:
    per_workflow: dict[str, list[CallRecord]] = defaultdict(list)
    for call in calls:
        if call.cost is not None and call.usage is not None and call.operation != EMBEDDINGS:
            per_workflow[call.workflow_id].append(call)
    rows: list[WhatIf] = []
    for workflow, model in asked:
        if workflow not in per_workflow:
            known = ", ".join(sorted(per_workflow)) or "none"
            raise ReportInputError(
                f"--what-if {workflow}={model}: no priced call of {workflow!r} in the window"
                f" (workflows: {known})"
            )
        rows.append(_asked(pricer, window, workflow, per_workflow[workflow], model))
    for workflow, group in sorted(per_workflow.items()):
        rows += _best(pricer, window, workflow, group)
        rows += _trim(pricer, window, workflow, group)
    return rows


def _row(  # noqa: PLR0917 - the parts of one row
    window: Window,
    workflow: str,
    group: Sequence[CallRecord],
    change: str,
    scope: str,
    repriced: Decimal,
    model: ModelKey | None = None,
) -> WhatIf:
    current = sum((call.total for call in group), ZERO)
    saving = current - repriced
    monthly = (saving * AVERAGE_MONTH_DAYS / window.days).quantize(UNIT, ROUND_HALF_EVEN)
    return WhatIf(
        workflow,
        _models(group),
        change,
        scope,
        len(group),
        current,
        repriced,
        monthly,
        provider=model.provider if model else "",
        model=model.model if model else "",
    )


def _models(group: Sequence[CallRecord]) -> str:
    spend: dict[str, Decimal] = defaultdict(Decimal)
    for call in group:
        spend[call.model.model] += call.total
    return ", ".join(model for model, _ in sorted(spend.items(), key=lambda item: (-item[1], item[0])))


def _repriced(pricer: Pricer, group: Sequence[CallRecord], provider: str, model: str) -> Decimal | None:
    total = ZERO
    for call in group:
        key = ModelKey(provider, model, call.model.service_tier, call.model.batch)
        cost = price_usage(pricer, call.usage, key, call.time_ns, call.operation)
        if cost is None:
            return None
        total += sum(cost, ZERO)
    return total


def _asked(pricer: Pricer, window: Window, workflow: str, group: Sequence[CallRecord], model: str) -> WhatIf:
    providers = [call.model.provider for call in group]
    for provider in (Counter(providers).most_common(1)[0][0], attr.PROVIDER_UNKNOWN):
        repriced = _repriced(pricer, group, provider, model)
        if repriced is not None:
            shown = model if provider == attr.PROVIDER_UNKNOWN else f"{model} ({provider})"
            return _row(
                window, workflow, group, shown, ASKED, repriced, ModelKey(provider, model, None, False)
            )
    raise ReportInputError(
        f"--what-if {workflow}={model}: costline has no price for {model!r}"
        f" (`costline prices show {model}` says why; --price-overrides adds one)"
    )


def _best(pricer: Pricer, window: Window, workflow: str, group: Sequence[CallRecord]) -> list[WhatIf]:
    current = sum((call.total for call in group), ZERO)
    own = Counter(call.model.provider for call in group).most_common(1)[0][0]
    used = {call.model.model for call in group}
    best: dict[str, tuple[Decimal, str, str]] = {}
    for provider, model in CANDIDATES:
        if model in used:
            continue
        repriced = _repriced(pricer, group, provider, model)
        if repriced is None or repriced >= current:
            continue
        scope = SAME_PROVIDER if provider == own else OTHER_PROVIDER
        if scope not in best or repriced < best[scope][0]:
            best[scope] = (repriced, provider, model)
    return [
        _row(
            window,
            workflow,
            group,
            f"{model} ({provider})",
            scope,
            repriced,
            ModelKey(provider, model, None, False),
        )
        for scope, (repriced, provider, model) in sorted(
            best.items(), key=lambda item: item[0] != SAME_PROVIDER
        )
    ]


def _trim(pricer: Pricer, window: Window, workflow: str, group: Sequence[CallRecord]) -> list[WhatIf]:
    """When every call sends a long uncached prompt: the saving of not sending the part they all share."""
    uncached = [call.usage.uncached_input_tokens for call in group if call.usage]
    if sum(uncached) / len(uncached) < BLOATED_INPUT_TOKENS or min(uncached) < MIN_SHARED_PROMPT_TOKENS:
        return []
    shared = min(uncached)
    repriced = ZERO
    for call in group:
        assert call.usage is not None
        cost = price_usage(
            pricer, _without_input(call.usage, shared), call.model, call.time_ns, call.operation
        )
        if cost is None:
            return []
        repriced += sum(cost, ZERO)
    change = f"trim the {shared:,}-token shared prompt"
    return [_row(window, workflow, group, change, TRIM, repriced)]


def _without_input(usage: Usage, tokens: int) -> Usage:
    return Usage(
        usage.input_tokens - tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.cache_write_1h_tokens,
        usage.reasoning_tokens,
    )
