"""Which provider a client talks to (`gen_ai.provider.name`), from its class and its base URL's host.

The OpenAI SDK is the lingua franca of LLM APIs, so an `openai.OpenAI` client may be talking to Groq,
DeepSeek, a self-hosted vLLM... The host decides; a host we do not know is `PROVIDER_SELF_HOSTED`
(`openai_compatible`; the processor then infers the model's maker from the model id). An Anthropic client
with an unknown host is `anthropic` (a gateway or proxy in front of Anthropic, as the SDK itself labels it),
except for the Bedrock and Vertex client classes. `COSTLINE_PROVIDER_OVERRIDES` (a host, an SDK's calls to a
host, or a URL prefix: `costline._provider_overrides`) wins over everything.

A `google-genai` client is `gcp.vertex_ai` in Vertex AI mode and `gcp.gemini` otherwise, whatever its host
(a proxy in front of either is still that API); a boto3 `bedrock-runtime` client is `aws.bedrock`, with its
region.

Detection runs once per client and base URL (cached weakly on the client), not per call.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from opentelemetry.util.types import AttributeValue

from costline import attributes as a
from costline._provider_overrides import SDK_BOTO3, SDK_GOOGLE_GENAI, ProviderOverrides

# (host suffix, provider): a host matches when it equals the suffix or ends with "." + suffix.
_HOSTS: Final[tuple[tuple[str, str], ...]] = (
    ("api.openai.com", a.PROVIDER_OPENAI),
    ("openai.azure.com", a.PROVIDER_AZURE_OPENAI),
    ("cognitiveservices.azure.com", a.PROVIDER_AZURE_OPENAI),
    ("api.anthropic.com", a.PROVIDER_ANTHROPIC),
    ("api.groq.com", a.PROVIDER_GROQ),
    ("api.deepseek.com", a.PROVIDER_DEEPSEEK),
    ("api.x.ai", a.PROVIDER_X_AI),
    ("api.mistral.ai", a.PROVIDER_MISTRAL_AI),
    ("openrouter.ai", a.PROVIDER_OPENROUTER),
    ("api.together.xyz", a.PROVIDER_TOGETHER),
    ("api.together.ai", a.PROVIDER_TOGETHER),
    ("api.fireworks.ai", a.PROVIDER_FIREWORKS),
    ("api.perplexity.ai", a.PROVIDER_PERPLEXITY),
    ("generativelanguage.googleapis.com", a.PROVIDER_GEMINI),
    ("aiplatform.googleapis.com", a.PROVIDER_GCP_VERTEX_AI),
    ("amazonaws.com", a.PROVIDER_AWS_BEDROCK),
)

# Client classes whose provider does not depend on the host (checked by name: no SDK import needed).
_CLASSES: Final[Mapping[str, str]] = {
    "AzureOpenAI": a.PROVIDER_AZURE_OPENAI,
    "AsyncAzureOpenAI": a.PROVIDER_AZURE_OPENAI,
    "AnthropicBedrock": a.PROVIDER_AWS_BEDROCK,
    "AsyncAnthropicBedrock": a.PROVIDER_AWS_BEDROCK,
    "AnthropicBedrockMantle": a.PROVIDER_AWS_BEDROCK,
    "AsyncAnthropicBedrockMantle": a.PROVIDER_AWS_BEDROCK,
    "AnthropicVertex": a.PROVIDER_GCP_VERTEX_AI,
    "AsyncAnthropicVertex": a.PROVIDER_GCP_VERTEX_AI,
}

_DEFAULT_PORTS: Final[Mapping[str, int]] = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a client sends its calls; `attributes` are ready to go on a span."""

    provider: str
    address: str
    port: int
    region: str | None = None  # an AWS client's region (`cloud.region`)

    @property
    def attributes(self) -> dict[str, AttributeValue]:
        found: dict[str, AttributeValue] = {
            a.GEN_AI_PROVIDER_NAME: self.provider,
            a.SERVER_ADDRESS: self.address,
            a.SERVER_PORT: self.port,
        }
        if self.region:
            found[a.CLOUD_REGION] = self.region
        return found


