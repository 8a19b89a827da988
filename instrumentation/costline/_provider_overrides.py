"""`COSTLINE_PROVIDER_OVERRIDES`: the `gen_ai.provider.name` of calls to a host or URL, for any SDK or one.

One gateway often fronts several providers (a company gateway, a LiteLLM proxy), so an entry can name the SDK
as well as the target. Entries are `TARGET=provider`, where TARGET is one of:

- `host`: every SDK's calls to that host (`gateway.internal=openai`);
- `sdk@host`: only the calls of one SDK, `openai`, `anthropic`, `google-genai`, `litellm` or `boto3`
  (its package):
  `openai@gateway.internal=openai,anthropic@gateway.internal=anthropic`;
- a URL prefix, `http(s)://host[:port][/path]`, optionally `sdk@` too: calls whose base URL starts with it
  (`https://gateway.internal/anthropic=anthropic`).

The most specific entry wins: a URL prefix over a host (the longer prefix first), then one naming the SDK
over one that does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

SDK_OPENAI: Final = "openai"
SDK_ANTHROPIC: Final = "anthropic"
SDK_GOOGLE_GENAI: Final = "google-genai"  # the distribution's name: its import package is `google.genai`
SDK_LITELLM: Final = "litellm"  # LiteLLM's SDK (`litellm.completion`, ...), whichever provider it routes to
SDK_BOTO3: Final = "boto3"  # boto3/botocore `bedrock-runtime` clients
SDKS: Final = (SDK_OPENAI, SDK_ANTHROPIC, SDK_GOOGLE_GENAI, SDK_LITELLM, SDK_BOTO3)
_SCHEMES: Final = ("http", "https")


@dataclass(frozen=True, slots=True)
class OverrideRule:
    """One entry: calls of `sdk` (None: any) to `host`, or to a base URL under `url_prefix`."""

    sdk: str | None
    host: str | None
    url_prefix: str | None
    provider: str

    def matches(self, sdk: str, base_url: str, host: str) -> bool:
        if self.sdk is not None and self.sdk != sdk:
            return False
        if self.url_prefix is not None:
            return base_url == self.url_prefix or base_url.startswith(self.url_prefix + "/")
        return host == self.host

    @property
    def specificity(self) -> tuple[int, int, int]:
        """Sort key, most specific first: URL prefixes (longest first), then hosts; SDK-specific first."""
        prefix = self.url_prefix or ""
        return (-int(self.url_prefix is not None), -len(prefix), -int(self.sdk is not None))


@dataclass(frozen=True, slots=True)
class ProviderOverrides:
    """The parsed entries, most specific first; `provider_for` is what endpoint detection asks."""

    rules: tuple[OverrideRule, ...] = ()

    @classmethod
    def from_mapping(cls, entries: Mapping[str, str]) -> ProviderOverrides:
        """`{TARGET: provider}` (module docstring); raises `ValueError` naming a malformed entry."""
        rules = [parse_rule(target, provider) for target, provider in entries.items()]
        return cls(tuple(sorted(rules, key=lambda rule: rule.specificity)))

    def provider_for(self, sdk: str, base_url: str, host: str) -> str | None:
        """The overriding provider for a client of `sdk` with `base_url` (host included), else None."""
        if not self.rules:
            return None
        url = _normal_url(base_url)
        lowered = host.lower().rstrip(".")
        return next((rule.provider for rule in self.rules if rule.matches(sdk, url, lowered)), None)


def parse_rule(target: str, provider: str) -> OverrideRule:
    """One `TARGET=provider` entry; raises `ValueError` with what is wrong."""
    entry = f"{target}={provider}"
    target, provider = target.strip(), provider.strip()
    if not target or not provider:
        raise ValueError(f"provider override {entry!r} is not TARGET=provider")
    sdk: str | None = None
    head, at, rest = target.partition("@")
    if at and head.strip().lower() in SDKS:
        sdk, target = head.strip().lower(), rest.strip()
    elif at and "://" not in head:
        expected = ", ".join(SDKS)
        raise ValueError(f"provider override {entry!r}: unknown SDK {head!r} (expected one of {expected})")
    if not target:
        raise ValueError(f"provider override {entry!r} names no host or URL")
    if "://" in target:
        parts = urlsplit(target)
        if parts.scheme.lower() not in _SCHEMES or not parts.hostname:
            raise ValueError(f"provider override {entry!r}: {target!r} is not an http(s) URL")
        return OverrideRule(sdk, None, _normal_url(target), provider)
    if "/" in target or ":" in target:
        raise ValueError(
            f"provider override {entry!r}: {target!r} is not a host name (for a port or a path, give a URL"
            " prefix such as http://127.0.0.1:8000)"
        )
    return OverrideRule(sdk, target.lower().rstrip("."), None, provider)


def _normal_url(url: str) -> str:
    return url.strip().lower().rstrip("/")
