"""The otelcol-contrib configs in collector-config/, checked without a collector binary (none here).

Every pipeline references defined components and every defined component is used; every component type and
option is on the checked list (collector-config/components.yaml, with upstream sources); the costline
endpoints agree with `costline serve`'s defaults; GenAI spans are routed before any sampling; the costline
queue is persistent and its retries never give up.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from costline_processor.config import ServeConfig

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "collector-config"
CONFIGS = sorted(CONFIG_DIR.glob("otelcol-*.yaml"))
KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")
SAMPLERS = ("tail_sampling", "probabilistic_sampler")
_ENV = re.compile(r"\$\{env:([A-Z0-9_]+)(?::-([^}]*))?\}")


def _load(path: Path) -> dict[str, Any]:
    """The config as otelcol would see it with no environment overrides (`${env:X:-default}` -> default)."""
    text = path.read_text(encoding="utf-8")
    unresolved = [m.group(1) for m in _ENV.finditer(text) if m.group(2) is None]
    assert not unresolved, f"{path.name}: env vars without a default: {unresolved}"
    config: dict[str, Any] = yaml.safe_load(_ENV.sub(lambda m: m.group(2), text))
    return config


def _checked() -> dict[str, Any]:
    checked: dict[str, Any] = yaml.safe_load((CONFIG_DIR / "components.yaml").read_text(encoding="utf-8"))
    return checked


def _type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def _option_paths(value: object, prefix: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for key, child in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path
            yield from _option_paths(child, path)
    elif isinstance(value, list):
        for item in value:
            yield from _option_paths(item, f"{prefix}[]")


def _listed(option: str, options: list[str]) -> bool:
    free_form = [o.removesuffix("*") for o in options if o.endswith(".*")]
    return option in options or any(option.startswith(prefix) for prefix in free_form)


def _pipelines(config: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    pipelines: dict[str, dict[str, list[str]]] = config["service"]["pipelines"]
    return pipelines


def test_there_are_the_three_configs() -> None:
    assert [p.name for p in CONFIGS] == [
        "otelcol-costline-scale-out-k8s.yaml",
        "otelcol-costline-scale-out.yaml",
        "otelcol-costline.yaml",
    ]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_components_and_options_are_on_the_checked_list(path: Path) -> None:
    config, checked = _load(path), _checked()
    for kind in KINDS:
        for component_id, settings in (config.get(kind) or {}).items():
            component = checked[kind].get(_type(component_id))
            assert component is not None, f"{path.name}: {kind} {component_id!r} is not on the checked list"
            for option in _option_paths(settings or {}):
                assert _listed(option, component["options"]), (
                    f"{path.name}: {component_id}.{option} is not checked"
                )


def test_the_checked_list_has_a_source_for_every_component() -> None:
    checked = _checked()
    for kind in KINDS:
        for name, component in checked[kind].items():
            assert str(component["source"]).startswith("https://github.com/open-telemetry/"), name
            # Current snake_case names only; the old ones are aliases, documented in README.md.
            assert re.fullmatch(r"[a-z0-9_]+", name), name


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_pipelines_reference_defined_components_and_all_are_used(path: Path) -> None:
    config = _load(path)
    defined = {kind: set(config.get(kind) or {}) for kind in KINDS}
    used: dict[str, set[str]] = {kind: set() for kind in KINDS}
    connector_roles: dict[str, set[str]] = {c: set() for c in defined["connectors"]}
    for name, pipeline in _pipelines(config).items():
        assert pipeline.get("receivers"), name
        assert pipeline.get("exporters"), name
        for role in ("receivers", "processors", "exporters"):
            for component in pipeline.get(role, []):
                if component in defined["connectors"] and role != "processors":
                    connector_roles[component].add(role)
                    continue
                assert component in defined[role], f"{path.name}: {name} uses undefined {role} {component!r}"
                used[role].add(component)
    for component in config["service"].get("extensions", []):
        assert component in defined["extensions"], component
        used["extensions"].add(component)
    for kind in ("receivers", "processors", "exporters", "extensions"):
        assert used[kind] == defined[kind], f"{path.name}: unused {kind}: {defined[kind] - used[kind]}"
    for connector, roles in connector_roles.items():
        assert roles == {"receivers", "exporters"}, f"{connector} must be both an exporter and a receiver"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_routing_targets_are_pipelines_fed_by_the_router(path: Path) -> None:
    config = _load(path)
    pipelines = _pipelines(config)
    for router_id, router in config["connectors"].items():
        targets = set(router["default_pipelines"]) | {
            p for route in router["table"] for p in route["pipelines"]
        }
        fed = {name for name, pipeline in pipelines.items() if router_id in pipeline["receivers"]}
        assert targets == fed, f"{path.name}: {router_id} routes to {targets}, pipelines fed: {fed}"


def _costline_exporter(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    pipelines = _pipelines(config)
    (exporter_id,) = pipelines["traces/costline"]["exporters"]
    settings: dict[str, Any] = config["exporters"][exporter_id]
    return exporter_id, settings


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_genai_spans_are_routed_before_any_sampling(path: Path) -> None:
    config = _load(path)
    pipelines = _pipelines(config)
    entry = [name for name, p in pipelines.items() if "routing/genai" in p["exporters"]]
    assert entry == ["traces/in"]
    assert pipelines["traces/in"]["processors"] == ["memory_limiter"]
    assert not set(pipelines["traces/costline"].get("processors", [])) & set(SAMPLERS)
    (route,) = config["connectors"]["routing/genai"]["table"]
    assert route["context"] == "span"
    assert route["pipelines"] == ["traces/costline"]
    # What the condition matches is tested in test_routing_condition.py.
    assert (
        route["condition"]
        == _load(CONFIG_DIR / "otelcol-costline.yaml")["connectors"]["routing/genai"]["table"][0]["condition"]
    )


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_costline_queue_is_persistent_and_retries_never_give_up(path: Path) -> None:
    config = _load(path)
    _, exporter = _costline_exporter(config)
    queue, retry = exporter["sending_queue"], exporter["retry_on_failure"]
    assert queue["enabled"] is True
    assert _type(queue["storage"]) == "file_storage"
    assert queue["storage"] in config["service"]["extensions"]
    assert retry["enabled"] is True
    assert retry["max_elapsed_time"] == 0  # exporterhelper: 0 = retry forever


def test_endpoints_agree_with_costline_serve_defaults() -> None:
    defaults = ServeConfig()
    single = _load(CONFIG_DIR / "otelcol-costline.yaml")
    exporter_id, exporter = _costline_exporter(single)
    assert _type(exporter_id) == "otlp_grpc"
    assert exporter["endpoint"].rsplit(":", 1)[1] == str(defaults.grpc_port)
    dns = _load(CONFIG_DIR / "otelcol-costline-scale-out.yaml")
    exporter_id, exporter = _costline_exporter(dns)
    assert _type(exporter_id) == "load_balancing"
    assert exporter["routing_key"] == "traceID"
    assert exporter["resolver"]["dns"]["port"] == str(defaults.grpc_port)
    assert "endpoint" not in exporter["protocol"]["otlp"]  # the resolver supplies it
    k8s = _load(CONFIG_DIR / "otelcol-costline-scale-out-k8s.yaml")
    _, exporter = _costline_exporter(k8s)
    assert exporter["resolver"]["k8s"]["ports"] == [defaults.grpc_port]


def test_readme_names_every_config_and_the_costline_ports() -> None:
    readme = (CONFIG_DIR / "README.md").read_text(encoding="utf-8")
    defaults = ServeConfig()
    for path in CONFIGS:
        assert path.name in readme
    for port in (defaults.grpc_port, defaults.http_port, defaults.metrics_port):
        assert str(port) in readme
    for old, new in (("otlp", "otlp_grpc"), ("otlphttp", "otlp_http"), ("loadbalancing", "load_balancing")):
        assert f"`{old}`" in readme
        assert f"`{new}`" in readme
