"""deploy/compose.yaml, validated statically (no Docker engine here: `docker compose up` cannot run).

Referenced files exist, ports and flags agree between the services, costline's environment is a valid
`costline serve` configuration, and Mimir/Grafana are set up the way the dashboards assume.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from costline_processor.budgets import load_budgets
from costline_processor.config import ENV_PREFIX, FIELD_NAMES, ServeConfig, load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
_ENV = re.compile(r"\$\{env:([A-Z0-9_]+)(?::-([^}]*))?\}")


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = _yaml(COMPOSE)
    return data


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path for bind mounts (named volumes skipped)."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[target] = (DEPLOY / source).resolve()
    return mounts


def _collector_config(compose: dict[str, Any]) -> dict[str, Any]:
    service = compose["services"]["otelcol"]
    mounts = _mounts(service)
    text = mounts["/etc/otelcol-contrib/config.yaml"].read_text(encoding="utf-8")
    env = service["environment"]
    config: dict[str, Any] = yaml.safe_load(_ENV.sub(lambda m: str(env.get(m.group(1), m.group(2))), text))
    return config


def test_every_referenced_file_exists(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for container_path, host_path in _mounts(service).items():
            assert host_path.exists(), f"{name}: {host_path} (mounted at {container_path}) does not exist"
        if "build" in service:
            context = (DEPLOY / service["build"]["context"]).resolve()
            assert (context / service["build"]["dockerfile"]).is_file()
            dockerfile = (context / service["build"]["dockerfile"]).read_text(encoding="utf-8")
            for source in re.findall(r"^COPY (.+) \S+$", dockerfile, re.MULTILINE):
                for item in source.split():
                    assert (context / item).exists(), f"Dockerfile copies missing {item}"


def test_images_are_pinned_and_published_ports_do_not_collide(compose: dict[str, Any]) -> None:
    published: list[str] = []
    for name, service in compose["services"].items():
        if "image" in service:
            assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+", service["image"]), f"{name}: pin a version"
        published += [port.split(":")[0] for port in service.get("ports", [])]
        for dependency in service.get("depends_on", []):
            assert dependency in compose["services"]
    assert len(published) == len(set(published))


def test_costline_environment_is_a_valid_serve_config(compose: dict[str, Any]) -> None:
    service = compose["services"]["costline"]
    env = dict(service["environment"])
    for key in env:
        assert key.startswith(ENV_PREFIX), key
        assert key.removeprefix(ENV_PREFIX).lower() in FIELD_NAMES, key
    # Container paths of mounted files -> the files in the repository, so load_config can check they exist.
    mounts = _mounts(service)
    env = {k: str(mounts.get(v, v)) for k, v in env.items()}
    config = load_config(env=env)
    defaults = ServeConfig()
    assert (config.grpc_port, config.http_port, config.metrics_port) == (
        defaults.grpc_port,
        defaults.http_port,
        defaults.metrics_port,
    )
    assert config.grpc_host == config.metrics_host == "0.0.0.0"  # reachable from the other containers
    assert config.traces_endpoint == "http://tempo:4317"
    assert config.traces_protocol == "grpc"
    assert config.metrics_endpoint == "http://mimir:9009/otlp/v1/metrics"
    assert dict(config.metrics_headers) == {"X-Scope-OrgID": "costline"}
    assert f"{defaults.metrics_port}:{defaults.metrics_port}" in service["ports"]
    budgets = load_budgets(mounts["/etc/costline/budgets.yaml"])
    assert budgets.monthly
    assert all(amount > 0 for amount in budgets.monthly.values())


def test_collector_points_at_compose_services(compose: dict[str, Any]) -> None:
    assert _mounts(compose["services"]["otelcol"])["/etc/otelcol-contrib/config.yaml"] == (
        ROOT / "collector-config" / "otelcol-costline.yaml"
    )
    config = _collector_config(compose)
    exporters = config["exporters"]
    host, port = exporters["otlp_grpc/costline"]["endpoint"].split(":")
    assert host == "costline"
    assert int(port) == ServeConfig().grpc_port
    assert exporters["otlp_grpc/tempo"]["endpoint"] == "tempo:4317"
    assert exporters["otlp_http/mimir"]["endpoint"] == "http://mimir:9009/otlp"
    assert exporters["otlp_http/mimir"]["headers"] == {"X-Scope-OrgID": "costline"}
    queue_dir = config["extensions"]["file_storage/costline_queue"]["directory"]
    assert any(v.endswith(f":{queue_dir}") for v in compose["services"]["otelcol"]["volumes"])
    receivers = config["receivers"]["otlp"]["protocols"]
    for protocol in ("grpc", "http"):
        port = receivers[protocol]["endpoint"].rsplit(":", 1)[1]
        assert f"{port}:{port}" in compose["services"]["otelcol"]["ports"]


def test_tempo_receives_otlp_on_the_port_its_clients_use(compose: dict[str, Any]) -> None:
    tempo = _yaml(_mounts(compose["services"]["tempo"])["/etc/tempo/tempo.yaml"])
    grpc = tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert grpc.endswith(":4317")
    assert tempo["server"]["http_listen_port"] == 3200
    datasources = _yaml(ROOT / "dashboards/provisioning/datasources/costline.yaml")["datasources"]
    tempo_ds = next(d for d in datasources if d["type"] == "tempo")
    assert tempo_ds["url"] == "http://tempo:3200"


def test_mimir_enables_what_the_dashboards_assume(compose: dict[str, Any]) -> None:
    service = compose["services"]["mimir"]
    mounts = _mounts(service)
    mimir = _yaml(mounts["/etc/mimir/mimir.yaml"])
    assert mimir["multitenancy_enabled"] is True
    assert mimir["limits"]["otel_metric_suffixes_enabled"] is True
    assert mimir["limits"]["max_global_exemplars_per_user"] > 0
    assert mimir["server"]["http_listen_port"] == 9009
    rules_dir = mimir["ruler_storage"]["local"]["directory"]
    rules = mounts[f"{rules_dir}/costline/costline.rules.yaml"]
    assert rules == ROOT / "dashboards/rules/costline.rules.yaml"
    datasources = _yaml(ROOT / "dashboards/provisioning/datasources/costline.yaml")["datasources"]
    mimir_ds = next(d for d in datasources if d["type"] == "prometheus")
    assert mimir_ds["url"] == "http://mimir:9009/prometheus"
    assert mimir_ds["secureJsonData"]["httpHeaderValue1"] == "costline"  # the tenant the writers use


def test_grafana_mounts_the_generated_provisioning(compose: dict[str, Any]) -> None:
    mounts = _mounts(compose["services"]["grafana"])
    assert mounts["/etc/grafana/provisioning/datasources"] == ROOT / "dashboards/provisioning/datasources"
    assert mounts["/etc/grafana/provisioning/dashboards"] == ROOT / "dashboards/provisioning/dashboards"
    provider = _yaml(ROOT / "dashboards/provisioning/dashboards/costline.yaml")["providers"][0]
    dashboards = {target: host for target, host in mounts.items() if target.endswith(".json")}
    assert {host.name for host in dashboards.values()} == {
        "llm-cost-finance.json",
        "llm-cost-engineering.json",
    }
    assert all(Path(target).parent == Path(provider["options"]["path"]) for target in dashboards)
    home = compose["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home in dashboards


def test_readme_has_the_command_and_says_what_was_not_run() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "docker compose -f deploy/compose.yaml up -d --build" in readme
    assert "http://localhost:3000" in readme
    assert "has never been run" in readme
