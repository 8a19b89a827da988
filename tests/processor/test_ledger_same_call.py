"""Spans that share a (trace, response id) are one call only when they describe the same call.

Servers repeat ids (Ollama's OpenAI API answers `chatcmpl-<0..998>`; gateways and embedding endpoints send
constant ids), so the ledger collapses two spans only when they also name the same model, report the same
usage and overlap in time, as an SDK's own span and an instrumentation's span of one call do. Every other
span with a taken id is a call of its own, counted, and counted as a collision.

`make_call(n)` starts at T0 + n ms and lasts 500 ms: calls less than 500 apart overlap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from _ledger_backends import open_writer
from _ledger_factories import make_call, priced

from costline_processor.ledger import LedgerStore
from costline_processor.model import LlmCall, Usage

SMALL = Usage(input_tokens=1_000, output_tokens=100)
LARGE = Usage(input_tokens=50_000, output_tokens=100)


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[LedgerStore]:
    with open_writer(ledger_url) as opened:
        yield opened


def span_of(call: LlmCall, n: int, **changes: object) -> LlmCall:
    """Another span (span id from `n`) of `call`, as a second instrumentation records it."""
    return replace(call, span_id=(10_000 + n).to_bytes(8, "big"), **changes)  # type: ignore[arg-type]


def statuses(ledger: LedgerStore, *calls: LlmCall) -> list[str]:
    return [item.status for item in ledger.record([priced(c) for c in calls]).items]


@pytest.mark.parametrize("together", [True, False], ids=["one request", "two requests"])
def test_two_calls_with_one_response_id_are_both_counted(ledger: LedgerStore, together: bool) -> None:
    small = make_call(1, trace=7, response_id="chatcmpl-7", usage=SMALL)
    large = make_call(2_000, trace=7, response_id="chatcmpl-7", usage=LARGE)  # two seconds later
    if together:
        result = ledger.record([priced(small), priced(large)])
        items, collisions = result.items, result.response_id_collisions
    else:
        first, second = ledger.record([priced(small)]), ledger.record([priced(large)])
        items, collisions = first.items + second.items, second.response_id_collisions
    assert [item.status for item in items] == ["new", "new"]
    assert collisions == 1
    totals = ledger.totals()
    assert totals.requests == 2
    assert totals.tokens["input"] == 51_000
    assert [row["response_id"] for row in ledger.iter_calls()] == ["chatcmpl-7", "chatcmpl-7"]
    assert ledger.verify() == []


def test_identical_calls_one_after_the_other_with_a_constant_id_are_two_calls(ledger: LedgerStore) -> None:
    # an embeddings gateway answering every request with the same id: same model, same usage
    first = make_call(1, trace=8, response_id="embd-1", usage=SMALL)
    second = make_call(600, trace=8, response_id="embd-1", usage=SMALL)  # starts after the first ended
    assert statuses(ledger, first, second) == ["new", "new"]
    assert ledger.totals().requests == 2


def test_other_models_with_one_response_id_are_two_calls(ledger: LedgerStore) -> None:
    call = make_call(1, trace=9, response_id="same")
    assert statuses(ledger, call, span_of(call, 1, request_model="gpt-4o-mini", response_model=None)) == [
        "new",
        "new",
    ]


def test_an_instrumentation_naming_the_requested_model_only_sees_the_same_call(ledger: LedgerStore) -> None:
    ours = replace(make_call(1, trace=9, response_id="msg_01"), request_model="claude-sonnet-4-0",
                   response_model="claude-sonnet-4-20250514")  # fmt: skip
    peer = span_of(ours, 1, response_model=None, start_time_ns=ours.start_time_ns + 1_000)
    result = ledger.record([priced(ours), priced(peer)])
    assert [item.status for item in result.items] == ["new", "duplicate_call"]
    assert result.items[1].canonical_span_id == ours.span_id
    assert result.response_id_collisions == 0


def test_what_instrumentations_leave_out_does_not_make_two_calls(ledger: LedgerStore) -> None:
    usage = Usage(input_tokens=2_000, output_tokens=250, cache_read_tokens=900, cache_write_tokens=600,
                  cache_write_1h_tokens=200, reasoning_tokens=100)  # fmt: skip
    ours = make_call(1, trace=10, response_id="msg_02", usage=usage)
    # the peers' documented gaps (test_peer_spans.py): no 1-hour share, no thinking tokens, +1 output token
    peer = span_of(
        ours, 1, usage=replace(usage, cache_write_1h_tokens=0, reasoning_tokens=0, output_tokens=251)
    )
    two_more = span_of(ours, 2, usage=replace(usage, output_tokens=252))
    assert statuses(ledger, ours, peer, two_more) == ["new", "duplicate_call", "new"]


def test_a_span_without_usage_never_hides_a_priced_one(ledger: LedgerStore) -> None:
    ours = make_call(1, trace=11, response_id="chatcmpl-x")
    blind = span_of(ours, 1, usage=None)
    blind_too = span_of(ours, 2, usage=None)
    assert statuses(ledger, blind, ours, blind_too) == ["new", "new", "duplicate_call"]
    assert ledger.totals().tokens["input"] == ours.usage.uncached_input_tokens  # type: ignore[union-attr]


def test_empty_response_ids_never_dedupe(ledger: LedgerStore) -> None:
    call = make_call(1, trace=12, response_id="")
    assert statuses(ledger, call, span_of(call, 1), span_of(call, 2)) == ["new", "new", "new"]


def test_each_of_two_calls_with_one_id_keeps_its_second_span(ledger: LedgerStore) -> None:
    # Ollama repeating an id in one trace, with two instrumentations on: four spans, two calls
    small = make_call(1, trace=13, response_id="chatcmpl-3", usage=SMALL)
    large = make_call(2_000, trace=13, response_id="chatcmpl-3", usage=LARGE)
    first = ledger.record([priced(small), priced(span_of(small, 1)), priced(large)])
    second = ledger.record([priced(span_of(large, 2))])  # the collision's second span, in a later request
    assert [item.status for item in first.items + second.items] == [
        "new",
        "duplicate_call",
        "new",
        "duplicate_call",
    ]
    assert second.items[0].canonical_span_id == large.span_id
    assert (first.response_id_collisions, second.response_id_collisions) == (1, 0)
    assert ledger.totals().requests == 2


def test_a_purged_call_hands_its_response_id_to_the_next_call_that_shares_it(ledger_url: str) -> None:
    with open_writer(ledger_url, retention_days=30) as ledger:
        small = make_call(1, trace=14, response_id="chatcmpl-4", usage=SMALL)
        large = make_call(2_000, trace=14, response_id="chatcmpl-4", usage=LARGE)
        ledger.record([priced(small)], received_ns=small.start_time_ns - 1)
        ledger.record([priced(large)], received_ns=large.start_time_ns + 10**9)
        assert ledger.purge_older_than(large.start_time_ns).calls == 1  # the first call's row is gone
        assert statuses(ledger, span_of(large, 3)) == ["duplicate_call"]  # the second is still recognised
        assert ledger.totals().requests == 2
        assert ledger.verify() == []
