"""`costline report --prometheus` on a real Prometheus when a replica goes away and another takes over.

The case from issue 13: replica a counted $1/min until a day ago and then went away; replica b, a fresh
ledger under a new instance id, has counted $0.10/min since. Over the last two days the workflow cost
$1,440 + $144; differencing the summed counters at the two edges said $-1,297.20.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from prom_expected import month_start
from prom_server import Prometheus, backfill, running, write_config
from report_cli import report_from_prometheus

from costline_processor.metric_names import (
    PROM_COST_USD_TOTAL,
    PROM_COUNTERS_START_TIME_SECONDS,
    PROM_REQUESTS_TOTAL,
)

pytestmark = pytest.mark.prometheus

MINUTE, DAY = 60, 86400
LABELS = (
    'workflow_id="support",feature_id="chat",tenant_id="acme",service_name="support-api",'
    'provider="openai",model="gpt-4o"'
)


@dataclass(frozen=True)
class Replica:
    instance: str
    ledger_created_s: int
    first_s: int  # first and last scrape (one a minute)
    last_s: int
    start_usd: Decimal  # cost counter at the first scrape
    usd_per_minute: Decimal

    def cost_at(self, t: int) -> Decimal:
        return self.start_usd + self.usd_per_minute * ((t - self.first_s) // MINUTE)

    def spent(self, after_s: int, until_s: int) -> Decimal:
        """What it counted in (after_s, until_s], as its scrapes show it (a fresh ledger from 0)."""
        last = min(until_s, self.last_s)
        if last <= after_s or last < self.first_s:
            return Decimal(0)
        if after_s >= self.first_s:
            return self.cost_at(last) - self.cost_at(after_s)
        return self.cost_at(last) - (0 if self.ledger_created_s > after_s else self.start_usd)


def _replicas(end_s: int) -> tuple[Replica, Replica]:
    a = Replica("10.0.0.1:9464", end_s - 40 * DAY, end_s - 3 * DAY, end_s - DAY, Decimal(1000), Decimal(1))
    b = Replica("10.0.0.2:9464", end_s - DAY, end_s - DAY + MINUTE, end_s, Decimal("0.1"), Decimal("0.1"))
    return a, b


def _openmetrics(replicas: tuple[Replica, ...]) -> str:
    """What Prometheus scraped: each replica's series, one sample a minute, every series contiguous."""
    cost, requests, started = PROM_COST_USD_TOTAL, PROM_REQUESTS_TOTAL, PROM_COUNTERS_START_TIME_SECONDS
    families: dict[str, list[str]] = {cost: [], requests: [], started: []}
    for r in replicas:
        target = f'job="costline",instance="{r.instance}"'
        times = range(r.first_s, r.last_s + 1, MINUTE)
        families[cost] += [
            f'{cost}{{{LABELS},token_type="output",{target}}} {r.cost_at(t)} {t}' for t in times
        ]
        families[requests] += [
            f'{requests}{{{LABELS},status="ok",{target}}} {(t - r.first_s) // MINUTE + 1} {t}' for t in times
        ]
        families[started] += [f"{started}{{{target}}} {r.ledger_created_s} {t}" for t in times]
    text = ""
    for metric, lines in families.items():
        kind = "counter" if metric.endswith("_total") else "gauge"
        text += f"# TYPE {metric.removesuffix('_total') if kind == 'counter' else metric} {kind}\n"
        text += "".join(f"{line}\n" for line in lines)
    return text + "# EOF\n"


@dataclass
class Scenario:
    prometheus: Prometheus
    end_s: int
    replicas: tuple[Replica, Replica]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    workdir: Path = tmp_path_factory.mktemp("replicas")
    now = int(datetime.now(UTC).timestamp())
    end_s = now - now % 3600 - 3600
    replicas = _replicas(end_s)
    backfill(_openmetrics(replicas), workdir / "data")
    write_config(workdir / "prometheus.yml", [])
    with running(workdir / "prometheus.yml", workdir / "data") as server:
        yield Scenario(server, end_s, replicas)


def test_a_replica_that_went_away_still_counts_and_nothing_goes_negative(scenario: Scenario) -> None:
    since_s, until_s = scenario.end_s - 2 * DAY, scenario.end_s
    report = report_from_prometheus(scenario.prometheus.url, since_s, until_s)
    (row,) = report["rows"]
    assert row["workflow_id"] == "support"
    assert float(row["cost_usd"]) == pytest.approx(1584, rel=1e-12)  # $1,440 from a, $144 from b
    assert row["requests"] == 2 * 1440
    # Month-to-date counts from the 1st whatever the window: on the 1st to 3rd of a month that is before
    # `since`, while replica a was still counting.
    month_to_date = sum((r.spent(month_start(until_s), until_s) for r in scenario.replicas), Decimal(0))
    assert float(report["month_to_date_usd"]) == pytest.approx(float(month_to_date), rel=1e-12, abs=1e-9)
    assert Decimal(report["projected_month_end_usd"]) >= Decimal(report["month_to_date_usd"]) >= 0
