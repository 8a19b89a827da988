"""A PostgreSQL ledger shared by several writers (replicas), on a real PostgreSQL.

Each replica counts only the calls it recorded first, the shares sum to the ledger, and a call is counted
once whichever replicas its spans reach and however their transactions interleave: the database's UNIQUE
keys and the row lock of the careful path decide, never the order of arrival.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from decimal import Decimal
from functools import partial

import psycopg
import pytest
from _ledger_backends import back_to_version, open_writer
from _ledger_factories import make_call, priced
from click.testing import CliRunner

from costline_processor.commands.ledger import ledger as ledger_command
from costline_processor.ledger import (
    LedgerLockedError,
    LedgerSchemaError,
    LedgerStore,
    LedgerUnavailableError,
    RecordResult,
    open_ledger,
)
from costline_processor.ledger.pg.locks import lock_key
from costline_processor.ledger.pg.schema import SCHEMA_VERSION
from costline_processor.ledger.pg.store import PostgresLedger
from costline_processor.model import LlmCall, PricedCall, Usage
from postgres_server import PASSWORD, PostgresServer

ROUNDS = 12


@pytest.fixture
def replicas(pg_database: str) -> Iterator[tuple[LedgerStore, LedgerStore]]:
    with open_writer(pg_database, replica_id="a") as a, open_writer(pg_database, replica_id="b") as b:
        yield a, b


def at_once(*work: Callable[[], RecordResult]) -> list[RecordResult]:
    """Run each `work` on its own thread, released together; their results in order."""
    barrier = threading.Barrier(len(work))
    results: list[RecordResult | BaseException] = [RuntimeError("not run")] * len(work)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work[index]()
        except BaseException as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]


def span_of(call: LlmCall, n: int) -> LlmCall:
    """Another instrumentation's span of `call` (same trace, same response id)."""
    return replace(call, span_id=(50_000 + n).to_bytes(8, "big"))


def test_the_same_batch_sent_to_two_replicas_at_once_counts_once(
    replicas: tuple[LedgerStore, LedgerStore], pg_database: str
) -> None:
    a, b = replicas
    for round_ in range(ROUNDS):
        batch = [priced(make_call(round_ * 100 + n)) for n in range(20)]
        first, second = at_once(partial(a.record, batch), partial(b.record, batch))
        for one, other in zip(first.items, second.items, strict=True):
            assert {one.status, other.status} == {"new", "redelivered"}
    with open_ledger(pg_database) as reader:
        whole = reader.totals()
        assert whole.requests == ROUNDS * 20
        assert whole.cost_total == Decimal("0.004") * ROUNDS * 20  # 0.0015 + 0.000375 + 0.000125 + 0.002
        assert reader.verify() == []
    share_a, share_b = a.totals(), b.totals()
    assert share_a.requests + share_b.requests == ROUNDS * 20
    assert share_a.cost_total + share_b.cost_total == whole.cost_total


def test_the_two_spans_of_one_call_reaching_two_replicas_count_once(
    replicas: tuple[LedgerStore, LedgerStore], pg_database: str
) -> None:
    a, b = replicas
    for round_ in range(ROUNDS):
        calls = [make_call(round_ * 100 + n, trace=round_ * 100 + n) for n in range(10)]
        ours = [priced(call) for call in calls]
        sdk_spans = [priced(span_of(call, round_ * 100 + n)) for n, call in enumerate(calls)]
        first, second = at_once(partial(a.record, ours), partial(b.record, list(reversed(sdk_spans))))
        statuses = [item.status for item in first.items + second.items]
        assert statuses.count("new") == 10
        assert statuses.count("duplicate_call") == 10
    with open_ledger(pg_database) as reader:
        assert reader.totals().requests == ROUNDS * 10
        assert reader.verify() == []


