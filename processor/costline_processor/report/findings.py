"""Hidden cost drivers found in the ledger's call rows: retry loops, power users, spikes, bloated prompts.

These need per-call rows (trace ids, user ids, token counts), so they read the ledger, not Prometheus.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from statistics import median

from costline.attributes import TENANT_ID, UNATTRIBUTED, USER_ID, WORKFLOW_ID
from costline_processor.report.analysis import Anomaly, Report

LOOP_CALLS_PER_TRACE = 4  # a trace with this many LLM calls of one workflow is a retry/agent loop
POWER_USER_FACTOR = 5  # a user spending this many times the workflow's median user
POWER_USER_MIN_SHARE = Decimal("0.2")  # ... and together such users hold this share of the workflow's spend
BLOATED_INPUT_TOKENS = 4000  # average uncached input tokens per call that suggest an oversized prompt
SPIKE_DAYS_LISTED = 3


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # spike, retry_loop, power_user, bloated_prompt, unattributed
    workflow_id: str
    summary: str
    cost: Decimal  # the spend the finding explains
    cost_label: str  # what `cost` is, e.g. "spend above the 7-day average"

    @property
    def subject(self) -> str:
        """Whose spend the finding is about, as a reader names it ("" when the summary already says it)."""
        if self.kind == "unattributed":
            return ""
        return "spend without a workflow_id" if self.workflow_id == UNATTRIBUTED else self.workflow_id


def find_drivers(rows: Iterable[Mapping[str, object]], report: Report) -> list[Finding]:
    rows = list(rows)
    findings = [*_spikes(report), *_loops(rows), *_power_users(rows), *_bloated_prompts(rows)]
    if report.unattributed_cost:
        findings.append(
            Finding(
                "unattributed",
                UNATTRIBUTED,
                f"{report.unattributed_share:.1%} of spend carries no workflow_id:"
                " tag that code with costline.workflow()",
                report.unattributed_cost,
                "unattributed spend",
            )
        )
    return findings


def _cost(row: Mapping[str, object]) -> Decimal:
    value = row["cost_total"]
    return Decimal(str(value)) if value is not None else Decimal(0)


def _spikes(report: Report) -> list[Finding]:
    worst: dict[str, list[Anomaly]] = defaultdict(list)
    for anomaly in report.anomalies:
        worst[anomaly.workflow_id].append(anomaly)
    findings = []
    for workflow, anomalies in worst.items():
        days = sorted(a.day for a in anomalies)
        peak = max(anomalies, key=lambda a: a.ratio)
        extra = sum((a.cost - a.baseline for a in anomalies), Decimal(0))
        findings.append(
            Finding(
                "spike",
                workflow,
                _spike_summary(days, peak),
                extra,
                "spend above the 7-day average on those days",
            )
        )
    return findings


def _spike_summary(days: list[date], peak: Anomaly) -> str:
    if len(days) == 1:
        return f"daily spend jumped to {peak.ratio:.1f}x its 7-day average on {peak.day}"
    shown = ", ".join(map(str, days[:SPIKE_DAYS_LISTED]))
    more = f" and {len(days) - SPIKE_DAYS_LISTED} more" if len(days) > SPIKE_DAYS_LISTED else ""
    return (
        f"daily spend jumped above its 7-day average on {len(days)} days ({shown}{more}),"
        f" peaking at {peak.ratio:.1f}x on {peak.day}"
    )


def loop_traces(
    rows: Iterable[Mapping[str, object]],
) -> dict[tuple[str, str], list[list[Mapping[str, object]]]]:
    """Traces with at least LOOP_CALLS_PER_TRACE calls of one workflow, per (workflow, main tenant)."""
    per_trace: dict[tuple[object, object], list[Mapping[str, object]]] = defaultdict(list)
    for row in rows:
        if row[WORKFLOW_ID] != UNATTRIBUTED:
            per_trace[(row["trace_id"], row[WORKFLOW_ID])].append(row)
    loops: dict[tuple[str, str], list[list[Mapping[str, object]]]] = defaultdict(list)
    for (_, workflow), calls in per_trace.items():
        if len(calls) >= LOOP_CALLS_PER_TRACE:
            tenants = Counter(str(call[TENANT_ID]) for call in calls)
            loops[(str(workflow), tenants.most_common(1)[0][0])].append(calls)
    return loops


def _loops(rows: list[Mapping[str, object]]) -> list[Finding]:
    findings = []
    for (workflow, tenant), traces in sorted(loop_traces(rows).items()):
        calls = [call for trace in traces for call in trace]
        per = len(calls) / len(traces)
        findings.append(
            Finding(
                "retry_loop",
                workflow,
                f"{len(traces)} trace{'s' if len(traces) > 1 else ''} with {per:.0f} LLM calls each,"
                f" all for tenant {tenant}: a retry loop",
                sum(map(_cost, calls), Decimal(0)),
                "spend of those traces",
            )
        )
    return findings


def power_users(rows: Iterable[Mapping[str, object]]) -> dict[str, tuple[list[str], Decimal, Decimal]]:
    """Per workflow: its power users (biggest first), their spend and their share of the workflow's spend."""
    spend: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        if row[USER_ID] and row[WORKFLOW_ID] != UNATTRIBUTED:
            spend[str(row[WORKFLOW_ID])][str(row[USER_ID])] += _cost(row)
    found = {}
    for workflow, users in sorted(spend.items()):
        if len(users) < 10:
            continue
        typical = Decimal(str(median(users.values())))
        heavy = sorted(
            (u for u, c in users.items() if typical and c >= typical * POWER_USER_FACTOR),
            key=lambda u: -users[u],
        )
        cost = sum((users[u] for u in heavy), Decimal(0))
        share = cost / sum(users.values(), Decimal(0)) if heavy else Decimal(0)
        if share >= POWER_USER_MIN_SHARE:
            found[workflow] = (heavy, cost, share)
    return found


def _power_users(rows: list[Mapping[str, object]]) -> list[Finding]:
    return [
        Finding(
            "power_user",
            workflow,
            f"{len(heavy)} users ({', '.join(heavy)}) account for {share:.0%} of the spend",
            cost,
            "those users' spend",
        )
        for workflow, (heavy, cost, share) in power_users(rows).items()
    ]


def _bloated_prompts(rows: list[Mapping[str, object]]) -> list[Finding]:
    uncached: dict[str, list[int]] = defaultdict(list)
    cost: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        if (
            row["tokens_input"] is None
            or row[WORKFLOW_ID] == UNATTRIBUTED
            or row["operation"] == "embeddings"
        ):
            continue
        uncached[str(row[WORKFLOW_ID])].append(int(str(row["tokens_input"])))
        cost[str(row[WORKFLOW_ID])] += Decimal(str(row["cost_input"] or 0))
    return [
        Finding(
            "bloated_prompt",
            workflow,
            f"{sum(tokens) / len(tokens):,.0f} uncached input tokens per call on average: "
            "a long system prompt sent without prompt caching",
            cost[workflow],
            "uncached input spend",
        )
        for workflow, tokens in sorted(uncached.items())
        if sum(tokens) / len(tokens) >= BLOATED_INPUT_TOKENS
    ]
