"""Which endpoint a request path names: OpenAI (plain and Azure), Anthropic (plain, Vertex AI), Gemini (the
Gemini API's `/{version}/models/{model}:verb` and Vertex AI's publisher-model paths), Bedrock Runtime
(`/model/{modelId}/converse`, `converse-stream`, `invoke`, `invoke-with-response-stream`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

Provider = Literal["openai", "anthropic", "gemini", "bedrock"]
Endpoint = Literal[
    "chat",
    "responses",
    "embeddings",
    "completions",
    "models",
    "messages",
    "count_tokens",
    "generate_content",
    "embed_content",
    "batch_embed_contents",
    "predict_embeddings",
    "gemini_count_tokens",
    "converse",
    "invoke",
]


@dataclass(frozen=True)
class Route:
    provider: Provider
    endpoint: Endpoint
    model: str | None = None  # from the path (Azure deployment, Vertex/Bedrock model), else from the body
    force_stream: bool = (
        False  # Vertex's :streamRawPredict, Gemini's :streamGenerateContent, Bedrock's streams
    )


_AZURE = re.compile(r"^/openai/deployments/(?P<model>[^/]+)/(?P<rest>.+)$")
_VERTEX = re.compile(
    r"^(?:/v1(?:beta1)?)?/projects/[^/]+/locations/[^/]+/publishers/anthropic/models/"
    r"(?P<model>[^/]+):(?P<verb>rawPredict|streamRawPredict)$"
)
# The google-genai SDK's paths: Gemini API `/v1beta/models/{model}:verb`, Vertex AI
# `/v1beta1/projects/{p}/locations/{l}/publishers/google/models/{model}:verb`.
_GEMINI = re.compile(
    r"^/v1(?:alpha|beta|beta1)?/(?:projects/[^/]+/locations/[^/]+/publishers/google/)?models/"
    r"(?P<model>[^/:]+):(?P<verb>[A-Za-z]+)$"
)
_GEMINI_VERBS: dict[str, Endpoint] = {
    "generateContent": "generate_content",
    "streamGenerateContent": "generate_content",
    "embedContent": "embed_content",
    "batchEmbedContents": "batch_embed_contents",
    "predict": "predict_embeddings",
    "countTokens": "gemini_count_tokens",
}
# Bedrock Runtime: the model id (or an ARN, with its `/` and `:` percent-encoded) is one path segment.
_BEDROCK = re.compile(
    r"^/model/(?P<model>[^/]+)/(?P<verb>converse|converse-stream|invoke|invoke-with-response-stream)$"
)
_BEDROCK_VERBS: dict[str, tuple[Endpoint, bool]] = {
    "converse": ("converse", False),
    "converse-stream": ("converse", True),
    "invoke": ("invoke", False),
    "invoke-with-response-stream": ("invoke", True),
}
_OPENAI_SUFFIXES: tuple[tuple[str, Endpoint], ...] = (
    ("/chat/completions", "chat"),
    ("/responses", "responses"),
    ("/embeddings", "embeddings"),
    ("/completions", "completions"),
)


def route(method: str, path: str) -> Route | None:
    """The endpoint for ``method path`` (path without the query string), or None when nothing serves it."""
    if method == "GET":
        return Route("openai", "models") if path.rstrip("/").endswith("/models") else None
    if method != "POST":
        return None
    return _gemini(path) or _bedrock(path) or _anthropic(path) or _openai(path)


def _bedrock(path: str) -> Route | None:
    match = _BEDROCK.match(path)
    if match is None:
        return None
    endpoint, stream = _BEDROCK_VERBS[match["verb"]]
    return Route("bedrock", endpoint, unquote(match["model"]), force_stream=stream)


def _gemini(path: str) -> Route | None:
    match = _GEMINI.match(path)
    if match is None or match["verb"] not in _GEMINI_VERBS:
        return None
    endpoint = _GEMINI_VERBS[match["verb"]]
    return Route(
        "gemini", endpoint, unquote(match["model"]), force_stream=match["verb"] == "streamGenerateContent"
    )


def _anthropic(path: str) -> Route | None:
    trimmed = path.rstrip("/")
    if trimmed in ("/v1/messages", "/messages"):
        return Route("anthropic", "messages")
    if trimmed in ("/v1/messages/count_tokens", "/messages/count_tokens"):
        return Route("anthropic", "count_tokens")
    if match := _VERTEX.match(path):
        model = unquote(match["model"])
        if model == "count-tokens":
            return Route("anthropic", "count_tokens")
        return Route("anthropic", "messages", model, force_stream=match["verb"] == "streamRawPredict")
    return None


def _openai(path: str) -> Route | None:
    model: str | None = None
    if match := _AZURE.match(path):
        model, path = unquote(match["model"]), "/" + match["rest"]
    for suffix, endpoint in _OPENAI_SUFFIXES:
        if path.rstrip("/").endswith(suffix):
            return Route("openai", endpoint, model)
    return None
