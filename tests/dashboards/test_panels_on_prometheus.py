"""Every dashboard panel's PromQL, run on a real Prometheus over 60 days of backfilled history, equals the
ledger's totals for the same calls.

The history is what scrapes of costline's replicas would have stored (prom_history, prom_exposition): a
replica replaced by a fresh one, a ledger lost under a kept instance id, failed scrapes at window starts, a
label set born mid-history. promtool backfills it; the queries are read from the committed JSON and
interpolated as Grafana would ($__range and $__range_s from the panel's time range, "now/M" for
month-to-date). A query that returns nothing fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from dashboards.promql import FILTER_VARIABLES
from grafana_queries import DASHBOARD_FILES, PanelQuery, interpolate, load, panel_queries
from panel_checks import FILTERS, FINANCE, INSTANT, RANGE, WF, assert_equal, series_values, variables
from prom_expected import Expectations, Filters, month_start
from prom_exposition import openmetrics
from prom_history import SCRAPE_S, STREAMS, History, build_history
from prom_server import Prometheus, backfill, running, write_config
from report_cli import report_from_prometheus

from costline_processor.metric_names import (
    PROM_COST_USD_TOTAL,
)
from costline_processor.report import build_report, load_facts
from dashboards import alerting

pytestmark = pytest.mark.prometheus

STEP_S = 3600  # Grafana's $__interval and $__rate_interval for a 24h panel at this width, rounded


@pytest.fixture(scope="module")
def history() -> History:
    """Ends at 18:00 UTC on the 20th of last month: month-to-date then spans the replica replacement, the
    lost ledger and the failed scrape at the month start, whatever today's date."""
    first_of_this_month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (first_of_this_month - timedelta(days=1)).replace(day=20, hour=18)
    end_s = int(end.timestamp())
    return build_history(end_s, month_start(end_s))


