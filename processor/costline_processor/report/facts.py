"""What a report is computed from: spend facts for a time window, read from the ledger.

A `ReportFacts` holds only aggregates (cost and requests per group, daily cost per workflow, outcomes), so the
same analysis runs on facts read from the ledger or from Prometheus/Mimir (`report.promql`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import Final

from costline.attributes import FEATURE_ID, TENANT_ID, UNATTRIBUTED, USER_ID, WORKFLOW_ID
from costline_processor import metric_names as names
from costline_processor.ledger import LedgerStore, open_ledger, parse_ledger_url
from costline_processor.ledger.errors import LedgerSchemaError, LedgerUnavailableError

# Dimensions a report can group by: the ledger's column names (== metric labels, plus user_id).
GROUP_KEYS: Final = (
    WORKFLOW_ID,
    FEATURE_ID,
    TENANT_ID,
    USER_ID,
    names.LABEL_SERVICE_NAME,
    names.LABEL_PROVIDER,
    names.LABEL_MODEL,
)
# Only these exist as metric labels, so only these can be grouped by from Prometheus.
METRIC_GROUP_KEYS: Final = (*names.COST_LABELS[:6],)

GroupKey = tuple[str, ...]


class ReportInputError(ValueError):
    """A report option or source is unusable; the message says which and why."""


@dataclass(slots=True)
class ReportFacts:
    by: tuple[str, ...]
    since: datetime
    until: datetime
    cost: dict[GroupKey, Decimal] = field(default_factory=dict)  # only groups with at least one priced call
    requests: dict[GroupKey, int] = field(default_factory=dict)
    model_cost: dict[GroupKey, dict[str, Decimal]] = field(default_factory=dict)
    daily_cost: dict[str, dict[date, Decimal]] = field(default_factory=dict)  # workflow -> day -> cost
    # workflow -> cost from `month_start(until)` to `until`, read beyond the window when it starts later.
    month_to_date: dict[str, Decimal] = field(default_factory=dict)
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)  # workflow -> outcome -> count
    unpriced_requests: int = 0
    # Unpriced calls per group, when the source can tell (the ledger can; the metrics have no group labels).
    unpriced: dict[GroupKey, int] | None = None
    # The call rows themselves, kept when the source has them (the ledger) for the per-call findings.
    calls: list[Mapping[str, object]] = field(default_factory=list)

    @property
    def total_cost(self) -> Decimal:
        return sum(self.cost.values(), Decimal(0))

    def workflow_cost(self) -> dict[str, Decimal]:
        return {workflow: sum(days.values(), Decimal(0)) for workflow, days in self.daily_cost.items()}


def month_start(until: datetime) -> datetime:
    """Midnight UTC on the 1st of the month of the window's last moment (`until` itself is excluded, so a
    window ending at midnight on 1 December is November's)."""
    last = (until - timedelta(microseconds=1)).astimezone(UTC)
    return datetime(last.year, last.month, 1, tzinfo=UTC)


def parse_by(value: str, *, allowed: Iterable[str] = GROUP_KEYS) -> tuple[str, ...]:
    keys = tuple(part.strip() for part in value.split(",") if part.strip())
    allowed = tuple(allowed)
    unknown = [key for key in keys if key not in allowed]
    if not keys or unknown:
        raise ReportInputError(f"--by must be a comma-separated list of {', '.join(allowed)} (got {value!r})")
    if len(set(keys)) != len(keys):
        raise ReportInputError(f"--by lists a key twice: {value!r}")
    return keys


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


def _day(time_ns: int) -> date:
    return datetime.fromtimestamp(time_ns / 1e9, tz=UTC).date()


def facts_from_ledger(url: str | Path, by: tuple[str, ...], since: datetime, until: datetime) -> ReportFacts:
    """Read the ledger rows in [since, until) and aggregate them exactly (a SQLite path or postgresql://)."""
    try:
        where = parse_ledger_url(url)
    except ValueError as exc:
        raise ReportInputError(f"--ledger-url: {exc}") from None
    if where.kind == "sqlite" and not where.path.exists():
        raise ReportInputError(
            f"no ledger at {where} (run `costline serve` or `costline demo` first, or pass --ledger-url)"
        )
    try:
        with open_ledger(where.target) as ledger:
            return _read_facts(ledger, by, since, until)
    except (LedgerUnavailableError, LedgerSchemaError) as exc:
        raise ReportInputError(f"cannot read the ledger {where}: {exc}") from None


def _read_facts(ledger: LedgerStore, by: tuple[str, ...], since: datetime, until: datetime) -> ReportFacts:
    calls: list[Mapping[str, object]] = list(ledger.iter_calls(since_ns=_ns(since), until_ns=_ns(until)))
    facts = _aggregate_calls(calls, by, since, until)
    facts.month_to_date = _month_to_date(ledger, calls, _ns(month_start(until)), _ns(since))
    for workflow, outcome, count in ledger.iter_outcomes(since_ns=_ns(since), until_ns=_ns(until)):
        per_workflow = facts.outcomes.setdefault(workflow, {})
        per_workflow[outcome] = per_workflow.get(outcome, 0) + count
    return facts


def _month_to_date(
    ledger: LedgerStore, window: list[Mapping[str, object]], start_ns: int, since_ns: int
) -> dict[str, Decimal]:
    """Cost per workflow from `start_ns` to the window's end: the window's rows from `start_ns` on, plus the
    rows between `start_ns` and the window's start when the window starts later (each row read once)."""
    earlier = ledger.iter_calls(since_ns=start_ns, until_ns=since_ns) if start_ns < since_ns else ()
    cost: dict[str, Decimal] = {}
    for row in chain(earlier, window):
        if row["unpriced_reason"] or int(str(row["time_ns"])) < start_ns:
            continue
        workflow = str(row[WORKFLOW_ID] or UNATTRIBUTED)
        cost[workflow] = cost.get(workflow, Decimal(0)) + Decimal(str(row["cost_total"]))
    return cost


def _aggregate_calls(
    rows: list[Mapping[str, object]], by: tuple[str, ...], since: datetime, until: datetime
) -> ReportFacts:
    unpriced: dict[GroupKey, int] = {}
    facts = ReportFacts(by=by, since=since, until=until, calls=rows, unpriced=unpriced)
    for row in rows:
        key = tuple(str(row[name] or UNATTRIBUTED) for name in by)
        facts.requests[key] = facts.requests.get(key, 0) + 1
        cost = Decimal(0)
        if row["unpriced_reason"]:
            facts.unpriced_requests += 1
            unpriced[key] = unpriced.get(key, 0) + 1
        else:
            cost = Decimal(str(row["cost_total"]))
            facts.cost[key] = facts.cost.get(key, Decimal(0)) + cost
        models = facts.model_cost.setdefault(key, {})
        model = str(row["model"])
        models[model] = models.get(model, Decimal(0)) + cost
        days = facts.daily_cost.setdefault(str(row[WORKFLOW_ID]), {})
        day = _day(int(str(row["time_ns"])))
        days[day] = days.get(day, Decimal(0)) + cost
    return facts