def provider_for_host(host: str, default: str) -> str:
    """The provider serving `host`, `default` when the host is not a known vendor's."""
    host = host.lower().rstrip(".")
    for suffix, provider in _HOSTS:
        if host == suffix or host.endswith("." + suffix):
            return provider
    return default


def provider_for_class(client_type: type) -> str | None:
    for klass in client_type.__mro__:
        provider = _CLASSES.get(klass.__name__)
        if provider is not None:
            return provider
    return None


def detect(client: Any, default: str, overrides: ProviderOverrides) -> Endpoint:
    """The endpoint of an openai/anthropic client object (both expose `base_url` as an httpx URL)."""
    url = client.base_url
    host = str(url.host)
    port = url.port or _DEFAULT_PORTS.get(str(url.scheme), 443)
    sdk = type(client).__module__.partition(".")[0]  # "openai" or "anthropic": the client's package
    provider = (
        overrides.provider_for(sdk, str(url), host)
        or provider_for_class(type(client))
        or provider_for_host(host, default)
    )
    return Endpoint(provider=provider, address=host, port=int(port))


def detect_genai(api_client: Any, default: str, overrides: ProviderOverrides) -> Endpoint:
    """The endpoint of a google-genai `BaseApiClient` (its base URL is a plain string in its http options)."""
    base_url = str(api_client._http_options.base_url or "")
    url = urlsplit(base_url)
    host = url.hostname or ""
    port = url.port or _DEFAULT_PORTS.get(url.scheme, 443)
    provider = a.PROVIDER_GCP_VERTEX_AI if api_client.vertexai else a.PROVIDER_GEMINI
    overridden = overrides.provider_for(SDK_GOOGLE_GENAI, base_url, host)
    return Endpoint(provider=overridden or provider, address=host, port=int(port))


def detect_bedrock(meta: Any, default: str, overrides: ProviderOverrides) -> Endpoint:
    """The endpoint of a botocore client, from its `meta` (endpoint URL and region): `aws.bedrock` whatever
    the host (a VPC endpoint or a proxy in front of Bedrock Runtime is still Bedrock)."""
    endpoint_url = str(meta.endpoint_url or "")
    url = urlsplit(endpoint_url)
    host = url.hostname or ""
    port = url.port or _DEFAULT_PORTS.get(url.scheme, 443)
    provider = overrides.provider_for(SDK_BOTO3, endpoint_url, host) or default
    region = meta.region_name
    return Endpoint(provider, host, int(port), region if type(region) is str and region else None)


# (client, default provider, overrides) -> endpoint: `detect` for openai/anthropic, `detect_genai`, ...
Detector = Callable[[Any, str, ProviderOverrides], Endpoint]


class EndpointCache:
    """`detect` memoised per client object and base URL object (a client's base_url can be reassigned)."""

    __slots__ = ("_cache", "_default", "_detect", "_fixed", "_overrides")

    def __init__(
        self,
        default: str,
        overrides: ProviderOverrides,
        fixed: Mapping[str, AttributeValue] | None = None,
        detector: Detector = detect,
    ) -> None:
        self._detect = detector
        self._default = default
        self._overrides = overrides
        self._fixed = dict(fixed or {})
        self._cache: weakref.WeakKeyDictionary[Any, tuple[object, dict[str, AttributeValue]]] = (
            weakref.WeakKeyDictionary()
        )

    def attributes(self, client: Any) -> dict[str, AttributeValue]:
        """The endpoint's span attributes plus the fixed ones (a shared dict: copy, never mutate)."""
        url = getattr(client, "_base_url", None)
        try:
            cached = self._cache.get(client)
        except TypeError:  # an unhashable client: detect every time
            return {**self._detect(client, self._default, self._overrides).attributes, **self._fixed}
        if cached is not None and cached[0] is url:
            return cached[1]
        endpoint = self._detect(client, self._default, self._overrides)
        endpoint_attributes = {**endpoint.attributes, **self._fixed}
        self._cache[client] = (url, endpoint_attributes)
        return endpoint_attributes
