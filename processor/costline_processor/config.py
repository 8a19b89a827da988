"""`costline serve` configuration: one frozen dataclass, defaults in one place, validated at start-up.

Precedence: command-line option > environment variable `COSTLINE_<FIELD>` > YAML file (`--config`, keys are
the field names) > the defaults below. Every bad value is reported at once, one line per field.
The README's configuration table is generated from this module (`costline serve --print-config-table`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from costline_processor.config_fields import (
    choice_meta,
    option_meta,
    parse_bool,
    parse_float_in,
    parse_headers,
    parse_int_in,
    parse_ledger_option,
    parse_optional_existing_file,
    parse_optional_path,
    parse_optional_text,
    parse_optional_url,
    parse_positive_float,
    parse_text,
)
from costline_processor.ledger.url import redact
from costline_processor.yaml_errors import yaml_syntax_problem

ENV_PREFIX: Final = "COSTLINE_"
DEFAULT_LEDGER: Final = "costline-data/ledger.sqlite3"
TRACES_PROTOCOLS: Final = ("grpc", "http")
LOG_LEVELS: Final = ("debug", "info", "warning", "error")


class ConfigError(Exception):
    """One or more configuration values are invalid; `errors` holds one message per bad field."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """Every option of `costline serve`. The defaults here are the only defaults."""

    # fmt: off
    grpc_host: str = field(default="127.0.0.1", metadata=option_meta(
        "Address the OTLP/gRPC trace receiver listens on (`0.0.0.0` in a container).", parse_text))
    grpc_port: int = field(default=4327, metadata=option_meta(
        "OTLP/gRPC trace receiver port (not 4317, which a local collector usually holds; 0 picks one).",
        parse_int_in(0, 65535)))
    http_host: str = field(default="127.0.0.1", metadata=option_meta(
        "Address the OTLP/HTTP trace receiver (`POST /v1/traces`) listens on.", parse_text))
    http_port: int = field(default=4328, metadata=option_meta(
        "OTLP/HTTP trace receiver port (not 4318; 0 picks one).", parse_int_in(0, 65535)))
    metrics_host: str = field(default="127.0.0.1", metadata=option_meta(
        "Address of the admin endpoint: `/metrics`, `/healthz`, `/readyz`, `/v1/budgets`.", parse_text))
    metrics_port: int = field(default=9464, metadata=option_meta(
        "Port of the admin endpoint: `/metrics`, `/healthz`, `/readyz`, `/v1/budgets` (0 picks one).",
        parse_int_in(0, 65535)))
    tls_cert: Path | None = field(default=None, metadata=option_meta(
        "PEM certificate for both receivers; set together with `tls_key` to serve TLS.",
        parse_optional_existing_file))
    tls_key: Path | None = field(default=None, metadata=option_meta(
        "PEM private key for `tls_cert`.", parse_optional_existing_file))
    tls_handshake_timeout_s: float = field(default=10.0, metadata=option_meta(
        "With TLS, seconds a new connection has to complete its TLS handshake (gRPC: and to send its "
        "HTTP/2 preface); then it is closed, so idle or slow connections cannot hold the receivers.",
        parse_float_in(0.1, 3600)))
    bearer_token: str | None = field(default=None, metadata=option_meta(
        "When set, the receivers and `GET /v1/budgets` require `Authorization: Bearer <token>` (else"
        " UNAUTHENTICATED / 401).",
        parse_optional_text, secret=True))
    max_message_bytes: int = field(default=16 * 1024 * 1024, metadata=option_meta(
        "Largest accepted export request, after decompression (else RESOURCE_EXHAUSTED / 413).",
        parse_int_in(1024, 1024 * 1024 * 1024)))
    max_inflight_batches: int = field(default=16, metadata=option_meta(
        "Export requests processed at once; more are refused with RESOURCE_EXHAUSTED / 429 and a retry "
        "delay, so the collector retries from its queue.", parse_int_in(1, 4096)))
    traces_endpoint: str | None = field(default=None, metadata=option_meta(
        "Where enriched spans go (Tempo): `http://tempo:4317` for gRPC, `http://tempo:4318` for HTTP "
        "(`/v1/traces` is appended when the URL has no path). Unset: spans are priced, not forwarded.",
        parse_optional_url))
    traces_protocol: str = field(default="grpc", metadata=choice_meta(
        "OTLP protocol for `traces_endpoint` (`http` sends protobuf).", TRACES_PROTOCOLS))
    traces_headers: tuple[tuple[str, str], ...] = field(default=(), metadata=option_meta(
        "Headers sent with forwarded spans, `k1=v1,k2=v2` (e.g. `X-Scope-OrgID=acme`).", parse_headers,
        shown_default="none", secret=True))
    traces_timeout_s: float = field(default=10.0, metadata=option_meta(
        "Timeout of one forward to `traces_endpoint`, seconds.", parse_positive_float))
    metrics_endpoint: str | None = field(default=None, metadata=option_meta(
        "OTLP/HTTP metrics URL (Mimir: `http://mimir:9009/otlp/v1/metrics`). Unset: no push.",
        parse_optional_url))
    metrics_headers: tuple[tuple[str, str], ...] = field(default=(), metadata=option_meta(
        "Headers sent with pushed metrics, `k1=v1,k2=v2`.", parse_headers, shown_default="none", secret=True))
    metrics_interval_s: float = field(default=15.0, metadata=option_meta(
        "Seconds between metrics pushes to `metrics_endpoint`.", parse_positive_float))
    prometheus: bool = field(default=True, metadata=option_meta(
        "Serve `/metrics`: the cost metrics and costline's own counters in Prometheus text format "
        "(OpenMetrics with trace exemplars when the scraper asks for it).", parse_bool))
    ledger_url: str = field(default=DEFAULT_LEDGER, metadata=option_meta(
        "Ledger of priced calls, the source of truth for totals: a SQLite file (one per replica) or "
        "`postgresql://user@host/db`, one database shared by every replica (docs/serve.md).",
        parse_ledger_option))
    ledger_path: Path | None = field(default=None, metadata=option_meta(
        "The former name of `ledger_url`, for a SQLite file path (set one of the two).", parse_optional_path))
    ledger_wait_s: float = field(default=60.0, metadata=option_meta(
        "At start-up, seconds to wait for a shared (PostgreSQL) ledger whose database does not answer yet"
        " (down, failing over, still starting); then exit 1. 0: do not wait.",
        parse_float_in(0, 86400)))
    retention_days: int = field(default=400, metadata=option_meta(
        "Days of per-call rows kept in the ledger (totals are kept).", parse_int_in(1, 36500)))
    price_overrides: Path | None = field(default=None, metadata=option_meta(
        "YAML price overrides (self-hosted models, negotiated rates); see docs/pricing.md.",
        parse_optional_existing_file))
    budgets: Path | None = field(default=None, metadata=option_meta(
        "YAML budgets per workflow, feature and/or tenant, daily or monthly, with alerts and a stop"
        " (docs/budgets.md): served at `GET /v1/budgets`, exported as `llm_budget_*`.",
        parse_optional_existing_file))
    label_limit: int = field(default=500, metadata=option_meta(
        "Distinct values kept per attribution label; more are counted under `__overflow__`.",
        parse_int_in(1, 1_000_000)))
    service_instance_id: str | None = field(default=None, metadata=option_meta(
        "`service.instance.id` of this replica on pushed metrics, and the id of its rows and counters in a "
        "shared PostgreSQL ledger (one per replica); keep it stable across restarts.",
        parse_optional_text, shown_default="the SQLite ledger's id; the host name on PostgreSQL"))
    log_level: str = field(default="info", metadata=choice_meta(
        "Level of costline's own log (stderr).", LOG_LEVELS))
    shutdown_grace_s: float = field(default=10.0, metadata=option_meta(
        "On SIGTERM, seconds to finish in-flight requests before closing.", parse_positive_float))
    # fmt: on

    def __post_init__(self) -> None:
        # `ledger_path` is the former name: it names the ledger when `ledger_url` is not set.
        if self.ledger_path is not None and self.ledger_url == DEFAULT_LEDGER:
            object.__setattr__(self, "ledger_url", str(self.ledger_path))


FIELDS: Final = tuple(dataclasses.fields(ServeConfig))
FIELD_NAMES: Final = frozenset(f.name for f in FIELDS)
_FIELDS_BY_NAME: Final = {f.name: f for f in FIELDS}


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def cli_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def load_config(
    cli_values: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> ServeConfig:
    """Merge the sources (CLI > env > file > defaults) and validate; raise `ConfigError` with every problem.

    `cli_values` maps field names to raw values, None meaning "not given".
    """
    errors: list[str] = []
    raw: dict[str, tuple[object, str]] = {}
    if config_file is not None:
        raw.update(_read_file(config_file, errors))
    for name in FIELD_NAMES:
        if env is not None and env_name(name) in env:
            raw[name] = (env[env_name(name)], env_name(name))
    for name, value in (cli_values or {}).items():
        if value is not None:
            raw[name] = (value, cli_flag(name))
    values: dict[str, object] = {}
    for f in FIELDS:
        if f.name not in raw:
            continue
        value, origin = raw[f.name]
        try:
            values[f.name] = f.metadata["parse"](value)
        except ValueError as exc:
            errors.append(f"{f.name} ({origin}): {exc}")
    errors.extend(_ledger_alias_errors(values, raw))
    config = ServeConfig(**values)  # type: ignore[arg-type]
    errors.extend(_cross_field_errors(config))
    if errors:
        raise ConfigError(errors)
    return config


def _read_file(path: Path, errors: list[str]) -> dict[str, tuple[object, str]]:
    origin = str(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(f"config file {path}: cannot read it: {exc}")
        return {}
    except yaml.YAMLError as exc:
        errors.append(f"config file {yaml_syntax_problem(path, exc)}")
        return {}
    if document is None:
        return {}
    if not isinstance(document, dict):
        errors.append(f"config file {path}: expected a mapping of option names to values")
        return {}
    found: dict[str, tuple[object, str]] = {}
    for key, value in document.items():
        if key not in FIELD_NAMES:
            errors.append(f"{key} ({origin}): unknown option")
        elif value is not None:
            found[key] = (value, origin)
    return found


def _ledger_alias_errors(values: dict[str, object], raw: Mapping[str, tuple[object, str]]) -> list[str]:
    """`ledger_path` (the former name) and `ledger_url` may both be set only when they name one ledger."""
    url, path = values.get("ledger_url"), values.get("ledger_path")
    if url is None or path is None or url == str(path):
        return []
    origins = f"{raw['ledger_path'][1]}, {raw['ledger_url'][1]}"
    return [
        f"ledger_path/ledger_url ({origins}): name two different ledgers ({path}, {redact(str(url))});"
        " set ledger_url only"
    ]


def _cross_field_errors(config: ServeConfig) -> list[str]:
    errors = []
    if (config.tls_cert is None) != (config.tls_key is None):
        errors.append("tls_cert/tls_key: set both or neither")
    ports = [
        (config.grpc_host, config.grpc_port, "grpc_port"),
        (config.http_host, config.http_port, "http_port"),
        (config.metrics_host, config.metrics_port, "metrics_port"),
    ]
    seen: dict[tuple[str, int], str] = {}
    for host, port, name in ports:
        if port and (host, port) in seen:
            errors.append(f"{name}: {host}:{port} is also {seen[host, port]}")
        seen.setdefault((host, port), name)
    return errors


def config_table() -> str:
    """The README's configuration table (markdown), generated from the dataclass."""
    lines = [
        "| option | env | default | meaning |",
        "|---|---|---|---|",
    ]
    for f in FIELDS:
        meaning = f.metadata["help"]
        if f.metadata["choices"]:
            meaning += " One of " + ", ".join(f"`{choice}`" for choice in f.metadata["choices"]) + "."
        lines.append(f"| `{cli_flag(f.name)}` | `{env_name(f.name)}` | {_table_default(f)} | {meaning} |")
    return "\n".join(lines) + "\n"


