"""Grafana provisioning: the Mimir and Tempo datasources the dashboards expect, and the dashboard folder.

Generated (with the dashboards) so uids, the exemplar label and metric names cannot drift from the queries.
`$$` is Grafana's escape for a literal `$` in provisioning files (a single `$` would be read as an env var).
URLs are the deploy/ compose service names; edit them for another setup.
"""

from __future__ import annotations

from typing import Any, Final

from costline.attributes import WORKFLOW_ID
from costline_processor.metric_names import LABEL_SERVICE_NAME, LABEL_WORKFLOW_ID, PROM_COST_USD_TOTAL
from dashboards.panels import MIMIR_UID, TEMPO_UID

MIMIR_URL: Final = "http://mimir:9009/prometheus"
TEMPO_URL: Final = "http://tempo:3200"
TENANT: Final = "costline"  # X-Scope-OrgID; costline and the collector push metrics with the same tenant
EXEMPLAR_TRACE_ID_LABEL: Final = "trace_id"  # the exemplar label costline writes (OpenMetrics and OTLP)
DASHBOARDS_PATH: Final = "/var/lib/grafana/dashboards/costline"
FOLDER: Final = "LLM cost"


def datasources() -> dict[str, Any]:
    mimir = {
        "name": "Mimir",
        "uid": MIMIR_UID,
        "type": "prometheus",
        "access": "proxy",
        "url": MIMIR_URL,
        "isDefault": True,
        "editable": False,
        "jsonData": {
            "prometheusType": "Mimir",
            "httpMethod": "POST",
            "timeInterval": "15s",
            "httpHeaderName1": "X-Scope-OrgID",
            "exemplarTraceIdDestinations": [
                {"name": EXEMPLAR_TRACE_ID_LABEL, "datasourceUid": TEMPO_UID, "urlDisplayLabel": "Open trace"}
            ],
        },
        "secureJsonData": {"httpHeaderValue1": TENANT},
    }
    spend = f"sum by ({LABEL_WORKFLOW_ID}) (rate({PROM_COST_USD_TOTAL}{{$$__tags}}[5m])) * 3600"
    tempo = {
        "name": "Tempo",
        "uid": TEMPO_UID,
        "type": "tempo",
        "access": "proxy",
        "url": TEMPO_URL,
        "editable": False,
        "jsonData": {
            # Traces -> metrics: from a span, open the spend of its service and workflow in Mimir.
            "tracesToMetrics": {
                "datasourceUid": MIMIR_UID,
                "spanStartTimeShift": "-1h",
                "spanEndTimeShift": "1h",
                "tags": [{"key": "service.name", "value": LABEL_SERVICE_NAME}, {"key": WORKFLOW_ID}],
                "queries": [{"name": "LLM spend (USD/hour)", "query": spend}],
            },
            "nodeGraph": {"enabled": True},
            "search": {"hide": False},
            "traceQuery": {"timeShiftEnabled": True, "spanStartTimeShift": "-1h", "spanEndTimeShift": "1h"},
        },
    }
    return {"apiVersion": 1, "datasources": [mimir, tempo]}


def dashboard_provider() -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "costline",
                "orgId": 1,
                "folder": FOLDER,
                "folderUid": "costline",
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": DASHBOARDS_PATH},
            }
        ],
    }
