"""Read every query out of the committed dashboard JSON and interpolate it the way Grafana does."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "dashboards"
DASHBOARD_FILES = ("llm-cost-finance.json", "llm-cost-engineering.json")


@dataclass(frozen=True)
class PanelQuery:
    dashboard_uid: str
    panel_id: int
    title: str
    ref_id: str
    datasource_type: str
    text: str  # PromQL expr or TraceQL query
    instant: bool
    time_from: str | None

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.dashboard_uid, self.panel_id, self.ref_id)


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DASHBOARD_DIR / name).read_text(encoding="utf-8"))
    return data


def panel_queries() -> list[PanelQuery]:
    queries = []
    for name in DASHBOARD_FILES:
        dashboard = load(name)
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                kind = target["datasource"]["type"]
                queries.append(
                    PanelQuery(
                        dashboard_uid=dashboard["uid"],
                        panel_id=panel["id"],
                        title=panel["title"],
                        ref_id=target["refId"],
                        datasource_type=kind,
                        text=target["expr"] if kind == "prometheus" else target["query"],
                        instant=bool(target.get("instant")),
                        time_from=panel.get("timeFrom"),
                    )
                )
    return queries


def interpolate(text: str, variables: dict[str, str], builtins: dict[str, str]) -> str:
    """Replace `$name` / `${name}` (longest names first, so `$__range` never eats `$__range_s`)."""
    values = {**variables, **builtins}
    for name in sorted(values, key=len, reverse=True):
        text = text.replace(f"${{{name}}}", values[name]).replace(f"${name}", values[name])
    leftover = re.findall(r"\$\{?\w+", text)
    assert not leftover, f"uninterpolated variables {leftover} in {text}"
    return text


def regex_value(values: list[str] | None) -> str:
    """Grafana's interpolation of a multi-value variable into a `=~` matcher; None is "All" (`.*`)."""
    if values is None:
        return ".*"
    # The test's values have no regex metacharacters, so Grafana's escaping does not change them.
    assert all(re.fullmatch(r"[\w-]+", v) for v in values), values
    return values[0] if len(values) == 1 else "(" + "|".join(values) + ")"
