"""A local fake LLM provider speaking the OpenAI, Anthropic, Gemini and Bedrock Runtime wire formats (JSON,
SSE streaming, and the AWS event stream of Bedrock).

Tests point the real ``openai``/``anthropic``/``google-genai``/``boto3`` clients at it; users run it as
``costline mock-provider``::

    with MockProvider() as server:
        server.default = MockBehaviour(usage=MockUsage(input_tokens=120, cache_read_tokens=100))
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        assert server.requests[-1].path == "/v1/chat/completions"

Usage is configured in the semconv (inclusive) model and converted to each provider's wire format.
A process that only knows the URL can set one call's behaviour with the ``USAGE_HEADER`` and
``BEHAVIOUR_HEADER`` request headers (JSON objects of ``MockUsage`` / ``MockBehaviour`` fields).
"""

from costline_processor.mock_provider.behaviour import (
    MockBehaviour,
    MockToolCall,
    MockUsage,
    RecordedRequest,
)
from costline_processor.mock_provider.overrides import BEHAVIOUR_HEADER, USAGE_HEADER
from costline_processor.mock_provider.server import MockProvider

__all__ = [
    "BEHAVIOUR_HEADER",
    "USAGE_HEADER",
    "MockBehaviour",
    "MockProvider",
    "MockToolCall",
    "MockUsage",
    "RecordedRequest",
]
