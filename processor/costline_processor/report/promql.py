"""Report facts from Prometheus/Mimir: what each counter added in (since, until], per series, summed.

One query per fact, evaluated at `until` over the window (`costline_processor.window_promql`): a replica
that went away inside the window still counts up to its last sample, a new one from zero, a counter reset
(a lost ledger) does not subtract, and a failed scrape at `since` does not hide the starting value; the
values at the two edges, differenced, would get all four wrong. Counters advance when the processor
*receives* a call, so a Prometheus window selects calls by arrival time while the ledger selects them by
call time; for windows that cover the same calls both give the same numbers (to float precision).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from costline.attributes import WORKFLOW_ID
from costline_processor import metric_names as names
from costline_processor.report.facts import GroupKey, ReportFacts, ReportInputError, month_start
from costline_processor.window_promql import Window, window_total

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
    milliseconds = round((until - since).total_seconds() * 1000)
    query = window_total(metric, labels, Window.of_milliseconds(milliseconds))
    return {key: value for key, value in client.instant(query, until, labels).items() if value}


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
    """Cost per workflow per UTC calendar day, as the ledger counts it: one window query per day (the
    first starts at `since`, the last ends at `until`)."""
    daily: dict[str, dict[Any, Decimal]] = {}
    start = since
    while start < until:
        midnight = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        end = min(midnight + timedelta(days=1), until)
        for (workflow,), cost in _increase(
            client, names.PROM_COST_USD_TOTAL, (WORKFLOW_ID,), start, end
        ).items():
            daily.setdefault(workflow, {})[midnight.date()] = cost
        start = end
    return daily
