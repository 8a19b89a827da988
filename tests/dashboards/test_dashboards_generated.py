"""The committed dashboards, rules and provisioning files are exactly the generator's output, and hold the
contract: stable uids and panel ids, Grafana 12 schema, the variables, names from the constants modules."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from dashboards.panels import MIMIR_UID, MONTH_SO_FAR, TEMPO_UID
from dashboards.promql import FILTER_VARIABLES
from grafana_queries import DASHBOARD_DIR, load, panel_queries

from costline import attributes
from costline_processor import metric_names
from dashboards import generate, traceql

FINANCE = "llm-cost-finance.json"
ENGINEERING = "llm-cost-engineering.json"
PROM_NAMES = {value for name, value in vars(metric_names).items() if name.startswith("PROM_")}
ATTRIBUTE_NAMES = {value for value in vars(attributes).values() if isinstance(value, str)}


def test_committed_files_equal_the_generator_output() -> None:
    rendered = generate.render()
    for name, text in rendered.items():
        path = DASHBOARD_DIR / name
        assert path.is_file(), f"{name} missing: run make dashboards"
        assert path.read_text(encoding="utf-8") == text, f"{name} is stale: run make dashboards"
    assert generate.stale_files() == []
    assert generate.main(["--check"]) == 0


def test_generator_is_deterministic() -> None:
    assert generate.render() == generate.render()


@pytest.mark.parametrize(
    ("name", "uid", "panel_ids"),
    [
        (FINANCE, "costline-finance", list(range(1, 14))),
        (ENGINEERING, "costline-engineering", list(range(1, 11))),
    ],
)
def test_stable_uids_and_panel_ids_on_the_grafana_12_schema(
    name: str, uid: str, panel_ids: list[int]
) -> None:
    dashboard = load(name)
    assert dashboard["uid"] == uid
    assert dashboard["schemaVersion"] == 41  # Grafana 12.x, the grafana-foundation-sdk "next" build
    assert dashboard["timezone"] == "utc"  # month-to-date and the ruler's month() both use UTC
    assert [panel["id"] for panel in dashboard["panels"]] == panel_ids
    _assert_grid_has_no_overlap(dashboard["panels"])


def _assert_grid_has_no_overlap(panels: list[dict[str, Any]]) -> None:
    taken: set[tuple[int, int]] = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        cells = {
            (x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


@pytest.mark.parametrize("name", [FINANCE, ENGINEERING])
def test_variables(name: str) -> None:
    variables = {v["name"]: v for v in load(name)["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["datasource"]["current"]["value"] == MIMIR_UID
    assert variables["tempo"]["type"] == "datasource"
    assert variables["tempo"]["query"] == "tempo"
    assert variables["tempo"]["current"]["value"] == TEMPO_UID
    for label in FILTER_VARIABLES:
        variable = variables[label]
        assert variable["type"] == "query"
        assert variable["multi"]
        assert variable["includeAll"]
        assert variable["allValue"] == ".*"
        assert variable["datasource"]["uid"] == "${datasource}"


def test_every_query_uses_the_datasource_variables_and_contract_names() -> None:
    for query in panel_queries():
        if query.datasource_type == "prometheus":
            for metric in re.findall(r"\b(llm_[a-z_]+)\b", query.text):
                assert metric in PROM_NAMES, f"{query.title}: {metric} is not a metric_names constant"
            for label in re.findall(r"(\w+)=~?\"", query.text):
                assert label in vars(metric_names).values(), f"{query.title}: label {label}"
        else:
            assert query.datasource_type == "tempo", query
    for name in (FINANCE, ENGINEERING):
        for panel in load(name)["panels"]:
            kinds = {t["datasource"]["uid"] for t in panel["targets"]}
            assert kinds <= {"${datasource}", "${tempo}"}, panel["title"]


def test_finance_panels() -> None:
    titles = {p["title"]: p for p in load(FINANCE)["panels"]}
    for title in (
        "Spend by workflow",
        "Top-3 workflows' share",
        "Month-to-date spend vs budget",
        "Month-end projection",
        "Unattributed share",
        "Cost per business outcome",
        "Spend by tenant",
        "Spend by service",
        "Month over month change by workflow",
        "Cost per outcome over time (per day)",
        "Year-end projection",
    ):
        assert title in titles
    assert titles["Year-end projection"]["timeFrom"] == "now/y"
    assert titles["Month-to-date spend vs budget"]["timeFrom"] == MONTH_SO_FAR
    assert titles["Month-end projection"]["timeFrom"] == MONTH_SO_FAR
    assert "sort_desc(" in titles["Spend by workflow"]["targets"][0]["expr"]


def test_engineering_panels_and_exemplars() -> None:
    panels = {p["id"]: p for p in load(ENGINEERING)["panels"]}
    assert panels[1]["targets"][0]["exemplar"] is True  # cost -> Tempo trace links
    tempo_panels = [p for p in panels.values() if p["datasource"]["type"] == "tempo"]
    assert [p["title"] for p in tempo_panels] == [
        "Calls per trace (retry and agent loops)",
        "Most expensive traces",
    ]
    for panel in tempo_panels:
        (target,) = panel["targets"]
        assert target["queryType"] == "traceql"
        assert target["tableType"] == "traces"


# --- TraceQL: cannot run here (no Tempo), so checked structurally ----------------------------------------

_STAGES = (
    re.compile(r"count\(\) > \d+"),
    re.compile(r"sum\(span\.[\w.]+\) > \$\w+"),
    re.compile(r"select\((span\.[\w.]+)(, span\.[\w.]+)*\)"),
)


def _check_traceql(query: str) -> None:
    assert query.count("{") == query.count("}") == 1, query
    assert query.count("(") == query.count(")"), query
    spanset, *stages = (part.strip() for part in query.split(" | "))
    assert spanset.startswith("{ "), spanset
    assert spanset.endswith(" }"), spanset
    for stage in stages:
        assert any(pattern.fullmatch(stage) for pattern in _STAGES), stage
    for attribute in re.findall(r"span\.([\w.]+)", query):
        assert attribute in ATTRIBUTE_NAMES, f"{attribute} is not an attributes.py name"
    for condition in re.split(r"&&|\|\|", spanset.strip("{} ")):
        assert re.fullmatch(r"\(?span\.[\w.]+ (!=|=~|>|>=|==) (nil|\"\$\w+\"|\d+)\)?", condition.strip()), (
            condition
        )


def test_traceql_queries_are_well_formed() -> None:
    queries = [q.text for q in panel_queries() if q.datasource_type == "tempo"]
    assert queries == [traceql.calls_per_trace(), traceql.most_expensive_traces()]
    for query in queries:
        _check_traceql(query)


def test_traceql_checker_rejects_broken_queries() -> None:
    for broken in (
        "{ span.llm.cost.usd > 0 | count() > 2",
        "{ span.llm.costs.usd > 0 }",
        "{ span.llm.cost.usd > 0 } | order_by(cost)",
    ):
        with pytest.raises(AssertionError):
            _check_traceql(broken)


def test_provisioning_matches_the_dashboards() -> None:
    sources = yaml.safe_load((DASHBOARD_DIR / generate.DATASOURCES_YAML).read_text(encoding="utf-8"))
    by_uid = {s["uid"]: s for s in sources["datasources"]}
    mimir, tempo = by_uid[MIMIR_UID], by_uid[TEMPO_UID]
    assert mimir["type"] == "prometheus"
    assert tempo["type"] == "tempo"
    assert mimir["jsonData"]["httpHeaderName1"] == "X-Scope-OrgID"
    assert mimir["secureJsonData"]["httpHeaderValue1"]
    (exemplar,) = mimir["jsonData"]["exemplarTraceIdDestinations"]
    assert exemplar == {"name": "trace_id", "datasourceUid": TEMPO_UID, "urlDisplayLabel": "Open trace"}
    to_metrics = tempo["jsonData"]["tracesToMetrics"]
    assert to_metrics["datasourceUid"] == MIMIR_UID
    assert metric_names.PROM_COST_USD_TOTAL in to_metrics["queries"][0]["query"]
    assert "$$__tags" in to_metrics["queries"][0]["query"]  # `$$` = a literal `$` in provisioning files
    providers = yaml.safe_load((DASHBOARD_DIR / generate.DASHBOARDS_YAML).read_text(encoding="utf-8"))
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/var/lib/grafana/dashboards")