def choices(name: str) -> tuple[str, ...]:
    """The fixed choices of option `name`, or () when it takes any value its parser accepts."""
    result: tuple[str, ...] = _FIELDS_BY_NAME[name].metadata["choices"]
    return result


def default_text(name: str) -> str | None:
    """Option `name`'s default as `--help` shows it, or None when it is unset."""
    f = _FIELDS_BY_NAME[name]
    if f.metadata["shown_default"] is not None:
        return str(f.metadata["shown_default"])
    if f.default is None:
        return None
    if isinstance(f.default, bool):
        return str(f.default).lower()
    relative_path = isinstance(f.default, Path) or f.metadata["parse"] is parse_ledger_option
    if relative_path and not Path(str(f.default)).is_absolute():
        return f"./{f.default}"  # relative to the directory costline runs in: say so
    return str(f.default)


def _table_default(f: dataclasses.Field[Any]) -> str:
    if f.metadata["shown_default"] is not None:
        return str(f.metadata["shown_default"])
    text = default_text(f.name)
    return "unset" if text is None else f"`{text}`"


def redacted(config: ServeConfig) -> dict[str, object]:
    """The config as a dict for the start-up log, secrets masked."""
    shown: dict[str, object] = {}
    for f in FIELDS:
        value = getattr(config, f.name)
        if f.metadata["secret"] and value:
            value = "***" if isinstance(value, str) else {key: "***" for key, _ in value}
        elif f.name == "ledger_url":
            value = redact(value)  # a PostgreSQL URL may hold a password
        shown[f.name] = str(value) if isinstance(value, Path) else value
    return shown
