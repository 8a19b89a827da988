"""Real `boto3` bedrock-runtime clients pointed at the local fake provider, and a request body per model
family.

botocore retries throttling and 5xx errors (3 attempts in its standard mode); these clients try once, so a
test that makes the provider fail sees the failure at once (and each failure is one recorded request). The
credentials are dummies: botocore signs the request (SigV4) and the fake provider ignores the signature.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"
CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
# One model per InvokeModel body format the fake provider speaks.
FAMILY_MODELS = {
    "anthropic": "anthropic.claude-3-5-haiku-20241022-v1:0",
    "nova": "us.amazon.nova-pro-v1:0",
    "llama": "meta.llama3-3-70b-instruct-v1:0",
    "mistral": "mistral.mistral-large-2402-v1:0",
}
MESSAGES: list[dict[str, Any]] = [{"role": "user", "content": [{"text": "hi"}]}]


def bedrock_client(endpoint_url: str, region: str = REGION) -> Any:
    """A `bedrock-runtime` client with dummy credentials that sends every request once."""
    return boto3.client(
        "bedrock-runtime",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}),
    )


def invoke_body(family: str, max_tokens: int = 64) -> str:
    """The JSON request body of `family`'s InvokeModel format."""
    if family == "anthropic":
        body: dict[str, Any] = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": "hi"}],
        }
    elif family == "nova":
        body = {
            "schemaVersion": "messages-v1",
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "inferenceConfig": {"maxTokens": max_tokens},
        }
    elif family == "llama":
        body = {"prompt": "hi", "max_gen_len": max_tokens}
    else:
        body = {"prompt": "<s>[INST] hi [/INST]", "max_tokens": max_tokens}
    return json.dumps(body)
