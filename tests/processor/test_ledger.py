"""The ledger records every LLM call once, durably, with totals that are exact to the last digit.

Every test that is not about SQLite itself runs on both backends (fixture `ledger_url`: a SQLite file, a
database on a real PostgreSQL).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from _ledger_backends import BACKENDS, execute_raw, open_writer
from _ledger_factories import T0, make_call, priced, unpriced
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costline.attributes import UNATTRIBUTED
from costline_processor import metric_names as names
from costline_processor.ledger import Ledger, LedgerLockedError, LedgerSchemaError, LedgerStore
from costline_processor.ledger.store import NS_PER_DAY, REDELIVERY_GRACE_NS
from costline_processor.model import Outcome, Usage
from postgres_server import PostgresServer


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[LedgerStore]:
    with open_writer(ledger_url) as ledger:
        yield ledger


def test_totals_are_the_exact_sum_of_the_calls(ledger: LedgerStore) -> None:
    calls = [
        priced(make_call(1), input="0.1", cache_read="0", cache_write="0", output="0.2"),
        priced(
            make_call(2), input="0.000000075", cache_read="0.0000000375", cache_write="0", output="0.0000003"
        ),
        priced(
            make_call(3),
            input="1234.5678901234567890123",
            cache_read="0",
            cache_write="0.00000001",
            output="0",
        ),
    ]
    ledger.record(calls)

    totals = ledger.totals()
    # Hand-computed: float would say 0.30000000000000004 for the first call alone.
    assert totals.cost[names.TOKEN_INPUT] == Decimal("1234.6678901984567890123")
    assert totals.cost[names.TOKEN_CACHE_READ] == Decimal("0.0000000375")
    assert totals.cost[names.TOKEN_CACHE_WRITE] == Decimal("0.00000001")
    assert totals.cost[names.TOKEN_OUTPUT] == Decimal("0.2000003")
    assert totals.cost_total == Decimal("1234.8678905459567890123")
    rows = list(ledger.iter_calls())
    assert sum(Decimal(str(row["cost_total"])) for row in rows) == totals.cost_total
    assert Decimal(str(rows[1]["cost_input"])) == Decimal("0.000000075")  # exact decimal strings
    assert totals.requests == 3
    assert totals.tokens == {"input": 1800, "cache_read": 900, "cache_write": 300, "output": 600}
    assert ledger.verify() == []


def test_a_row_keeps_every_fact_of_the_call(ledger: LedgerStore) -> None:
    usage = Usage(input_tokens=500, output_tokens=90, cache_read_tokens=100, cache_write_tokens=50,
                  cache_write_1h_tokens=20, reasoning_tokens=40)  # fmt: skip
    call = make_call(
        7, workflow="claims", feature="triage", tenant="acme", user="ana@example.com", usage=usage
    )
    ledger.record([priced(call)])

    (row,) = ledger.iter_calls()
    assert row["trace_id"] == call.trace_id
    assert row["span_id"] == call.span_id
    assert (row["workflow_id"], row["feature_id"], row["tenant_id"], row["user_id"]) == (
        "claims", "triage", "acme", "ana@example.com",
    )  # fmt: skip
    assert (row["tokens_input"], row["tokens_cache_read"], row["tokens_cache_write"]) == (350, 100, 50)
    assert (row["tokens_cache_write_1h"], row["tokens_output"], row["tokens_reasoning"]) == (20, 90, 40)
    assert row["response_id"] == "resp-7"
    assert row["time_ns"] == call.start_time_ns
    assert row["pricing_source"] == "test-prices-1"
    assert row["source"] == "costline"
    assert row["service_name"] == "checkout"
    assert row["service_instance_id"] == "app-1"


def test_missing_attribution_is_unattributed(ledger: LedgerStore) -> None:
    ledger.record([priced(make_call(1, workflow=None))])
    (aggregate,) = ledger.iter_aggregates()
    assert aggregate.labels[:3] == (UNATTRIBUTED, UNATTRIBUTED, UNATTRIBUTED)


def test_a_redelivered_batch_is_recognised_and_not_counted_again(ledger: LedgerStore) -> None:
    batch = [priced(make_call(n)) for n in range(5)]
    outcomes = [Outcome(b"t" * 16, b"s" * 8, T0, "support", "resolved", 3)]
    first = ledger.record(batch, outcomes)
    before = ledger.totals()

    again = ledger.record(batch, outcomes)

    assert [item.status for item in first.items] == ["new"] * 5
    assert [item.status for item in again.items] == ["redelivered"] * 5
    assert [item.canonical_span_id for item in again.items] == [p.call.span_id for p in batch]
    assert (len(again.new_outcomes), again.duplicate_outcomes) == (0, 1)
    assert ledger.totals() == before
    assert [o.count for o in ledger.iter_outcome_aggregates()] == [3]


def test_a_span_repeated_inside_one_batch_counts_once(ledger: LedgerStore) -> None:
    call = priced(make_call(1))
    result = ledger.record([call, call])
    assert [item.status for item in result.items] == ["new", "redelivered"]
    assert ledger.totals().requests == 1


def test_the_same_call_on_two_spans_counts_once(ledger: LedgerStore) -> None:
    # The anthropic SDK's own span and costline's span of one call: same trace, same response id.
    ours = make_call(1, trace=42, response_id="msg_01")
    sdk_span = make_call(2, trace=42, response_id="msg_01")
    later_span = make_call(3, trace=42, response_id="msg_01")
    other_trace = make_call(4, trace=43, response_id="msg_01")

    first = ledger.record([priced(ours), priced(sdk_span)])
    second = ledger.record([priced(later_span), priced(other_trace)])

    assert [item.status for item in first.items] == ["new", "duplicate_call"]
    assert first.items[1].canonical_span_id == ours.span_id
    assert [item.status for item in second.items] == ["duplicate_call", "new"]
    assert second.items[0].canonical_span_id == ours.span_id
    assert ledger.totals().requests == 2


def test_calls_without_response_id_are_told_apart_by_span(ledger: LedgerStore) -> None:
    calls = [priced(make_call(n, trace=9, response_id=None)) for n in range(3)]
    assert [item.status for item in ledger.record(calls).items] == ["new"] * 3


def test_unpriced_calls_are_recorded_with_their_reason(ledger: LedgerStore) -> None:
    ledger.record([
        unpriced(make_call(1, model="mystery-model"), names.REASON_UNKNOWN_MODEL),
        unpriced(make_call(2, usage=None), names.REASON_NO_USAGE),
        unpriced(make_call(3), names.REASON_INVALID_USAGE),
        priced(make_call(4, error_type="RateLimitError")),
    ])  # fmt: skip
    rows = list(ledger.iter_calls())
    assert [row["unpriced_reason"] for row in rows] == ["unknown_model", "no_usage", "invalid_usage", None]
    assert rows[0]["cost_total"] is None
    assert rows[3]["status"] == names.STATUS_ERROR
    totals = ledger.totals()
    assert (totals.requests, totals.unpriced) == (4, 3)
    # tokens: the priced call and the unknown-model call count theirs; invalid usage counts none
    assert totals.tokens == {"input": 1200, "cache_read": 600, "cache_write": 200, "output": 400}


def test_restart_keeps_totals_identity_and_order(ledger_url: str) -> None:
    first = open_writer(ledger_url)
    first.record([priced(make_call(n, workflow=f"wf{n % 3}")) for n in range(6)])
    totals, aggregates = first.totals(), list(first.iter_aggregates())
    instance_id, first_record_ns = first.instance_id, first.first_record_ns
    first.close()

    reopened = open_writer(ledger_url)
    assert reopened.totals() == totals
    assert list(reopened.iter_aggregates()) == aggregates
    assert (reopened.instance_id, reopened.first_record_ns) == (instance_id, first_record_ns)
    reopened.record([priced(make_call(100, workflow="wf_new"))])
    assert [a.labels[0] for a in reopened.iter_aggregates()] == ["wf0", "wf1", "wf2", "wf_new"]
    assert reopened.record([priced(make_call(1, workflow="wf1"))]).items[0].status == "redelivered"
    reopened.close()


def test_retention_purges_rows_but_never_the_cumulative_totals(
    ledger_url: str, request: pytest.FixtureRequest
) -> None:
    ledger = open_writer(ledger_url, retention_days=30)
    request.addfinalizer(ledger.close)
    now = T0 + 10 * NS_PER_DAY  # today, midnight
    old = [priced(make_call(n, start_ns=now - 40 * NS_PER_DAY + n)) for n in range(4)]
    recent = [priced(make_call(n, start_ns=now - 1 * NS_PER_DAY + n)) for n in range(10, 13)]
    won = Outcome(b"o" * 16, b"1" * 8, now - 40 * NS_PER_DAY, "support", "won", 2)
    ledger.record(old, [won], received_ns=now - 40 * NS_PER_DAY)  # retention counts from when they arrived
    ledger.record(recent, received_ns=now - 1 * NS_PER_DAY)
    before = ledger.totals()

    purged = ledger.purge_older_than(now - 30 * NS_PER_DAY)

    assert (purged.calls, purged.outcomes) == (4, 1)
    assert [row["span_id"] for row in ledger.iter_calls()] == [p.call.span_id for p in recent]
    assert ledger.totals() == before  # counters seeded from the ledger never go backwards
    assert [o.count for o in ledger.iter_outcome_aggregates()] == [2]
    assert ledger.verify() == []  # cumulative == rolled-up purged rows + remaining rows, exactly
    assert ledger.totals(since_ns=0, until_ns=2**62).requests == 3  # a report over stored rows
    assert ledger.purge_older_than(now - 30 * NS_PER_DAY).calls == 0
    later = now + REDELIVERY_GRACE_NS + 31 * NS_PER_DAY
    assert ledger.purge_older_than(now_ns=later).calls == 3  # default cutoff: now - retention_days


def test_verify_detects_a_total_that_does_not_match_the_rows(ledger: LedgerStore, ledger_url: str) -> None:
    ledger.record([priced(make_call(1))])
    execute_raw(ledger, ledger_url, "UPDATE calls SET cost_output = '0.0020000001'")
    (problem,) = ledger.verify()
    assert "cumulative" in problem


def test_a_failed_batch_is_rolled_back_completely(ledger: LedgerStore) -> None:
    committed = priced(make_call(0))
    ledger.record([committed])  # not yet checkpointed into the totals
    good = priced(make_call(1))
    bad = priced(make_call(2), output="NaN")
    with pytest.raises(ValueError, match="finite"):
        ledger.record([good, bad])
    assert [row["span_id"] for row in ledger.iter_calls()] == [committed.call.span_id]
    assert ledger.totals().requests == 1
    assert [item.status for item in ledger.record([good]).items] == ["new"]
    assert ledger.totals().requests == 2
    assert ledger.totals().cost_total == Decimal("0.008")
    assert ledger.verify() == []


def test_one_ledger_file_has_one_writer_and_any_number_of_readers(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with Ledger(path) as writer:
        writer.record([priced(make_call(1))])  # pending: not checkpointed into the totals yet
        # Two writers would each checkpoint calls into the same totals: a second writer is refused...
        with pytest.raises(LedgerLockedError, match=f"in use by pid {os.getpid()} "):
            Ledger(path, read_only=False)
        # ...and a Ledger opened while the writer runs (a report) is read-only but sees everything.
        with Ledger(path) as reader:
            assert reader.read_only
            assert reader.totals() == writer.totals()
            assert reader.totals().requests == 1
            with pytest.raises(LedgerLockedError, match="read-only"):
                reader.record([priced(make_call(2))])
            with pytest.raises(LedgerLockedError, match="read-only"):
                reader.purge_older_than(0)
        assert writer.totals().requests == 1
    with Ledger(path, read_only=False) as again:  # free again once closed
        assert not again.read_only


def test_concurrent_writers_are_serialised(ledger: LedgerStore) -> None:
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for batch in range(20):
                base = worker * 10_000 + batch * 10
                ledger.record([priced(make_call(base + i)) for i in range(10)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert ledger.totals().requests == 800
    assert ledger.totals().cost_total == Decimal("0.004") * 800
    assert ledger.verify() == []


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    Ledger(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version=99")
    with pytest.raises(LedgerSchemaError, match="newer"):
        Ledger(path)


def test_the_ledger_is_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        assert ledger.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert ledger.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="retention_days"):
        Ledger(tmp_path / "a.sqlite3", retention_days=0)
    with pytest.raises(ValueError, match="synchronous"):
        Ledger(tmp_path / "b.sqlite3", synchronous="OFF")  # type: ignore[arg-type]


_money = st.decimals(min_value=0, max_value=1000, places=12, allow_nan=False, allow_infinity=False)


@contextmanager
def fresh_ledger_url(backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new ledger per hypothesis example (function-scoped fixtures would be shared by the examples)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield str(Path(directory) / "ledger.sqlite3")
        return
    postgres: PostgresServer = request.getfixturevalue("postgres")
    name = f"h_{uuid.uuid4().hex[:16]}"
    try:
        yield postgres.create_database(name)
    finally:
        postgres.drop_database(name)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(costs=st.lists(st.tuples(_money, _money, _money, _money), min_size=1, max_size=30))
def test_any_costs_sum_exactly_across_checkpoints_and_restarts(
    backend: str, request: pytest.FixtureRequest, costs: list[tuple[Decimal, ...]]
) -> None:
    with fresh_ledger_url(backend, request) as url:
        calls = [
            priced(make_call(n, workflow=f"wf{n % 3}"), *(str(part) for part in parts))
            for n, parts in enumerate(costs)
        ]
        with open_writer(url) as ledger:
            for start in range(0, len(calls), 7):
                ledger.record(calls[start : start + 7])
                if start % 2:
                    ledger.checkpoint()
            live = ledger.totals()
        with open_writer(url) as ledger:
            assert ledger.totals() == live
            assert ledger.verify() == []
            rows = list(ledger.iter_calls())
    assert live.cost_total == sum((sum(parts, Decimal(0)) for parts in costs), Decimal(0))
    assert sum(Decimal(str(row["cost_total"])) for row in rows) == live.cost_total


def test_a_file_that_is_not_a_ledger_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with closing(sqlite3.connect(path)) as other:
        other.execute("CREATE TABLE t (x)")
    with pytest.raises(LedgerSchemaError, match="not a costline ledger"):
        Ledger(path, read_only=True)