def test_two_replicas_deciding_about_one_taken_response_id_count_a_new_call_once(
    replicas: tuple[LedgerStore, LedgerStore], pg_database: str
) -> None:
    # A server repeating ids: a first call holds `chatcmpl-1`; a second, different call with the same id
    # arrives on two spans (two instrumentations), one at each replica. Both must read the other's
    # decision: without the row lock each sees only the first call and both count the second one.
    a, b = replicas
    for round_ in range(ROUNDS):
        trace = 1_000 + round_
        first_call = make_call(round_ * 10_000, trace=trace, response_id="chatcmpl-1",
                               usage=Usage(input_tokens=10, output_tokens=1))  # fmt: skip
        a.record([priced(first_call)])
        second_call = make_call(round_ * 10_000 + 5_000, trace=trace, response_id="chatcmpl-1")
        spans = [priced(second_call), priced(span_of(second_call, round_))]
        first, second = at_once(partial(a.record, [spans[0]]), partial(b.record, [spans[1]]))
        assert sorted(item.status for item in first.items + second.items) == ["duplicate_call", "new"]
    with open_ledger(pg_database) as reader:
        assert reader.totals().requests == 2 * ROUNDS
        assert reader.verify() == []


def test_each_replica_resumes_its_own_counters_and_a_reader_sees_them_all(
    replicas: tuple[LedgerStore, LedgerStore], pg_database: str
) -> None:
    a, b = replicas
    a.record([priced(make_call(n, workflow="wf_a")) for n in range(3)])
    b.record([priced(make_call(n, workflow="wf_b")) for n in range(10, 15)])
    before = list(a.iter_aggregates())
    created = a.created_ns
    a.close()
    with open_writer(pg_database, replica_id="a") as restarted:
        assert list(restarted.iter_aggregates()) == before  # only its own share
        assert restarted.created_ns == created  # its series never restart
        assert restarted.totals().requests == 3
    with open_ledger(pg_database) as reader:
        assert reader.read_only
        assert [agg.labels[0] for agg in reader.iter_aggregates()] == ["wf_a", "wf_b"]
        assert reader.totals().requests == 8
        assert {row["replica"] for row in reader.iter_calls()} == {"a", "b"}
        with pytest.raises(LedgerLockedError, match="read-only"):
            reader.record([priced(make_call(99))])


def test_one_replica_id_is_one_live_writer(pg_database: str) -> None:
    with open_writer(pg_database, replica_id="solo") as first:
        first.record([priced(make_call(1))])
        with pytest.raises(LedgerLockedError) as refused:
            PostgresLedger(pg_database, read_only=False, replica_id="solo", lease_wait_s=0.5)
        message = str(refused.value)
        assert "the replica id 'solo' is in use by costline serve pid " in message
        assert message.endswith(
            "every replica sharing a PostgreSQL ledger needs its own --service-instance-id"
        )
    with open_writer(pg_database, replica_id="solo") as again:  # released when the holder closed
        assert again.totals().requests == 1


def test_replicas_starting_together_create_the_schema_once(pg_database: str) -> None:
    with ExitStack() as stack:
        opened: list[LedgerStore] = []

        def start(replica: str) -> RecordResult:
            opened.append(stack.enter_context(open_writer(pg_database, replica_id=replica)))
            return RecordResult([], [], 0)

        at_once(*(partial(start, f"r{n}") for n in range(4)))
        assert len(opened) == 4
    result = CliRunner().invoke(ledger_command, ["migrate", "--ledger-url", pg_database])
    assert result.exit_code == 0, result.output
    assert result.output.endswith(f"schema version {SCHEMA_VERSION}, nothing to do\n")
    assert PASSWORD not in result.output


def test_a_newer_or_foreign_schema_is_refused(pg_database: str, postgres: PostgresServer) -> None:
    with pytest.raises(LedgerSchemaError, match="holds no costline ledger yet"):
        open_ledger(pg_database)  # a reader never creates one
    open_writer(pg_database).close()
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(LedgerSchemaError, match="newer"):
        open_writer(pg_database)
    foreign = postgres.create_database("foreign_app")
    with psycopg.connect(foreign, autocommit=True) as conn:
        conn.execute("CREATE TABLE calls (id int)")
    with pytest.raises(LedgerSchemaError, match="not a costline ledger"):
        open_writer(foreign)
    postgres.drop_database("foreign_app")


