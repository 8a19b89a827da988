"""Prices never come from the network, and nothing else in the process can swap them under us."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from decimal import Decimal

import pytest
from genai_prices import data_snapshot

from costline_processor.model import Cost, LlmCall, Usage
from costline_processor.pricing import Pricer

# Runs in a fresh interpreter so every import (genai-prices and its 1.5 MB data module included) happens with
# all socket use failing loudly.
NO_NETWORK = textwrap.dedent(
    """
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError(f"network use: {args!r}")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    from decimal import Decimal
    from costline_processor.model import LlmCall, Usage
    from costline_processor.pricing import Pricer

    pricer = Pricer.load()
    start = 1_762_000_000 * 10**9
    usage = Usage(1_000_000, 0)
    call = LlmCall(b"t", b"s", start, 0, "costline", "openai", "chat", "gpt-4o", None, None, usage)
    assert pricer.price(call).total == Decimal("2.5"), pricer.price(call)
    pricer.describe("claude-sonnet-4-5", "anthropic")
    print("offline ok")
    """
)


def test_loading_and_pricing_use_no_network() -> None:
    done = subprocess.run(
        [sys.executable, "-c", NO_NETWORK], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "offline ok"


@pytest.fixture
def hostile_global_snapshot() -> Iterator[None]:
    """What genai-prices' auto-updater (or another library) does: replace the process-wide price snapshot."""
    data_snapshot.set_custom_snapshot(data_snapshot.DataSnapshot(providers=[], from_auto_update=True))
    try:
        yield
    finally:
        data_snapshot.set_custom_snapshot(None)


@pytest.mark.usefixtures("hostile_global_snapshot")
def test_a_swapped_global_snapshot_does_not_change_our_prices() -> None:
    # gpt-4o: $2.50 per million input tokens (openai.com/api/pricing)
    start = 1_762_000_000 * 10**9
    call = LlmCall(
        b"t", b"s", start, 0, "costline", "openai", "chat", "gpt-4o", None, None, Usage(1_000_000, 0)
    )
    result = Pricer.load().price(call)
    assert isinstance(result, Cost)
    assert result.total == Decimal("2.5")
