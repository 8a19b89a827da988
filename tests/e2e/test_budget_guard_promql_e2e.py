"""Several replicas: two real `costline serve` processes, each pricing part of a workflow's calls, scraped by
a real Prometheus; the app's guard reads PromQL and blocks on the global spend, though neither replica alone
is over the line (each one's own `/v1/budgets` says so, and a guard reading one replica lets calls through).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from budget_runs import CALL_COST, app_env, budgets_file, ledger_calls, run_app
from serve_process import ServeProcess

from costline._config import ENV_BUDGETS_URL
from costline_processor.mock_provider import MockProvider

# tests/dashboards has the Prometheus fixture helpers (on sys.path under pytest only when its tests run).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboards"))
from prom_server import Prometheus, running, write_config  # type: ignore[import-not-found,unused-ignore]

pytestmark = [pytest.mark.e2e, pytest.mark.prometheus]

BUDGET = "{workflow_id: shared, period: daily, limit_usd: 0.03, stop_at: 100, on_stop: block}"
CALLS_PER_REPLICA = 3  # $0.018 each: 60 % of the limit on either replica, 120 % together
SCRAPE_MS = 500


def _wait_for_global_spend(prometheus: Prometheus, at_least: float, timeout_s: float = 30.0) -> float:
    query = 'sum(llm_budget_spent_usd{workflow_id="shared"})'
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = prometheus.query(query, time.time())
        if result and float(result[0]["value"][1]) >= at_least:
            return float(result[0]["value"][1])
        time.sleep(0.2)
    raise AssertionError(f"Prometheus never saw {query} >= {at_least}")


def test_the_promql_guard_blocks_on_the_spend_of_all_replicas(
    tmp_path: Path, mock_provider: MockProvider
) -> None:
    replicas = []
    for name in ("one", "two"):
        workdir = tmp_path / name
        workdir.mkdir()
        replicas.append(
            ServeProcess(workdir, args=[f"--budgets={budgets_file(workdir / 'budgets.yaml', BUDGET)}"])
        )
    base = {
        "base_url": mock_provider.openai_base_url,
        "workflows": ["shared"],
        "max_rounds": CALLS_PER_REPLICA,
    }
    with replicas[0] as one, replicas[1] as two:
        config = tmp_path / "prometheus.yml"
        write_config(config, [f"127.0.0.1:{one.metrics_port}", f"127.0.0.1:{two.metrics_port}"], SCRAPE_MS)
        (tmp_path / "tsdb").mkdir()
        with running(config, tmp_path / "tsdb") as prometheus:
            for replica in (one, two):  # each app sends its spans to its own replica (no guard yet)
                spent = run_app(replica.workdir, base, app_env(replica.workdir, replica))
                assert spent.outcomes("shared") == ["ok"] * CALLS_PER_REPLICA, spent.stderr
                assert len(ledger_calls(replica, "shared", CALLS_PER_REPLICA)) == CALLS_PER_REPLICA
            total = _wait_for_global_spend(prometheus, 0.03)
            assert total == pytest.approx(float(2 * CALLS_PER_REPLICA * CALL_COST["gpt-4.1"]))
            for replica in (one, two):
                _, budgets = replica.get("/v1/budgets")
                assert '"status": "alert_50"' in budgets  # each replica sees only its own 60 %
            promql = f"prom+http://127.0.0.1:{prometheus.url.rsplit(':', 1)[1]}"
            guarded = {**base, "workflows": ["shared", "other"], "max_rounds": 2}
            app = run_app(tmp_path, guarded, app_env(tmp_path, one, **{ENV_BUDGETS_URL: promql}))
            single = run_app(tmp_path, guarded, app_env(tmp_path, one, **{ENV_BUDGETS_URL: one.url_base}))
    assert app.returncode == 0, app.stderr
    assert app.outcomes("shared") == ["blocked", "blocked"], app.stderr
    assert app.outcomes("other") == ["ok", "ok"]
    message = app.of("shared")[0]["message"]
    assert message.startswith("workflow 'shared' is over its daily budget: $0.04 of $0.03 (120 %); ")
    # The same app reading one replica only: that replica alone is under the line, so calls pass.
    assert single.outcomes("shared") == ["ok", "ok"], single.stderr
