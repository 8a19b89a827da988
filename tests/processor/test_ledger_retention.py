"""Retention and dedupe never depend on a time the sender controls.

Rows are purged by the time their span last arrived (the ledger's clock), so a span's dedupe key lives
at least `retention_days` after its last delivery, whatever start time it claims; nothing is purged in
the first hour after the ledger is opened, so a batch resent after downtime is still recognised. A start
time that is unset (0), older than the retention or more than a day ahead is not used: the call is placed
at its arrival (reports see it) and flagged.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from _ledger_backends import fetch_raw, open_writer
from _ledger_factories import T0, make_call, priced

from costline_processor.ledger import NS_PER_DAY, LedgerStore, PurgeResult
from costline_processor.ledger.store import REDELIVERY_GRACE_NS
from costline_processor.model import LlmCall, Outcome

HOUR = 3_600 * 10**9
NOTHING = PurgeResult(calls=0, outcomes=0)


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[LedgerStore]:
    with open_writer(ledger_url, retention_days=30) as opened:
        yield opened


def started_at(n: int, start_ns: int, end_ns: int | None = None) -> LlmCall:
    return replace(make_call(n), start_time_ns=start_ns, end_time_ns=start_ns if end_ns is None else end_ns)


def after_grace(ledger: LedgerStore, days: float) -> int:
    """A clock reading `days` after now, and after the redelivery grace of the just-opened ledger."""
    return time.time_ns() + REDELIVERY_GRACE_NS + int(days * NS_PER_DAY)


def test_a_span_that_starts_at_0_is_kept_and_recognised_when_it_comes_again(ledger: LedgerStore) -> None:
    call = priced(started_at(1, 0))
    first = ledger.record([call])
    assert first.items[0].start_time_out_of_range
    (row,) = ledger.iter_calls()
    assert row["time_ns"] == row["end_time_ns"] == row["received_ns"]  # placed at its arrival
    assert ledger.purge_older_than(now_ns=after_grace(ledger, 1)).calls == 0  # it arrived just now

    again = ledger.record([call])

    assert [item.status for item in again.items] == ["redelivered"]
    assert ledger.totals().requests == 1
    (seen_again,) = ledger.iter_calls()
    assert seen_again["time_ns"] == row["time_ns"] < int(str(seen_again["received_ns"]))
    day = time.time_ns() - NS_PER_DAY
    assert ledger.totals(since_ns=day).requests == 1  # a windowed report sees it, as the metrics do


def test_retention_counts_from_when_a_span_last_arrived(ledger: LedgerStore) -> None:
    now = T0 + 10 * NS_PER_DAY
    cutoff = now - 20 * NS_PER_DAY
    # arrived before the cutoff, starting after it (its sender's clock half a day ahead)
    gone = priced(make_call(1, start_ns=cutoff + 11 * HOUR))
    # arrived after the cutoff, starting before it (a late span)
    kept = priced(make_call(2, start_ns=cutoff - 5 * NS_PER_DAY))
    ledger.record([gone], received_ns=cutoff - HOUR)
    ledger.record([kept], received_ns=now)

    assert ledger.purge_older_than(cutoff).calls == 1

    assert [row["span_id"] for row in ledger.iter_calls()] == [kept.call.span_id]
    assert [row["time_ns"] for row in ledger.iter_calls()] == [kept.call.start_time_ns]


def test_a_redelivery_keeps_the_dedupe_key_for_another_retention_period(ledger: LedgerStore) -> None:
    now = T0 + 10 * NS_PER_DAY
    call, outcome = priced(make_call(1, start_ns=now)), Outcome(b"t" * 16, b"o" * 8, now, "support", "won", 1)
    ledger.record([call], [outcome], received_ns=now - 40 * NS_PER_DAY)
    # still being resent 20 days later (the trace backend refused the batch all along, say)
    assert (
        ledger.record([call], [outcome], received_ns=now - 20 * NS_PER_DAY).items[0].status == "redelivered"
    )

    assert ledger.purge_older_than(now - 30 * NS_PER_DAY) == NOTHING

    again = ledger.record([call], [outcome], received_ns=now)
    assert (again.items[0].status, again.duplicate_outcomes) == ("redelivered", 1)
    assert ledger.totals().requests == 1
    assert [o.count for o in ledger.iter_outcome_aggregates()] == [1]


def test_nothing_is_purged_in_the_first_hour_after_opening(ledger: LedgerStore) -> None:
    ledger.record([priced(make_call(1))], received_ns=time.time_ns() - 60 * NS_PER_DAY)
    assert ledger.purge_older_than() == NOTHING  # a collector resending after downtime must be recognised
    assert ledger.purge_older_than(now_ns=time.time_ns() + REDELIVERY_GRACE_NS - HOUR // 2) == NOTHING
    assert ledger.purge_older_than(now_ns=after_grace(ledger, 0)).calls == 1


@pytest.mark.parametrize(
    ("start_days", "end_days", "recorded_days"),
    [
        (-29, -28, (-29, -28)),  # late, within the retention: a collector's backlog, the demo's four weeks
        (-31, -31, None),  # older than the retention: recorded at its arrival
        (0.5, 0.6, (0.5, 0.6)),  # the sender's clock a little ahead
        (2, 2, None),  # more than a day ahead
        (-1, 3, (-1, -1)),  # an end more than a day ahead is the start
        (-1, -2, (-1, -1)),  # so is an end before the start
    ],
)
def test_which_start_times_are_used(
    ledger: LedgerStore, start_days: float, end_days: float, recorded_days: tuple[float, float] | None
) -> None:
    received = T0 + 10 * NS_PER_DAY
    start, end = (received + int(days * NS_PER_DAY) for days in (start_days, end_days))
    (item,) = ledger.record([priced(started_at(1, start, end))], received_ns=received).items
    (row,) = ledger.iter_calls()
    assert item.start_time_out_of_range is (recorded_days is None)
    recorded = (
        (received, received)
        if recorded_days is None
        else tuple(received + int(days * NS_PER_DAY) for days in recorded_days)
    )
    assert (row["time_ns"], row["end_time_ns"]) == recorded


def test_an_unset_start_time_is_out_of_range_whatever_the_retention(ledger_url: str) -> None:
    with open_writer(ledger_url, retention_days=36_500) as ledger:
        assert ledger.record([priced(started_at(1, 0))]).items[0].start_time_out_of_range


def test_start_times_sqlite_cannot_store_do_not_block_the_batch(ledger: LedgerStore) -> None:
    # start_time_unix_nano is a fixed64: 2**64 - 1 does not fit SQLite's signed 64-bit INTEGER
    calls = [priced(started_at(1, 2**64 - 1)), priced(make_call(2)), priced(started_at(3, T0, 2**64 - 1))]
    result = ledger.record(calls)
    assert [item.start_time_out_of_range for item in result.items] == [True, False, False]
    assert ledger.totals().requests == 3
    rows = list(ledger.iter_calls())
    assert rows[2]["end_time_ns"] == T0


def test_outcomes_follow_the_same_rules(ledger: LedgerStore, ledger_url: str) -> None:
    outcome = Outcome(b"t" * 16, b"o" * 8, 0, "support", "won", 2)
    ledger.record([], [outcome])
    time.sleep(0.001)
    assert ledger.purge_older_than(now_ns=after_grace(ledger, 1)) == NOTHING
    assert ledger.record([], [outcome]).duplicate_outcomes == 1
    ((time_ns, received_ns),) = fetch_raw(ledger, ledger_url, "SELECT time_ns, received_ns FROM outcomes")
    assert time.time_ns() - HOUR < time_ns < received_ns  # placed at its first arrival, kept from its last
