"""Building blocks shared by both dashboards: datasources, variables, and one factory per panel kind.

Every panel gets an explicit id and grid position from its dashboard module, so ids stay stable when panels
are added (links like `?viewPanel=3` keep working).
"""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import bargauge, stat, table, tempo, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dbm
from grafana_foundation_sdk.models import prometheus as promm
from grafana_foundation_sdk.models import tempo as tempom

from costline_processor.metric_names import PROM_COST_USD_TOTAL
from dashboards.promql import FILTER_VARIABLES

# Provisioned datasource uids (dashboards/provisioning/datasources/costline.yaml) = the variables' defaults.
MIMIR_UID: Final = "costline-mimir"
TEMPO_UID: Final = "costline-tempo"
PROM_DS_VAR: Final = "datasource"
TEMPO_DS_VAR: Final = "tempo"
PROM_DS: Final = common.DataSourceRef(type_val="prometheus", uid=f"${{{PROM_DS_VAR}}}")
TEMPO_DS: Final = common.DataSourceRef(type_val="tempo", uid=f"${{{TEMPO_DS_VAR}}}")
USD: Final = "currencyUSD"
MONTH_SO_FAR: Final = "now/M"  # Grafana's "This month so far"; the dashboards' timezone is UTC


def datasource_variables() -> list[db.DatasourceVariable]:
    mimir = (
        db.DatasourceVariable(PROM_DS_VAR)
        .label("Metrics (Mimir/Prometheus)")
        .type("prometheus")
        .current(dbm.VariableOption(text="Mimir", value=MIMIR_UID, selected=True))
    )
    traces = (
        db.DatasourceVariable(TEMPO_DS_VAR)
        .label("Traces (Tempo)")
        .type("tempo")
        .current(dbm.VariableOption(text="Tempo", value=TEMPO_UID, selected=True))
    )
    return [mimir, traces]


def filter_variables() -> list[db.QueryVariable]:
    """workflow_id, tenant_id, service_name, model: multi-select, "All" = `.*`, each narrowed by the ones
    before it."""
    variables = []
    for index, label in enumerate(FILTER_VARIABLES):
        previous = ", ".join(f'{name}=~"${name}"' for name in FILTER_VARIABLES[:index])
        series = f"{PROM_COST_USD_TOTAL}{{{previous}}}" if previous else PROM_COST_USD_TOTAL
        variables.append(
            db.QueryVariable(label)
            .label(label)
            .datasource(PROM_DS)
            .query(f"label_values({series}, {label})")
            .refresh(dbm.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(dbm.VariableSort.ALPHABETICAL_ASC)
            .multi(True)
            .include_all(True)
            .all_value(".*")
            .current(dbm.VariableOption(text="All", value="$__all", selected=True))
        )
    return variables


def query(expr: str, ref: str = "A", *, legend: str = "", instant: bool = False) -> prom.Dataquery:
    target = (
        prom.Dataquery().expr(expr).ref_id(ref).datasource(PROM_DS).editor_mode(promm.QueryEditorMode.CODE)
    )
    if legend:
        target = target.legend_format(legend)
    return target.instant().format(promm.PromQueryFormat.TABLE) if instant else target.range()


def grid(x: int, y: int, w: int, h: int) -> dbm.GridPos:
    return dbm.GridPos(x=x, y=y, w=w, h=h)


def bars(
    panel_id: int, title: str, pos: dbm.GridPos, expr: str, *, legend: str, unit: str = USD
) -> bargauge.Panel:
    """Horizontal bars, one per series, in the query's order (queries use sort_desc)."""
    target = prom.Dataquery().expr(expr).ref_id("A").datasource(PROM_DS).instant().legend_format(legend)
    return (
        bargauge.Panel()
        .id(panel_id)
        .title(title)
        .grid_pos(pos)
        .datasource(PROM_DS)
        .with_target(target.editor_mode(promm.QueryEditorMode.CODE))
        .unit(unit)
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .min(0)
    )


def single_stat(panel_id: int, title: str, pos: dbm.GridPos, expr: str, unit: str) -> stat.Panel:
    target = prom.Dataquery().expr(expr).ref_id("A").datasource(PROM_DS).instant()
    return (
        stat.Panel()
        .id(panel_id)
        .title(title)
        .grid_pos(pos)
        .datasource(PROM_DS)
        .with_target(target.editor_mode(promm.QueryEditorMode.CODE))
        .unit(unit)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def prom_table(panel_id: int, title: str, pos: dbm.GridPos, targets: list[prom.Dataquery]) -> table.Panel:
    """Instant queries merged into one row per label set (the Value #A/#B... columns)."""
    panel = table.Panel().id(panel_id).title(title).grid_pos(pos).datasource(PROM_DS)
    for target in targets:
        panel = panel.with_target(target)
    merge = dbm.DataTransformerConfig(id_val="merge", options={})
    return panel.with_transformation(merge)


def graph(
    panel_id: int, title: str, pos: dbm.GridPos, targets: list[prom.Dataquery], unit: str
) -> timeseries.Panel:
    panel = timeseries.Panel().id(panel_id).title(title).grid_pos(pos).datasource(PROM_DS).unit(unit)
    for target in targets:
        panel = panel.with_target(target)
    return panel.fill_opacity(10).line_width(1)


def traceql_table(panel_id: int, title: str, pos: dbm.GridPos, traceql: str, limit: int = 20) -> table.Panel:
    target = (
        tempo.TempoQuery()
        .ref_id("A")
        .datasource(TEMPO_DS)
        .query_type("traceql")
        .query(traceql)
        .limit(limit)
        .table_type(tempom.SearchTableType.TRACES)
    )
    return table.Panel().id(panel_id).title(title).grid_pos(pos).datasource(TEMPO_DS).with_target(target)
