"""Hundreds of exports at once at two `costline serve` replicas on one PostgreSQL ledger.

400 clients start together, each with its own connection (OTLP/gRPC, then OTLP/HTTP), and follow the
Collector's retry rules (otlp_clients): 100 batches are each sent to both replicas at once (a retry that
reached a second replica), 50 batches of 400 calls traced by two instrumentations have one half at each
replica, the halves listing the calls in opposite orders, and 100 batches go to one replica. Two halves
recorded at the same moment want the same unique keys in opposite orders; when they deadlock (in 1 of 4
runs measured), PostgreSQL aborts one transaction and the replica runs it again. Both replicas are overloaded
and refuse with a retry delay. In the end every call is in the ledger once at its list price, each replica's
/metrics is its own share, and every copy and second span is counted as a duplicate.

Then `kill -9` of one replica while 400 clients export, behind a load balancer (each retry goes to the next
replica): the killed replica's in-flight requests are refused or lost unanswered and resent, it restarts on
new ports with the same id, resumes its counters from its own rows and records again; nothing is lost or
counted twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import pytest
from otlp_clients import GIVE_UP_AFTER_S, ClientLog, failover_grpc_client, grpc_client, http_client
from replicas import (
    assert_exact,
    assert_no_password,
    payload,
    shares,
    split_by_scope,
    start_replicas,
    wait_until,
)
from serve_process import ServeProcess, total

from costline_processor import metric_names as names
from genai_spans import Call

pytestmark = pytest.mark.e2e

CALLS_PER_EXPORT = 10
SPLIT_CALLS = 400  # long enough that the two halves' inserts overlap in the database
TO_BOTH, SPLIT, TO_ONE = 100, 50, 100  # batches of each kind: 200 + 100 + 100 exports at once
KILL_BATCHES, AFTER_RESTART = 400, 20


def batch(kind: str, number: int) -> list[Call]:
    """Distinct gpt-4o calls: every batch's calls cost differently from every other batch's."""
    offset = {"both": 0, "split": TO_BOTH, "one": TO_BOTH + SPLIT, "kill": 0, "after": KILL_BATCHES}[
        kind
    ] + number
    size = SPLIT_CALLS if kind == "split" else CALLS_PER_EXPORT
    return [
        Call("openai", "gpt-4o", 1_000 + offset, 100 + n, response_id=f"chatcmpl-{kind}-{number}-{n}")
        for n in range(size)
    ]


Work = list[tuple[ServeProcess, bytes]]


def exports(a: ServeProcess, b: ServeProcess) -> tuple[Work, list[Call]]:
    """(replica, request) for every client, and every distinct call among them."""
    work: Work = []
    calls: list[Call] = []
    for number in range(TO_BOTH):
        calls += batch("both", number)
        request = payload(batch("both", number))
        work += [(a, request), (b, request)]
    for number in range(SPLIT):
        calls += batch("split", number)
        first, second = split_by_scope(batch("split", number), opposite_orders=True)
        work += [(a, first), (b, second)]
    for number in range(TO_ONE):
        calls += batch("one", number)
        work.append(((a, b)[number % 2], payload(batch("one", number))))
    return work, calls


Job = Callable[[threading.Barrier, ClientLog], None]


def client(protocol: str, replica: ServeProcess, request: bytes) -> Job:
    if protocol == "grpc":
        return partial(grpc_client, replica.grpc_target, request)
    return partial(http_client, replica.http_port, request)


def run_at_once(
    jobs: list[Job], meanwhile: Callable[[list[ClientLog]], None] | None = None
) -> list[ClientLog]:
    """Start every job's client at once; run `meanwhile` (with the clients' logs) while they export."""
    logs = [ClientLog() for _ in jobs]
    start = threading.Barrier(len(jobs) + 1)
    threads = [
        threading.Thread(target=job, args=(start, log), daemon=True)
        for job, log in zip(jobs, logs, strict=True)
    ]
    for thread in threads:
        thread.start()
    start.wait(timeout=60)
    if meanwhile is not None:
        meanwhile(logs)
    for thread in threads:
        thread.join(timeout=GIVE_UP_AFTER_S + 15)
    assert not any(thread.is_alive() for thread in threads), "clients did not finish"
    return logs


def summary(logs: list[ClientLog]) -> str:
    refusals = [status for log in logs for status, _ in log.refusals]
    kinds = sorted({status.split(" ", 1)[0] for status in refusals})
    dropped = [log.dropped for log in logs if log.dropped]
    return f"{len(logs)} clients: {len(refusals)} refusals {kinds}, {len(dropped)} dropped {dropped[:3]}"


def sum_over(replicas: list[ServeProcess], read: Callable[[ServeProcess], float]) -> float:
    return sum(read(replica) for replica in replicas)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_400_exports_at_once_at_two_replicas_count_every_call_once(
    tmp_path: Path, pg_database: str, protocol: str
) -> None:
    with ExitStack() as stack:
        replicas = start_replicas(stack, tmp_path, pg_database, ["replica-a", "replica-b"])
        work, calls = exports(*replicas)
        began = time.monotonic()
        logs = run_at_once([client(protocol, replica, request) for replica, request in work])
        print(f"{summary(logs)} in {time.monotonic() - began:.1f} s")  # pytest -s shows it
        assert all(log.accepted for log in logs), summary(logs)
        assert [s for log in logs for s, delay in log.refusals if delay is None] == [], summary(logs)
        overloaded = sum_over(replicas, lambda r: total(r.metrics(), names.SELF_REQUESTS_REFUSED))
        assert overloaded == sum(len(log.refusals) for log in logs) > 0, summary(logs)
        assert_exact(pg_database, replicas, calls)
        duplicates = sum_over(replicas, lambda r: total(r.metrics(), names.SELF_DUPLICATES_IGNORED))
        assert duplicates == TO_BOTH * CALLS_PER_EXPORT + SPLIT * SPLIT_CALLS
        assert_no_password(*replicas)


def accepted(logs: list[ClientLog]) -> int:
    return sum(1 for log in logs if log.accepted)


def test_kill_9_of_a_replica_during_400_exports_at_once_loses_and_doubles_nothing(
    tmp_path: Path, pg_database: str
) -> None:
    """Behind a load balancer: each retry goes to the next replica, a killed one's port refuses at once."""
    with ExitStack() as stack:
        a, b = start_replicas(stack, tmp_path, pg_database, ["replica-a", "replica-b"])
        batches = [batch("kill", number) for number in range(KILL_BATCHES)]
        after_restart = [batch("after", number) for number in range(AFTER_RESTART)]
        targets = lambda: [a.grpc_target, b.grpc_target]  # noqa: E731 - read again on every attempt
        jobs: list[Job] = [
            partial(failover_grpc_client, targets, n, payload(calls)) for n, calls in enumerate(batches)
        ]
        shares_at_kill: list[int] = []

        def kill_and_restart(logs: list[ClientLog]) -> None:
            wait_until(lambda: accepted(logs) >= KILL_BATCHES // 4)
            a.kill9()
            shares_at_kill.append(shares(pg_database)[0].get(a.instance_id, 0))
            wait_until(lambda: accepted(logs) >= KILL_BATCHES // 2)  # b takes the load meanwhile
            a.start()  # new ports, same id: it resumes its own counters from its own rows
            later = [partial(grpc_client, a.grpc_target, payload(calls)) for calls in after_restart]
            assert all(log.accepted for log in run_at_once(later))  # the restarted replica records again

        logs = run_at_once(jobs, kill_and_restart)
        print(summary(logs))  # pytest -s shows it
        assert all(log.accepted for log in logs), summary(logs)
        assert any(status.startswith("UNAVAILABLE") for log in logs for status, _ in log.refusals)
        assert shares_at_kill[0] > 0
        assert_exact(pg_database, [a, b], [call for calls in batches + after_restart for call in calls])
        assert shares(pg_database)[0][a.instance_id] >= shares_at_kill[0] + AFTER_RESTART * CALLS_PER_EXPORT
        assert_no_password(a, b)
