"""The framework matrix: real frameworks over the real SDKs, against the fake provider, under costline.

Everything that would phone home is switched off here, before any framework is imported, and the network
guard (tests/network_guard.py) fails a test that still tries to leave 127.0.0.1:

- LiteLLM fetches its model cost map at import: `LITELLM_LOCAL_MODEL_COST_MAP=True`; its telemetry:
  `LITELLM_TELEMETRY=False`;
- the OpenAI Agents SDK exports its traces to OpenAI: `OPENAI_AGENTS_DISABLE_TRACING=1`;
- LangChain/LangSmith tracing: `LANGCHAIN_TRACING_V2=false`, `LANGSMITH_TRACING=false`;
- CrewAI's telemetry (should it be installed): `CREWAI_DISABLE_TELEMETRY=true`;
- OpenLLMetry's telemetry: `TRACELOOP_TELEMETRY=false`; tokenizer hubs: `HF_HUB_OFFLINE=1`;
- generic opt-outs some libraries honour: `DO_NOT_TRACK=1`.

Under CI=true a framework that is not installed is a failure (`importorskip` only skips elsewhere).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from types import ModuleType

import hypothesis  # noqa: F401 - see below
import pytest

import network_guard

# hypothesis' pytest plugin imports hypothesis at the session's end when no test did; after the Agents SDK
# tests, CPython 3.11.7's ast module may then fail that import under pytest's assertion rewriter with
# "SystemError: AST constructor recursion depth mismatch" (a CPython bug in its AST recursion counter, fixed
# in later 3.11 releases). Importing it here, before any test runs, keeps the session's end clean.

QUIET_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "OPENAI_AGENTS_DISABLE_TRACING": "1",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING": "false",
    "CREWAI_DISABLE_TELEMETRY": "true",
    "TRACELOOP_TELEMETRY": "false",
    "HF_HUB_OFFLINE": "1",
    "DO_NOT_TRACK": "1",
}
os.environ.update(QUIET_ENV)
# Frameworks keep their async HTTP clients in the model objects and never close them when an event loop
# ends (`asyncio.run`): the garbage collector then reports unclosed transports. That is the frameworks' way,
# not a fault of the code under test, so those warnings are not errors here (`pytestmark = LEAKY_CLIENTS`).
LEAKY_CLIENTS = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]
network_guard.install()


def require(module: str) -> ModuleType:
    """The framework module; a failure under CI=true when it is missing, a skip elsewhere."""
    if os.environ.get("CI") == "true":
        return __import__(module, fromlist=["_"])
    return pytest.importorskip(module)


@pytest.fixture(autouse=True)
def stays_on_loopback() -> Iterator[None]:
    """Fail the test if anything (even swallowed by a framework) tried to leave 127.0.0.1."""
    before = network_guard.take_refused()
    assert not before, f"network use outside a test (at import?): {before}"
    yield
    gc.collect()  # the frameworks' unclosed clients go now, under the test's LEAKY_CLIENTS filters
    attempts = network_guard.take_refused()
    assert not attempts, f"network use beyond 127.0.0.1: {attempts}"