def test_a_version_1_ledger_upgrades_its_span_keys_and_still_recognises_its_calls(pg_database: str) -> None:
    calls = [make_call(n, trace=7) for n in range(3)]
    with open_writer(pg_database, replica_id="a") as writer:
        writer.record([priced(c) for c in calls])
    back_to_version(pg_database, 1)
    result = CliRunner().invoke(ledger_command, ["migrate", "--ledger-url", pg_database])
    assert result.exit_code == 0, result.output
    assert f"upgraded from schema version 1 to {SCHEMA_VERSION}" in result.output
    without_ids = [replace(c, response_id=None) for c in calls]  # only the span key can recognise them
    with open_writer(pg_database, replica_id="b") as writer:
        again = writer.record([priced(c) for c in without_ids])
        assert [item.status for item in again.items] == ["redelivered"] * 3
        stored = {(row["trace_id"], row["span_id"]) for row in writer.iter_calls()}
    assert stored == {(c.trace_id, c.span_id) for c in calls}


def test_the_span_key_upgrade_waits_until_no_replica_of_the_previous_release_writes(pg_database: str) -> None:
    """Such a replica would key its rows the old way: a span it records would not be recognised."""
    with open_writer(pg_database, replica_id="a") as writer:
        writer.record([priced(make_call(1))])
    back_to_version(pg_database, 1)
    with psycopg.connect(pg_database, autocommit=True) as previous_release:  # holds replica a's lease
        previous_release.execute("SELECT pg_advisory_lock(%s)", (lock_key("replica:a"),))
        result = CliRunner().invoke(ledger_command, ["migrate", "--ledger-url", pg_database])
        assert result.exit_code == 1
        assert "still writing it (a): stop every replica of the previous costline" in result.output
        with pytest.raises(LedgerSchemaError, match=r"still writing it \(a\)"):
            open_writer(pg_database, replica_id="b")
        row = previous_release.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        assert row == ("1",)  # nothing changed
    result = CliRunner().invoke(ledger_command, ["migrate", "--ledger-url", pg_database])
    assert result.exit_code == 0, result.output


def test_an_unreachable_database_is_unavailable_and_never_shows_the_password(
    postgres: PostgresServer,
) -> None:
    url = postgres.url("no_such_database")
    with pytest.raises(LedgerUnavailableError) as caught:
        open_writer(url)
    assert 'database "no_such_database" does not exist' in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_a_database_restart_fails_requests_until_it_is_back_then_the_writer_reconnects(
    pg_database: str, postgres: PostgresServer
) -> None:
    calls: list[PricedCall] = [priced(make_call(n)) for n in range(6)]
    with open_writer(pg_database, replica_id="r") as ledger:
        ledger.record(calls[:2])
        postgres.stop()
        with pytest.raises(LedgerUnavailableError) as caught:
            ledger.record(calls[2:4])
        assert PASSWORD not in str(caught.value)
        assert ledger.take_resync()  # the failed COMMIT may have happened: counters must be rebuilt
        assert not ledger.take_resync()
        assert ledger.problem() is not None
        postgres.start()
        resent = _retry(lambda: ledger.record(calls[2:4]))  # what the collector does
        assert [item.status for item in resent.items] == ["new", "new"]
        assert ledger.problem() is None
        again = ledger.record(calls[:4])  # a batch sent again: counted once
        assert [item.status for item in again.items] == ["redelivered"] * 4
        assert ledger.totals().requests == 4
        assert ledger.verify() == []


def _retry(work: Callable[[], RecordResult], attempts: int = 50) -> RecordResult:
    """What a collector does: retry a refused request after its delay."""
    for _ in range(attempts):
        try:
            return work()
        except LedgerUnavailableError:
            threading.Event().wait(0.2)
    return work()


def test_a_writers_budget_spend_is_its_own_share_and_a_readers_the_whole_ledger(
    replicas: tuple[LedgerStore, LedgerStore], pg_database: str
) -> None:
    a, b = replicas
    a.record([priced(make_call(n, workflow="support")) for n in range(3)])
    b.record([priced(make_call(n, workflow="support")) for n in range(10, 12)])
    since, until = 0, 2**62

    def spent(ledger: LedgerStore) -> Decimal:
        return sum((row[4] for row in ledger.spend_by_day(since, until)), Decimal(0))

    assert (spent(a), spent(b)) == (Decimal("0.012"), Decimal("0.008"))  # 0.004 per call
    with open_ledger(pg_database) as reader:
        assert spent(reader) == Decimal("0.020")
