"""Turn a routed request and its behaviour into the reply, per provider and endpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from costline_processor.mock_provider import (
    anthropic_wire,
    bedrock_invoke,
    bedrock_wire,
    gemini_wire,
    openai_responses,
    openai_wire,
)
from costline_processor.mock_provider.routes import Endpoint, Route
from costline_processor.mock_provider.wire import Call, Reply

_ID_PREFIX: dict[Endpoint, str] = {
    "chat": "chatcmpl-",
    "completions": "cmpl-",
    "responses": "resp_",
    "embeddings": "emb_",
    "models": "",
    "messages": "msg_",
    "count_tokens": "",
    "generate_content": "gen-",
    "embed_content": "",
    "batch_embed_contents": "",
    "predict_embeddings": "",
    "gemini_count_tokens": "",
    "converse": "bedrock-",
    "invoke": "bedrock-",
}


def response_id(endpoint: Endpoint, number: int) -> str:
    return f"{_ID_PREFIX[endpoint]}mock{number:012d}"


def error_reply(route: Route | None, status: int, message: str | None, request_id: str) -> Reply:
    if route is not None and route.provider == "anthropic":
        return anthropic_wire.error_reply(status, message, request_id)
    if route is not None and route.provider == "gemini":
        return gemini_wire.error_reply(status, message)
    if route is not None and route.provider == "bedrock":
        return bedrock_wire.error_reply(status, message)
    return openai_wire.error_reply(status, message)


def build_reply(route: Route, call: Call) -> Reply:
    return _BUILDERS[route.endpoint](call)


def _models(model: str) -> dict[str, Any]:
    entry = {"id": model, "object": "model", "created": 0, "owned_by": "costline-mock"}
    return {"object": "list", "data": [entry]}


_BUILDERS: dict[Endpoint, Callable[[Call], Reply]] = {
    "chat": openai_wire.chat_completions,
    "responses": openai_responses.responses,
    "embeddings": openai_wire.embeddings,
    "completions": openai_wire.completions,
    "models": lambda call: Reply(body=_models(call.model)),
    "messages": anthropic_wire.messages,
    "count_tokens": lambda call: Reply(body={"input_tokens": call.behaviour.usage.input_tokens}),
    "generate_content": gemini_wire.generate_content,
    "embed_content": gemini_wire.embed_content,
    "batch_embed_contents": gemini_wire.batch_embed_contents,
    "predict_embeddings": gemini_wire.predict_embeddings,
    "gemini_count_tokens": gemini_wire.count_tokens,
    "converse": bedrock_wire.converse,
    "invoke": bedrock_invoke.invoke,
}