@pytest.fixture(scope="module")
def prometheus(history: History, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    workdir: Path = tmp_path_factory.mktemp("prometheus")
    backfill(openmetrics(history), workdir / "data")
    write_config(workdir / "prometheus.yml", [])
    with running(workdir / "prometheus.yml", workdir / "data") as server:
        yield server


def _range_s(query: PanelQuery, history: History) -> int:
    end_s = history.end_s
    if query.time_from == "now/M":
        return end_s - month_start(end_s)
    if query.time_from == "now/y":
        # The year so far, within the history: before its start Prometheus has no sample at all (a
        # monitoring gap, where window_total leaves a series born later without its first sample).
        year_start = int(datetime(datetime.fromtimestamp(end_s, UTC).year, 1, 1, tzinfo=UTC).timestamp())
        return end_s - max(year_start, history.start_s + 86400)
    assert query.time_from is None, query.time_from
    default = next(
        load(name)["time"]["from"] for name in DASHBOARD_FILES if load(name)["uid"] == query.dashboard_uid
    )
    units = {"d": 86400, "h": 3600}
    return int(default.removeprefix("now-")[:-1]) * units[default[-1]]


def _range(range_s: int) -> dict[str, str]:
    return {"__range": f"{range_s}s", "__range_s": str(range_s)}


def _prometheus_queries() -> list[PanelQuery]:
    return [q for q in panel_queries() if q.datasource_type == "prometheus"]


def test_every_panel_query_has_an_expectation() -> None:
    queries = {q.key: q for q in _prometheus_queries()}
    assert set(queries) == set(INSTANT) | set(RANGE)
    assert all(queries[key].instant for key in INSTANT)
    assert not any(queries[key].instant for key in RANGE)


@pytest.mark.parametrize("selection", sorted(FILTERS))
def test_instant_panels_equal_the_ledger(prometheus: Prometheus, history: History, selection: str) -> None:
    filters = FILTERS[selection]
    expectations = Expectations(history, history.end_s, filters)
    for query in _prometheus_queries():
        if query.key not in INSTANT:
            continue
        range_s = _range_s(query, history)
        expr = interpolate(query.text, variables(filters), _range(range_s))
        result = prometheus.query(expr, history.end_s)
        context = f"{query.title} ({query.ref_id}, {selection})"
        assert result, f"{context}: the query returned nothing: {expr}"
        labels, expected = INSTANT[query.key]
        assert_equal(series_values(result, labels), expected(expectations, range_s), context)


@pytest.mark.parametrize("selection", sorted(FILTERS))
def test_range_panels_equal_the_ledger(prometheus: Prometheus, history: History, selection: str) -> None:
    filters = FILTERS[selection]
    expectations = Expectations(history, history.end_s, filters)
    start = history.end_s - 86400
    builtins = {"__rate_interval": f"{STEP_S}s", "__interval": f"{STEP_S}s", **_range(86400)}
    for query in _prometheus_queries():
        if query.key not in RANGE:
            continue
        expr = interpolate(query.text, variables(filters), builtins)
        result = prometheus.query_range(expr, start, history.end_s, STEP_S)
        assert result, f"{query.title}: the query returned nothing: {expr}"
        labels, series = RANGE[query.key]
        for index, step_end in enumerate(range(start, history.end_s + 1, STEP_S)):
            expected = expectations.at_step(step_end, series)
            assert_equal(
                series_values(result, labels, index), expected, f"{query.title} at {step_end} ({selection})"
            )


def test_bars_are_sorted_by_spend(prometheus: Prometheus, history: History) -> None:
    query = next(q for q in _prometheus_queries() if q.key == (FINANCE, 1, "A"))
    expr = interpolate(query.text, variables(Filters()), _range(30 * 86400))
    values = [float(series["value"][1]) for series in prometheus.query(expr, history.end_s)]
    assert len(values) == len({s.workflow_id for s in STREAMS})
    assert values == sorted(values, reverse=True)


def test_variable_queries_list_the_label_values(prometheus: Prometheus, history: History) -> None:
    templating = load("llm-cost-finance.json")["templating"]["list"]
    queries = {v["name"]: v for v in templating if v["type"] == "query"}
    assert list(queries) == list(FILTER_VARIABLES)
    for name, variable in queries.items():
        inner = variable["query"].removeprefix("label_values(").removesuffix(f", {name})")
        match = interpolate(inner, variables(Filters()), {})
        assert match.startswith(PROM_COST_USD_TOTAL)
        got = prometheus.label_values(name, match, history.start_s, history.end_s)
        assert sorted(got) == sorted({getattr(s, name) for s in STREAMS})


def test_recording_rules_equal_the_ledger(prometheus: Prometheus, history: History) -> None:
    """The ruler's month-to-date (subquery + `@ end()`), 7-day average and last hour, on the same history."""
    rules = {rule["record"]: rule["expr"] for rule in alerting.recording_rules()}
    expectations = Expectations(history, history.end_s, Filters())
    month_to_date = expectations.by_label(history.end_s - month_start(history.end_s), "workflow_id")
    week = expectations.by_label(7 * 86400, "workflow_id")
    cases = {
        alerting.MTD: month_to_date,
        alerting.DAILY_AVG_7D: {k: v / 7 for k, v in week.items()},
        alerting.LAST_HOUR: expectations.by_label(3600, "workflow_id"),
    }
    for record, expected in cases.items():
        result = prometheus.query(rules[record], history.end_s)
        assert_equal(series_values(result, WF), expected, record)
    share = prometheus.query(rules[alerting.UNATTRIBUTED_SHARE], history.end_s)
    assert_equal(
        series_values(share, ()), expectations.unattributed_share(86400), alerting.UNATTRIBUTED_SHARE
    )


def test_report_from_prometheus_equals_the_ledger(prometheus: Prometheus, history: History) -> None:
    """`costline report --prometheus` over the last 30 days of the same history: spend and calls per
    workflow, unpriced calls and month-to-date (from its UTC days) equal the known calls."""
    since_s, until_s = history.end_s - 30 * 86400, history.end_s
    report = report_from_prometheus(prometheus.url, since_s, until_s)
    expectations = Expectations(history, until_s, Filters())
    spend = expectations.by_label(until_s - since_s, "workflow_id")
    calls = expectations.requests(since_s, until_s)
    rows = {(row["workflow_id"],): row for row in report["rows"]}
    assert set(rows) == set(spend)
    for key, row in rows.items():
        assert float(row["cost_usd"]) == pytest.approx(spend[key], rel=1e-9, abs=1e-12), key
        assert row["requests"] == len(calls[key]), key
    unpriced = history.select(since_s, until_s, lambda c: c.unpriced_reason is not None)
    assert report["unpriced_requests"] == len(unpriced)
    month_to_date = expectations.total(until_s - month_start(until_s))  # from the 1st, whatever the window
    assert float(report["month_to_date_usd"]) == pytest.approx(float(month_to_date), rel=1e-9)


def test_report_month_to_date_reads_the_month_whatever_the_window(
    prometheus: Prometheus, history: History, tmp_path: Path
) -> None:
    """`costline report --prometheus` over the last half hour: month-to-date and budget use still count from
    the 1st of the month (the counters' difference between the 1st and the window's end)."""
    until = datetime.fromtimestamp(history.end_s, UTC)
    since = datetime.fromtimestamp(history.end_s - SCRAPE_S, UTC)  # after the 1st: the fixture ensures it
    facts = load_facts(
        ledger_url=tmp_path / "unused", prometheus_url=prometheus.url, headers={}, by="workflow_id",
        since=since, until=until,
    )  # fmt: skip
    expected = Expectations(history, history.end_s, Filters()).by_label(
        history.end_s - month_start(history.end_s), "workflow_id"
    )
    budgets = {workflow: Decimal(100) for (workflow,) in expected}
    report = build_report(facts, budgets=budgets)
    assert_equal({(b.workflow_id,): float(b.month_to_date) for b in report.budgets}, expected, "budget use")
    assert float(report.month_to_date) == pytest.approx(sum(expected.values()), rel=1e-9)
    assert report.month_to_date > report.total_cost  # the window is only the month's last half hour
