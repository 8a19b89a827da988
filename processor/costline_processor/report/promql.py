"""Report facts from Prometheus/Mimir: the counters' values at the window's edges, differenced.

costline's counters never reset (they continue from the ledger after a restart), so `value(until) -
value(since)` is the exact increase; `increase()` would extrapolate. Counters advance when the processor
*receives* a call, so a Prometheus window selects calls by arrival time while the ledger selects them by
call time; for windows that cover the same calls both give the same numbers (to float precision).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from costline.attributes import WORKFLOW_ID
from costline_processor import metric_names as names
from costline_processor.report.facts import GroupKey, ReportFacts, ReportInputError, month_start

TIMEOUT_S = 30.0
Series = dict[GroupKey, Decimal]


class PromClient:
    def __init__(self, base_url: str, headers: Mapping[str, str]) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)

    def instant(self, query: str, at: datetime, labels: tuple[str, ...]) -> Series:
        params = {"query": query, "time": f"{at.timestamp():.3f}"}
        result = self._get("/api/v1/query", params)
        return {tuple(s["metric"].get(n, "") for n in labels): Decimal(s["value"][1]) for s in result}

    def _get(self, path: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        url = f"{self.base_url}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                body = json.load(response)
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
            raise ReportInputError(f"cannot query Prometheus at {self.base_url}: {exc}") from exc
        if body.get("status") != "success":
            raise ReportInputError(f"Prometheus rejected {params.get('query')!r}: {body.get('error')}")
        return list(body["data"]["result"])


def _increase(
    client: PromClient, metric: str, labels: tuple[str, ...], since: datetime, until: datetime
) -> Series:
    query = f"sum by ({', '.join(labels)}) ({metric})"
    start, end = client.instant(query, since, labels), client.instant(query, until, labels)
    return {
        key: value - start.get(key, Decimal(0))
        for key, value in end.items()
        if value - start.get(key, Decimal(0))
    }


def facts_from_prometheus(
    url: str, headers: Mapping[str, str], by: tuple[str, ...], since: datetime, until: datetime
) -> ReportFacts:
    client = PromClient(url, headers)
    facts = ReportFacts(by=by, since=since, until=until)
    facts.cost = _increase(client, names.PROM_COST_USD_TOTAL, by, since, until)
    facts.requests = {
        key: int(value)
        for key, value in _increase(client, names.PROM_REQUESTS_TOTAL, by, since, until).items()
    }
    with_model = by if names.LABEL_MODEL in by else (*by, names.LABEL_MODEL)
    model_at = with_model.index(names.LABEL_MODEL)
    for key in _increase(client, names.PROM_REQUESTS_TOTAL, with_model, since, until):
        facts.model_cost.setdefault(key[: len(by)], {})[key[model_at]] = Decimal(0)
    for key, cost in _increase(client, names.PROM_COST_USD_TOTAL, with_model, since, until).items():
        facts.model_cost.setdefault(key[: len(by)], {})[key[model_at]] = cost
    facts.daily_cost = _daily(client, since, until)
    month_cost = _increase(client, names.PROM_COST_USD_TOTAL, (WORKFLOW_ID,), month_start(until), until)
    facts.month_to_date = {workflow: cost for (workflow,), cost in month_cost.items()}
    outcome_labels = (WORKFLOW_ID, names.LABEL_OUTCOME)
    for (workflow, outcome), count in _increase(
        client, names.PROM_WORKFLOW_OUTCOMES_TOTAL, outcome_labels, since, until
    ).items():
        facts.outcomes.setdefault(workflow, {})[outcome] = int(count)
    unpriced = _increase(client, names.PROM_UNPRICED_REQUESTS_TOTAL, (), since, until)
    facts.unpriced_requests = int(sum(unpriced.values(), Decimal(0)))
    return facts


def _daily(client: PromClient, since: datetime, until: datetime) -> dict[str, dict[Any, Decimal]]:
    """Cost per workflow per day, from one snapshot of the counters at each day boundary."""
    query = f"sum by ({WORKFLOW_ID}) ({names.PROM_COST_USD_TOTAL})"
    boundaries = [since]
    while boundaries[-1] < until:
        boundaries.append(min(boundaries[-1] + timedelta(days=1), until))
    snapshots = [client.instant(query, moment, (WORKFLOW_ID,)) for moment in boundaries]
    daily: dict[str, dict[Any, Decimal]] = {}
    for start, before, after in zip(boundaries, snapshots, snapshots[1:], strict=False):
        for (workflow,), value in after.items():
            cost = value - before.get((workflow,), Decimal(0))
            if cost:
                daily.setdefault(workflow, {})[start.date()] = cost
    return daily
