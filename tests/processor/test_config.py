"""`costline serve` configuration: precedence CLI > env > file > defaults, every error reported at once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from costline_processor.commands.serve import serve
from costline_processor.config import ConfigError, ServeConfig, config_table, load_config

ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_dataclass_defaults_and_avoid_collector_ports() -> None:
    config = load_config()
    assert config == ServeConfig()
    assert (config.grpc_port, config.http_port, config.metrics_port) == (4327, 4328, 9464)
    assert config.ledger_url == "costline-data/ledger.sqlite3"
    assert config.ledger_path is None
    assert config.traces_endpoint is None
    assert config.prometheus is True


def test_cli_beats_env_beats_file_beats_default(tmp_path: Path) -> None:
    file = write(
        tmp_path / "serve.yaml", "grpc_port: 5001\nhttp_port: 5002\nmetrics_port: 5003\nlabel_limit: 7\n"
    )
    env = {"COSTLINE_HTTP_PORT": "6002", "COSTLINE_METRICS_PORT": "6003"}
    config = load_config({"metrics_port": "7003", "http_port": None}, env, file)
    assert (config.grpc_port, config.http_port, config.metrics_port) == (5001, 6002, 7003)
    assert config.label_limit == 7
    assert config.retention_days == ServeConfig().retention_days


def test_yaml_values_keep_their_types(tmp_path: Path) -> None:
    file = write(
        tmp_path / "serve.yaml",
        "prometheus: false\ntraces_headers: {X-Scope-OrgID: acme, Authorization: Bearer x}\n"
        "metrics_interval_s: 2.5\ntraces_endpoint: http://tempo:4317\ntraces_protocol: HTTP\n",
    )
    config = load_config(config_file=file)
    assert config.prometheus is False
    assert config.traces_headers == (("X-Scope-OrgID", "acme"), ("Authorization", "Bearer x"))
    assert config.metrics_interval_s == 2.5
    assert config.traces_protocol == "http"


def test_headers_from_env_use_the_otlp_headers_format() -> None:
    config = load_config(env={"COSTLINE_TRACES_HEADERS": "X-Scope-OrgID=acme, x-extra = a=b"})
    assert config.traces_headers == (("X-Scope-OrgID", "acme"), ("x-extra", "a=b"))


def test_every_bad_field_is_reported_at_once(tmp_path: Path) -> None:
    file = write(tmp_path / "serve.yaml", "grpc_port: 70000\nno_such_option: 1\n")
    env = {
        "COSTLINE_TRACES_PROTOCOL": "udp",
        "COSTLINE_PROMETHEUS": "maybe",
        "COSTLINE_TLS_CERT": str(tmp_path),
    }
    with pytest.raises(ConfigError) as caught:
        load_config({"traces_endpoint": "tempo:4317", "max_inflight_batches": "0"}, env, file)
    errors = caught.value.errors
    assert any(e.startswith("grpc_port (") and "between 0 and 65535" in e for e in errors)
    assert any(e.startswith("no_such_option (") and "unknown option" in e for e in errors)
    assert "traces_protocol (COSTLINE_TRACES_PROTOCOL): must be one of grpc, http, got 'udp'" in errors
    assert any(e.startswith("prometheus (COSTLINE_PROMETHEUS)") for e in errors)
    assert any(e.startswith("tls_cert (COSTLINE_TLS_CERT): file not found") for e in errors)
    assert any(e.startswith("traces_endpoint (--traces-endpoint)") for e in errors)
    assert any(e.startswith("max_inflight_batches (--max-inflight-batches)") for e in errors)
    assert len(errors) == 7


def test_cross_field_rules(tmp_path: Path) -> None:
    cert = write(tmp_path / "cert.pem", "x")
    with pytest.raises(ConfigError) as caught:
        load_config({"tls_cert": str(cert), "http_port": "4327"})
    assert caught.value.errors == [
        "tls_cert/tls_key: set both or neither",
        "http_port: 127.0.0.1:4327 is also grpc_port",
    ]


def test_unreadable_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        load_config(config_file=tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(config_file=write(tmp_path / "list.yaml", "- 1\n"))


def test_cli_reports_errors_with_exit_code_2_and_no_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        serve,
        ["--grpc-port", "x", "--traces-protocol", "udp", "--no-prometheus"],
        env={"COSTLINE_RETENTION_DAYS": "-1"},
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 3
    assert all(line.startswith("costline serve: config error: ") for line in lines)
    assert "Traceback" not in result.output


def test_the_defaults_help_shows_do_not_hide_the_environment_or_the_config_file(tmp_path: Path) -> None:
    """`--help` shows every default, but only options typed on the command line beat env and file."""
    file = write(tmp_path / "serve.yaml", "traces_protocol: udp\n")
    result = CliRunner().invoke(
        serve, ["--config", str(file)], env={"COSTLINE_LOG_LEVEL": "loud", "COSTLINE_GRPC_PORT": None}
    )
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"costline serve: config error: traces_protocol ({file}): must be one of grpc, http, got 'udp'",
        "costline serve: config error: log_level (COSTLINE_LOG_LEVEL): must be one of debug, info, warning,"
        " error, got 'loud'",
    ]


def test_every_option_has_a_cli_flag_and_env_var() -> None:
    flags = {opt for param in serve.params for opt in param.opts}
    for f in dataclasses.fields(ServeConfig):
        assert f"--{f.name.replace('_', '-')}" in flags
        assert f"COSTLINE_{f.name.upper()}" in config_table()


def test_print_config_table_prints_the_generated_table() -> None:
    result = CliRunner().invoke(serve, ["--print-config-table"])
    assert result.exit_code == 0
    assert result.output == config_table()


@pytest.mark.parametrize("document", ["README.md", "docs/serve.md"])
def test_the_docs_hold_the_current_config_table(document: str) -> None:
    """Regenerate with `costline serve --print-config-table` when an option changes."""
    text = (ROOT / document).read_text(encoding="utf-8")
    assert config_table() in text, (
        f"{document}'s option table is stale: paste `costline serve --print-config-table`"
    )


def test_tls_handshake_timeout_is_a_bounded_number_of_seconds() -> None:
    assert load_config({"tls_handshake_timeout_s": "0.5"}).tls_handshake_timeout_s == 0.5
    assert ServeConfig().tls_handshake_timeout_s == 10.0
    for bad in ("0", "-1", "nan", "inf", "3601", "soon"):
        with pytest.raises(ConfigError) as caught:
            load_config(env={"COSTLINE_TLS_HANDSHAKE_TIMEOUT_S": bad})
        (error,) = caught.value.errors
        assert error.startswith("tls_handshake_timeout_s (COSTLINE_TLS_HANDSHAKE_TIMEOUT_S): "), error
        assert "between 0.1 and 3600" in error or "expected a number" in error, error
