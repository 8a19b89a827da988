"""The instrumentation's settings, read from the environment once per `instrument()` call.

- `COSTLINE_CAPTURE_CONTENT` (default `false`): `true` records prompts and completions
  (`gen_ai.input.messages`, `gen_ai.output.messages`), each capped at `MAX_CONTENT_CHARS`.
- `COSTLINE_INJECT_STREAM_USAGE` (default `true`): `false` never adds `stream_options.include_usage`
  to OpenAI-style streaming requests (see `costline.openai_chat`).
- `COSTLINE_PROVIDER_OVERRIDES` (default empty): `TARGET=provider,...`, the `gen_ai.provider.name` for
  calls to a host, an SDK's calls to a host (`openai@gateway.internal`) or a URL prefix
  (`costline._provider_overrides` has the syntax): an internal gateway, a local test server.
- `COSTLINE_BUDGETS_*`: the budget guard (`costline._budget_settings` reads them; docs/budgets.md).

Precedence: explicit `instrument(...)` keyword > environment variable > default. A bad environment value
is logged and defaulted; a bad explicit argument raises `ValueError`.

One setting is process-wide, not per `instrument()`: it decides what `costline.workflow`, the span
processor and the wrappers read, and is read once, on first use.

- `COSTLINE_TRUST_INBOUND_BAGGAGE` (default `true`): `false` ignores attribution keys that arrived in
  baggage from outside the process (the W3C `baggage` header of an inbound request, extracted by the web
  framework's instrumentation); only `costline.workflow()` entered in this process attributes its work.
  For services anyone can call: otherwise a caller picks the tenant its spend is billed to.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from costline._provider_overrides import ProviderOverrides

logger = logging.getLogger("costline")

ENV_CAPTURE_CONTENT: Final = "COSTLINE_CAPTURE_CONTENT"
ENV_INJECT_STREAM_USAGE: Final = "COSTLINE_INJECT_STREAM_USAGE"
ENV_PROVIDER_OVERRIDES: Final = "COSTLINE_PROVIDER_OVERRIDES"
# The budget guard: set the URL to turn it on (a `costline serve` admin port, or a Prometheus query API).
ENV_BUDGETS_URL: Final = "COSTLINE_BUDGETS_URL"
ENV_BUDGETS_TOKEN: Final = "COSTLINE_BUDGETS_TOKEN"
ENV_BUDGETS_REFRESH_S: Final = "COSTLINE_BUDGETS_REFRESH_S"
ENV_BUDGETS_MAX_STALENESS_S: Final = "COSTLINE_BUDGETS_MAX_STALENESS_S"
ENV_BUDGETS_TIMEOUT_S: Final = "COSTLINE_BUDGETS_TIMEOUT_S"
ENV_BUDGETS_FAIL: Final = "COSTLINE_BUDGETS_FAIL"
ENV_BUDGETS_ENFORCE: Final = "COSTLINE_BUDGETS_ENFORCE"
ENV_TRUST_INBOUND_BAGGAGE: Final = "COSTLINE_TRUST_INBOUND_BAGGAGE"

# Captured content is for debugging, not archiving: each attribute is cut to this many characters.
MAX_CONTENT_CHARS: Final = 16_384

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True, slots=True)
class Settings:
    """What the wrappers need to know about the user's choices; immutable, captured at instrument time."""

    capture_content: bool = False
    inject_stream_usage: bool = True
    provider_overrides: ProviderOverrides = field(default_factory=ProviderOverrides)


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    logger.warning("costline: ignoring %s=%r (expected true or false); using %s", name, raw, default)
    return default


def parse_overrides(raw: str) -> ProviderOverrides:
    """`"openai@gw.internal=openai, 127.0.0.1=anthropic"` -> the parsed entries; `ValueError` if malformed."""
    entries: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        target, sep, provider = item.rpartition("=")  # a provider name has no "=", a URL might
        if not sep:
            raise ValueError(f"provider override {item.strip()!r} is not host=provider")
        entries[target] = provider
    return ProviderOverrides.from_mapping(entries)


def _env_overrides() -> ProviderOverrides:
    raw = os.environ.get(ENV_PROVIDER_OVERRIDES, "")
    try:
        return parse_overrides(raw)
    except ValueError as exc:
        logger.warning("costline: ignoring %s (%s)", ENV_PROVIDER_OVERRIDES, exc)
        return ProviderOverrides()


def load_settings(
    capture_content: bool | None = None,
    inject_stream_usage: bool | None = None,
    provider_overrides: Mapping[str, str] | None = None,
) -> Settings:
    """Explicit arguments win over the environment."""
    for name, value in (("capture_content", capture_content), ("inject_stream_usage", inject_stream_usage)):
        if value is not None and not isinstance(value, bool):
            raise ValueError(f"{name} must be a bool (got {type(value).__name__})")
    if provider_overrides is not None and not isinstance(provider_overrides, Mapping):
        raise ValueError("provider_overrides must be a mapping of host (or sdk@host, URL prefix) to provider")
    return Settings(
        capture_content=_env_bool(ENV_CAPTURE_CONTENT, False) if capture_content is None else capture_content,
        inject_stream_usage=(
            _env_bool(ENV_INJECT_STREAM_USAGE, True) if inject_stream_usage is None else inject_stream_usage
        ),
        provider_overrides=(
            _env_overrides()
            if provider_overrides is None
            else ProviderOverrides.from_mapping(provider_overrides)
        ),
    )


@functools.cache
def trust_inbound_baggage() -> bool:
    """`COSTLINE_TRUST_INBOUND_BAGGAGE`, read once per process (`.cache_clear()` makes it read again)."""
    return _env_bool(ENV_TRUST_INBOUND_BAGGAGE, True)
