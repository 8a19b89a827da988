"""Budgets of replicas sharing one PostgreSQL ledger: `GET /v1/budgets` on any replica is the whole ledger's.

An app's guard reads `COSTLINE_BUDGETS_URL=http://costline:9464`, a Service in front of every replica, so
whichever replica answers must show every replica's spend, or a budget would stop N times too late. Each
replica's `llm_budget_spent_usd` stays its own share (the PromQL rules sum it). The spend is exact: gpt-4o
at its list price, computed here by hand in Decimal.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

import pytest
from replicas import Collector, calls_of, list_price, payload, start_replicas, wait_until
from serve_process import ServeProcess, total

from costline_processor import metric_names as names
from costline_processor.budgets.tracker import OTHERS_MAX_AGE_S
from postgres_server import PASSWORD, PostgresServer

pytestmark = pytest.mark.e2e

BUDGET = "workflow_id=support;period=monthly"


def spent(replica: ServeProcess) -> Decimal:
    status, body = replica.get("/v1/budgets")
    assert status == 200, body
    return Decimal(next(b["spent_usd"] for b in json.loads(body)["budgets"] if b["id"] == BUDGET))


def own_share(replica: ServeProcess) -> Decimal:
    gauge = total(replica.metrics(), names.PROM_BUDGET_SPENT_USD, period="monthly")
    return Decimal(str(gauge)).quantize(Decimal("1e-12"))


def test_every_replica_serves_the_whole_ledgers_budgets_and_its_own_share_as_metrics(
    tmp_path: Path, pg_database: str, postgres: PostgresServer
) -> None:
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text("budgets:\n  - {workflow_id: support, period: monthly, limit_usd: 100}\n")
    to_a, to_b = calls_of("to-a", 3), calls_of("to-b", 2)
    with ExitStack() as stack:
        a, b = start_replicas(
            stack, tmp_path, pg_database, ["replica-a", "replica-b"], [f"--budgets={budgets}"]
        )
        Collector([payload(c) for c in to_a], lambda: [a.grpc_target]).deliver()
        Collector([payload(c) for c in to_b], lambda: [b.grpc_target]).deliver()
        share_a = list_price([c for batch in to_a for c in batch])
        share_b = list_price([c for batch in to_b for c in batch])
        for replica in (a, b):  # the other replica's spend is at most OTHERS_MAX_AGE_S old
            wait_until(lambda r=replica: spent(r) == share_a + share_b, timeout_s=10 * OTHERS_MAX_AGE_S)  # type: ignore[misc]
        assert own_share(a) == share_a.quantize(Decimal("1e-12"))
        assert own_share(b) == share_b.quantize(Decimal("1e-12"))

        postgres.stop()
        try:
            wait_until(lambda: a.get("/v1/budgets")[0] == 503)
            status, body = a.get("/v1/budgets")
            assert status == 503
            assert body.startswith("budgets unavailable: ledger unavailable: "), body
            assert PASSWORD not in body
        finally:
            postgres.start()
        wait_until(lambda: a.get("/v1/budgets")[0] == 200)
        assert spent(a) == share_a + share_b
        for replica in (a, b):
            assert PASSWORD not in replica.log()
            assert "Traceback" not in replica.log()
