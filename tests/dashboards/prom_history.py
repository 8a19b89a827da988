"""60 days of known LLM calls (the month-over-month panel compares the last 30 days with the 30 before), and
the costline replicas that counted them (prom_exposition renders what
Prometheus would have scraped from those replicas).

The calls are the ledger for the history stage: every expected panel value is a Decimal sum over them. The
replicas (`Topology`) make the history hostile to naive PromQL, the way production is: replica r2 is
replaced by r3 (a new instance id, a fresh ledger) 12 days before the end; r3 loses its ledger under its
kept instance id 4 days before the end (its counters restart at 0); scrapes fail at the start of the
7-day, 30-day and month-to-date windows; and one stream starts mid-history with no zero sample, as a
newly seen label set does on a real scrape. Nothing happens in the last 25 hours, which the rate()
panels cover (rate() extrapolates and misses a new series' first increment; money panels must not).
A failed scrape loses no information only when nothing was counted since the previous one, so calls of
the affected replica in the half hour before a failed scrape are left out of the history.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from costline.attributes import UNATTRIBUTED
from costline_processor.metric_names import (
    COST_LABELS,
    REASON_NO_USAGE,
    REASON_UNKNOWN_MODEL,
    STATUS_ERROR,
    STATUS_OK,
)

SCRAPE_S = 1800
CALL_DAYS = 60
RECENT_DAYS = 30  # the windows the hostile events are placed in
HISTORY_S = (CALL_DAYS + 1) * 86400  # scrapes start a day before the first call
CALLS_PER_HOUR = 6
JOB = "costline"
QUIET_S = 25 * 3600  # no replica event this close to the end (the rate() panels' 24h plus one step)


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
# The budgets with a stop: the spend at which they stop (limit x stop_at / 100), all `on_stop: block`.
BUDGET_STOPS = {"customer_support": Decimal("40"), "code_review": Decimal("3")}  # stop_at: 100 and 10
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


@dataclass(frozen=True)
class Ledger:
    """One ledger's life on one instance: what `costline_counters_start_time_seconds` shows, when the
    instance is scraped, and whether its counters carry totals from before the history (an old ledger)."""

    instance: str
    created_s: float
    first_sample_s: int
    last_sample_s: int
    old: bool = False


OUTCOMES_INSTANCE = "r1"  # the replica that records the business outcomes


@dataclass(frozen=True)
class Topology:
    """Which ledger counts a stream's calls at a time, and the scrapes that failed, by instance."""

    ledgers: tuple[Ledger, ...]
    streams_of: dict[str, frozenset[Stream]]  # instance -> the streams it serves
    failed_scrapes: dict[str, frozenset[int]]

    def serves(self, ledger: Ledger, stream: Stream | None) -> bool:
        """`stream=None` stands for the business outcomes."""
        if stream is None:
            return ledger.instance == OUTCOMES_INSTANCE
        return stream in self.streams_of[ledger.instance]

    def ledger(self, stream: Stream | None, time_s: float) -> Ledger:
        """The ledger that counted a call (or an outcome) at `time_s`: the newest one alive then."""
        alive = [
            ledger
            for ledger in self.ledgers
            if self.serves(ledger, stream) and ledger.created_s < time_s <= ledger.last_sample_s
        ]
        return max(alive, key=lambda ledger: ledger.created_s)

    def lost(self, stream: Stream | None, time_s: float) -> bool:
        """Whether the call falls in the half hour before a failed scrape of its instance."""
        instance = self.ledger(stream, time_s).instance
        return any(0 <= t - time_s < SCRAPE_S for t in self.failed_scrapes.get(instance, ()))


def topology(start_s: int, end_s: int, month_start_s: int) -> Topology:
    replaced_at = end_s - 12 * 86400 - 3 * 3600  # r2 -> r3
    reset_at = end_s - 4 * 86400 - 5 * 3600  # r3's ledger lost, instance id kept
    events = {replaced_at, reset_at}
    r1_failures = {end_s - 7 * 86400, end_s - 30 * 86400}
    if end_s - month_start_s > QUIET_S and all(abs(month_start_s - t) > 3600 for t in events):
        r1_failures.add(month_start_s)
    ledgers = (
        # Old ledgers, created over a year before: a year-to-date window starts after them, so their
        # totals from before the history (a monitoring gap to Prometheus) are in no window.
        Ledger("r1", start_s - 400 * 86400, start_s, end_s, old=True),
        Ledger("r2", start_s - 380 * 86400, start_s, replaced_at, old=True),
        Ledger("r3", replaced_at, replaced_at + SCRAPE_S, reset_at),
        Ledger("r3", reset_at, reset_at + SCRAPE_S, end_s),
    )
    moved = frozenset(STREAMS[i] for i in (1, 3))
    return Topology(
        ledgers=ledgers,
        streams_of={"r1": frozenset(STREAMS) - moved, "r2": moved, "r3": moved},
        failed_scrapes={"r1": frozenset(r1_failures), "r3": frozenset({end_s - 7 * 86400})},
    )


@dataclass
class History:
    start_s: int
    end_s: int
    calls: list[Call] = field(default_factory=list)
    outcomes: list[OutcomeEvent] = field(default_factory=list)
    topology: Topology | None = None

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


def build_history(end_s: int, month_start_s: int, seed: int = 7) -> History:
    """Calls over the CALL_DAYS before `end_s` (a multiple of the scrape interval), outcomes alongside,
    counted by the replicas of `topology`. The last RECENT_DAYS are drawn from `seed` alone, so they are the
    same calls whatever comes before them (the hostile events above are placed in them)."""
    recent, earlier = random.Random(seed), random.Random(seed + 1)
    start_s = end_s - HISTORY_S
    history = History(start_s=start_s, end_s=end_s, topology=topology(start_s, end_s, month_start_s))
    recent_s = end_s - RECENT_DAYS * 86400
    born_origin_s = recent_s - 86400  # `Stream.born_s` counts from here
    for hour_start in range(end_s - CALL_DAYS * 86400, end_s, 3600):
        rng = recent if hour_start >= recent_s else earlier
        for _ in range(CALLS_PER_HOUR):
            stream = rng.choice(STREAMS)
            time_s = hour_start + rng.randint(1, 3599) + 0.5
            if stream.born_s and time_s - born_origin_s < stream.born_s:
                continue
            history.calls.append(_make_call(rng, time_s, stream))
        for workflow_id, outcome in OUTCOMES.items():
            history.outcomes.append(OutcomeEvent(hour_start + rng.randint(1, 3599), workflow_id, outcome, 1))
    replicas = history.topology
    assert replicas is not None
    history.calls = sorted((c for c in history.calls if not replicas.lost(c.stream, c.time_s)),
                           key=lambda c: c.time_s)  # fmt: skip
    history.outcomes = [o for o in history.outcomes if not replicas.lost(None, o.time_s)]
    return history


def outcome_count(history: History, after_s: float, until_s: float) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for event in history.outcomes:
        if after_s < event.time_s <= until_s:
            counts[event.workflow_id, event.outcome] += event.count
    return counts
