"""What Prometheus would have scraped from the replicas of a `prom_history.History`, as OpenMetrics text
for `promtool tsdb create-blocks-from openmetrics`.

Each ledger is scraped every SCRAPE_S from its first to its last sample, except at its instance's failed
scrapes. Like `costline serve`, it exposes every label set it has counted (an old ledger: every label set of
its streams, with totals from before the history) and `costline_counters_start_time_seconds`. A label set
new to a ledger first shows at the scrape after its first call, already non-zero. Every ledger shows each
budget's spend this month as its calls add up (`llm_budget_spent_usd`, 0 without any); the budgets' limits
and stop levels are on the replica that records the outcomes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal

from prom_expected import month_start
from prom_history import BUDGET_STOPS, BUDGETS, JOB, SCRAPE_S, Call, History, Ledger, Topology

from costline_processor.metric_names import (
    LABEL_INSTANCE,
    LABEL_JOB,
    LABEL_ON_STOP,
    LABEL_PERIOD,
    LABEL_REASON,
    LABEL_STATUS,
    LABEL_TOKEN_TYPE,
    LABEL_WORKFLOW_ID,
    OUTCOME_LABELS,
    PERIOD_MONTHLY,
    PROM_BUDGET_SPENT_USD,
    PROM_BUDGET_STOP_USD,
    PROM_BUDGET_USD,
    PROM_COST_USD_TOTAL,
    PROM_COUNTERS_START_TIME_SECONDS,
    PROM_REQUESTS_TOTAL,
    PROM_TOKENS_TOTAL,
    PROM_UNPRICED_REQUESTS_TOTAL,
    PROM_WORKFLOW_OUTCOMES_TOTAL,
    STATUS_ERROR,
    TOKEN_TYPES,
    UNPRICED_LABELS,
)

Labels = tuple[tuple[str, str], ...]
Increment = tuple[str, Labels, float, Decimal]  # metric, labels (no instance), time, amount
Families = dict[str, dict[Labels, list[tuple[int, Decimal]]]]
# What an old ledger had counted before the history, per metric (any value: only differences matter).
OLD_TOTALS = {
    PROM_COST_USD_TOTAL: Decimal("1234.5"),
    PROM_TOKENS_TOTAL: Decimal(50_000_000),
    PROM_REQUESTS_TOTAL: Decimal(40_000),
    PROM_UNPRICED_REQUESTS_TOTAL: Decimal(300),
    PROM_WORKFLOW_OUTCOMES_TOTAL: Decimal(9_000),
}


def _labels(labels: dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def call_increments(call: Call) -> Iterator[Increment]:
    """What one call adds to each counter costline exports."""
    base = call.stream.labels()
    yield PROM_REQUESTS_TOTAL, _labels({**base, LABEL_STATUS: call.status}), call.time_s, Decimal(1)
    if call.unpriced_reason is not None:
        unpriced = {k: base[k] for k in UNPRICED_LABELS if k in base}
        key = _labels({**unpriced, LABEL_REASON: call.unpriced_reason})
        yield PROM_UNPRICED_REQUESTS_TOTAL, key, call.time_s, Decimal(1)
    if call.status == STATUS_ERROR or call.unpriced_reason is not None:
        return
    for index, token_type in enumerate(TOKEN_TYPES):
        key = _labels({**base, LABEL_TOKEN_TYPE: token_type})
        yield PROM_COST_USD_TOTAL, key, call.time_s, call.cost[index]
        yield PROM_TOKENS_TOTAL, key, call.time_s, Decimal(call.tokens[index])


def _increments(history: History, topology: Topology) -> dict[Ledger, list[Increment]]:
    by_ledger: dict[Ledger, list[Increment]] = defaultdict(list)
    for call in history.calls:
        by_ledger[topology.ledger(call.stream, call.time_s)].extend(call_increments(call))
    for event in history.outcomes:
        key = _labels(dict(zip(OUTCOME_LABELS, (event.workflow_id, event.outcome), strict=True)))
        increment = (PROM_WORKFLOW_OUTCOMES_TOTAL, key, event.time_s, Decimal(event.count))
        by_ledger[topology.ledger(None, event.time_s)].append(increment)
    return by_ledger


def _old_series(history: History, topology: Topology, ledger: Ledger) -> set[tuple[str, Labels]]:
    """The label sets an old ledger already had: those its (not newly born) streams ever count."""
    series: set[tuple[str, Labels]] = set()
    for call in history.calls:
        if topology.serves(ledger, call.stream) and not call.stream.born_s:
            series.update((metric, key) for metric, key, _, _ in call_increments(call))
    if topology.serves(ledger, None):
        for event in history.outcomes:
            labels = dict(zip(OUTCOME_LABELS, (event.workflow_id, event.outcome), strict=True))
            series.add((PROM_WORKFLOW_OUTCOMES_TOTAL, _labels(labels)))
    return series


def _scrapes(topology: Topology, ledger: Ledger) -> list[int]:
    failed = topology.failed_scrapes.get(ledger.instance, frozenset())
    times = range(ledger.first_sample_s, ledger.last_sample_s + 1, SCRAPE_S)
    return [t for t in times if t not in failed]


def _ledger_samples(
    ledger: Ledger, increments: list[Increment], old: set[tuple[str, Labels]], scrapes: list[int]
) -> Iterator[tuple[str, Labels, int, Decimal]]:
    by_series: dict[tuple[str, Labels], list[tuple[float, Decimal]]] = defaultdict(list)
    for metric, key, time_s, amount in increments:
        by_series[metric, key].append((time_s, amount))
    for series in old:
        by_series.setdefault(series, [])
    for (metric, key), steps in by_series.items():
        steps.sort()
        total = OLD_TOTALS[metric] if (metric, key) in old else Decimal(0)
        index = 0
        for t in scrapes:
            while index < len(steps) and steps[index][0] <= t:
                total += steps[index][1]
                index += 1
            if index or (metric, key) in old:
                yield metric, key, t, total


def _budget_spent(increments: list[Increment], scrapes: list[int]) -> Iterator[tuple[str, int, Decimal]]:
    """(workflow_id, scrape time, spend of the scrape's month so far) of one ledger's budget workflows."""
    costs = sorted((t, dict(key)[LABEL_WORKFLOW_ID], amount) for metric, key, t, amount in increments
                   if metric == PROM_COST_USD_TOTAL and dict(key)[LABEL_WORKFLOW_ID] in BUDGETS)  # fmt: skip
    by_month: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    index = 0
    for t in scrapes:
        while index < len(costs) and costs[index][0] <= t:
            time_s, workflow_id, amount = costs[index]
            by_month[month_start(int(time_s)), workflow_id] += amount
            index += 1
        for workflow_id in BUDGETS:
            yield workflow_id, t, by_month[month_start(t), workflow_id]


def _budget_series(families: Families, ledger: Ledger, increments: list[Increment], scrapes: list[int],
                   limits: bool) -> None:  # fmt: skip
    for workflow_id, t, spent in _budget_spent(increments, scrapes):
        key = _labels({LABEL_WORKFLOW_ID: workflow_id, LABEL_PERIOD: PERIOD_MONTHLY})
        families[PROM_BUDGET_SPENT_USD][_instance(key, ledger.instance)].append((t, spent))
    if not limits:
        return
    for workflow_id, amount in BUDGETS.items():
        key = _instance(
            _labels({LABEL_WORKFLOW_ID: workflow_id, LABEL_PERIOD: PERIOD_MONTHLY}), ledger.instance
        )
        families[PROM_BUDGET_USD][key] += [(t, amount) for t in scrapes]
    for workflow_id, stop in BUDGET_STOPS.items():
        labels = {LABEL_WORKFLOW_ID: workflow_id, LABEL_PERIOD: PERIOD_MONTHLY, LABEL_ON_STOP: "block"}
        families[PROM_BUDGET_STOP_USD][_instance(_labels(labels), ledger.instance)] += [
            (t, stop) for t in scrapes
        ]


def _instance(labels: Labels, instance: str) -> Labels:
    return _labels({**dict(labels), LABEL_JOB: JOB, LABEL_INSTANCE: instance})


def _format(labels: Labels) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels)


def openmetrics(history: History) -> str:
    """The history as OpenMetrics text, every series' samples together and in time order."""
    topology = history.topology
    assert topology is not None
    increments = _increments(history, topology)
    families: Families = defaultdict(lambda: defaultdict(list))
    for ledger in topology.ledgers:
        scrapes = _scrapes(topology, ledger)
        old = _old_series(history, topology, ledger) if ledger.old else set()
        samples = _ledger_samples(ledger, increments.get(ledger, []), old, scrapes)
        for metric, key, t, value in samples:
            families[metric][_instance(key, ledger.instance)].append((t, value))
        start = _instance((), ledger.instance)
        families[PROM_COUNTERS_START_TIME_SECONDS][start] += [(t, Decimal(ledger.created_s)) for t in scrapes]
        _budget_series(families, ledger, increments.get(ledger, []), scrapes, topology.serves(ledger, None))
    return "".join(_lines(families)) + "# EOF\n"


def _lines(families: dict[str, dict[Labels, list[tuple[int, Decimal]]]]) -> Iterable[str]:
    for metric, by_series in families.items():
        family, kind = (
            (metric.removesuffix("_total"), "counter") if metric.endswith("_total") else (metric, "gauge")
        )
        yield f"# TYPE {family} {kind}\n"
        for labels, samples in by_series.items():
            for t, value in sorted(samples):
                yield f"{metric}{{{_format(labels)}}} {value} {t}\n"
