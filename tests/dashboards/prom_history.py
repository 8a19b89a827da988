"""30 days of known LLM calls and the OpenMetrics history a scrape of costline would hold for them.

The calls are the ledger for the history stage: every expected panel value is a Decimal sum over them. The
counters are sampled on a fixed grid (the scrape interval) so a window's ends land on samples, which is
where `window_total` is exact. One stream starts mid-history with no zero sample, as a newly seen label set
does on a real scrape.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from costline.attributes import UNATTRIBUTED
from costline_processor.metric_names import (
    COST_LABELS,
    LABEL_PERIOD,
    LABEL_REASON,
    LABEL_STATUS,
    LABEL_TOKEN_TYPE,
    LABEL_WORKFLOW_ID,
    OUTCOME_LABELS,
    PERIOD_MONTHLY,
    PROM_BUDGET_USD,
    PROM_COST_USD_TOTAL,
    PROM_REQUESTS_TOTAL,
    PROM_TOKENS_TOTAL,
    PROM_UNPRICED_REQUESTS_TOTAL,
    PROM_WORKFLOW_OUTCOMES_TOTAL,
    REASON_NO_USAGE,
    REASON_UNKNOWN_MODEL,
    STATUS_ERROR,
    STATUS_OK,
    TOKEN_TYPES,
    UNPRICED_LABELS,
)

SCRAPE_S = 1800
HISTORY_S = 31 * 86400
CALLS_PER_HOUR = 6


@dataclass(frozen=True)
class Stream:
    """One label set of calls: workflow, feature, tenant, service, provider, model."""

    workflow_id: str
    feature_id: str
    tenant_id: str
    service_name: str
    provider: str
    model: str
    price_per_mtok: tuple[Decimal, Decimal, Decimal, Decimal]  # input, cache_read, cache_write, output
    born_s: int = 0  # seconds after the history start at which the stream starts

    def labels(self) -> dict[str, str]:
        values = (
            self.workflow_id,
            self.feature_id,
            self.tenant_id,
            self.service_name,
            self.provider,
            self.model,
        )
        return dict(zip(COST_LABELS[:-1], values, strict=True))


_GPT = (Decimal("2.5"), Decimal("1.25"), Decimal("0"), Decimal("10"))
_SONNET = (Decimal("3"), Decimal("0.3"), Decimal("3.75"), Decimal("15"))
_MINI = (Decimal("0.15"), Decimal("0.075"), Decimal("0"), Decimal("0.6"))

STREAMS = (
    Stream("customer_support", "chat", "acme", "support-api", "openai", "gpt-4o", _GPT),
    Stream("customer_support", "summary", "globex", "support-api", "openai", "gpt-4o-mini", _MINI),
    Stream("sales_research", "prospect", "acme", "sales-agent", "anthropic", "claude-sonnet-4-5", _SONNET),
    Stream("code_review", "pr", "initech", "review-bot", "anthropic", "claude-sonnet-4-5", _SONNET),
    Stream("claims_triage", "intake", "globex", "claims-svc", "openai", "gpt-4o", _GPT),
    Stream(UNATTRIBUTED, UNATTRIBUTED, UNATTRIBUTED, "legacy-batch", "openai", "gpt-4o-mini", _MINI),
    # Born 10 days in: its first sample is already non-zero, like a label set first seen on a live scrape.
    Stream("code_review", "security", "initech", "review-bot", "openai", "gpt-4o", _GPT, born_s=10 * 86400),
)
BUDGETS = {
    "customer_support": Decimal("40"),
    "sales_research": Decimal("25"),
    "code_review": Decimal("30"),
    "claims_triage": Decimal("15"),
}
OUTCOMES = {"customer_support": "ticket_resolved", "claims_triage": "claim_triaged"}


@dataclass(frozen=True)
class Call:
    time_s: float
    stream: Stream
    tokens: tuple[int, int, int, int]  # by TOKEN_TYPES
    cost: tuple[Decimal, Decimal, Decimal, Decimal]
    status: str
    unpriced_reason: str | None = None


@dataclass(frozen=True)
class OutcomeEvent:
    time_s: float
    workflow_id: str
    outcome: str
    count: int


@dataclass
class History:
    start_s: int
    end_s: int
    calls: list[Call] = field(default_factory=list)
    outcomes: list[OutcomeEvent] = field(default_factory=list)

    def select(
        self, after_s: float, until_s: float, where: Callable[[Call], bool] = lambda _: True
    ) -> list[Call]:
        """Calls in (after_s, until_s] — the window a counter difference measures."""
        return [c for c in self.calls if after_s < c.time_s <= until_s and where(c)]


def _make_call(rng: random.Random, time_s: float, stream: Stream) -> Call:
    if rng.random() < 0.04:
        return Call(time_s, stream, (0, 0, 0, 0), (Decimal(0),) * 4, STATUS_ERROR)
    if stream.workflow_id == UNATTRIBUTED and rng.random() < 0.1:
        reason = rng.choice((REASON_UNKNOWN_MODEL, REASON_NO_USAGE))
        return Call(time_s, stream, (0, 0, 0, 0), (Decimal(0),) * 4, STATUS_OK, reason)
    uncached, cache_read = rng.randint(200, 4000), rng.choice((0, 0, rng.randint(500, 3000)))
    cache_write, output = rng.choice((0, 0, 0, rng.randint(100, 1500))), rng.randint(50, 1200)
    tokens = (uncached, cache_read, cache_write, output)
    cost = tuple(
        (Decimal(n) * price / Decimal(1_000_000)).quantize(Decimal("1e-9"))
        for n, price in zip(tokens, stream.price_per_mtok, strict=True)
    )
    return Call(time_s, stream, tokens, cost, STATUS_OK)  # type: ignore[arg-type]


def build_history(end_s: int, seed: int = 7) -> History:
    """Calls over the 30 days before `end_s` (a multiple of the scrape interval), outcomes alongside."""
    rng = random.Random(seed)
    history = History(start_s=end_s - HISTORY_S, end_s=end_s)
    first_call_s = end_s - 30 * 86400
    for hour_start in range(first_call_s, end_s, 3600):
        for _ in range(CALLS_PER_HOUR):
            stream = rng.choice(STREAMS)
            time_s = hour_start + rng.randint(1, 3599) + 0.5
            if time_s - history.start_s < stream.born_s:
                continue
            history.calls.append(_make_call(rng, time_s, stream))
        for workflow_id, outcome in OUTCOMES.items():
            history.outcomes.append(OutcomeEvent(hour_start + rng.randint(1, 3599), workflow_id, outcome, 1))
    history.calls.sort(key=lambda c: c.time_s)
    return history


# --- OpenMetrics history ----------------------------------------------------------------------------------

Series = tuple[tuple[str, str], ...]


def _series(labels: dict[str, str]) -> Series:
    return tuple(sorted(labels.items()))


def counter_events(history: History) -> dict[str, dict[Series, list[tuple[float, Decimal]]]]:
    """metric -> series -> (time, increment) for every counter costline exports."""
    events: dict[str, dict[Series, list[tuple[float, Decimal]]]] = defaultdict(lambda: defaultdict(list))
    for call in history.calls:
        base = call.stream.labels()
        status = {**base, LABEL_STATUS: call.status}
        events[PROM_REQUESTS_TOTAL][_series(status)].append((call.time_s, Decimal(1)))
        if call.unpriced_reason is not None:
            unpriced: dict[str, str] = {k: base[k] for k in UNPRICED_LABELS if k in base}
            events[PROM_UNPRICED_REQUESTS_TOTAL][
                _series({**unpriced, LABEL_REASON: call.unpriced_reason})
            ].append((call.time_s, Decimal(1)))
        if call.status == STATUS_ERROR or call.unpriced_reason is not None:
            continue
        for index, token_type in enumerate(TOKEN_TYPES):
            key = _series({**base, LABEL_TOKEN_TYPE: token_type})
            events[PROM_COST_USD_TOTAL][key].append((call.time_s, call.cost[index]))
            events[PROM_TOKENS_TOTAL][key].append((call.time_s, Decimal(call.tokens[index])))
    for event in history.outcomes:
        key = _series(dict(zip(OUTCOME_LABELS, (event.workflow_id, event.outcome), strict=True)))
        events[PROM_WORKFLOW_OUTCOMES_TOTAL][key].append((event.time_s, Decimal(event.count)))
    return events


def _format(series: Series) -> str:
    return ",".join(f'{k}="{v}"' for k, v in series)


def _sample_times(history: History, first_event_s: float, born: bool) -> Iterable[int]:
    start = history.start_s
    if born:  # first scrape after the label set appeared
        start = int(first_event_s // SCRAPE_S + 1) * SCRAPE_S
    return range(start, history.end_s + 1, SCRAPE_S)


def _is_born(series: Series) -> bool:
    items = set(series)
    return any(s.born_s and set(s.labels().items()) <= items for s in STREAMS)


def openmetrics(history: History) -> str:
    """The history as OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`."""
    lines: list[str] = []
    for metric, by_series in counter_events(history).items():
        lines.append(f"# TYPE {metric.removesuffix('_total')} counter")
        for series, increments in by_series.items():
            total, index = Decimal(0), 0
            for t in _sample_times(history, increments[0][0], _is_born(series)):
                while index < len(increments) and increments[index][0] <= t:
                    total += increments[index][1]
                    index += 1
                lines.append(f"{metric}{{{_format(series)}}} {total} {t}")
    lines.append(f"# TYPE {PROM_BUDGET_USD} gauge")
    for workflow_id, amount in BUDGETS.items():
        labels = _format(_series({LABEL_WORKFLOW_ID: workflow_id, LABEL_PERIOD: PERIOD_MONTHLY}))
        times = range(history.start_s, history.end_s + 1, SCRAPE_S)
        lines.extend(f"{PROM_BUDGET_USD}{{{labels}}} {amount} {t}" for t in times)
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def outcome_count(history: History, after_s: float, until_s: float) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for event in history.outcomes:
        if after_s < event.time_s <= until_s:
            counts[event.workflow_id, event.outcome] += event.count
    return counts
