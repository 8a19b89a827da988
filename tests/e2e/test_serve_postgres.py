"""N `costline serve` replicas on one PostgreSQL ledger, real processes and a real PostgreSQL.

The "collector" here keeps every export request until some replica acknowledges it and resends the rest
to the next replica, as the OTel Collector's retrying exporter does behind a load balancer: the calls are
never routed by trace id, so a batch (or one of a call's two spans) reaches any replica. Whatever happens
(the same batch at two replicas at once, a replica killed with SIGKILL and restarted, the database
restarted), every total is exact: each call counted once in the ledger, at its list price (gpt-4o, $2.50 /
$10 per million tokens, computed here by hand in Decimal), and each replica's /metrics is its own share of
the ledger, the shares summing to the whole.
"""

from __future__ import annotations

import json
import math
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from decimal import Decimal
from functools import partial
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from serve_process import COSTLINE, ServeProcess, total

from costline import attributes as attr
from costline_processor import metric_names as names
from costline_processor.ledger import open_ledger
from genai_spans import Call, encode_request, make_call_spans, make_spans
from postgres_server import PASSWORD, PostgresServer

pytestmark = pytest.mark.e2e

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
PER_BATCH = 8
SCOPES = ("opentelemetry.instrumentation.genai.openai", attr.INSTRUMENTATION_SCOPE)


def calls_of(tag: str, batches: int) -> list[list[Call]]:
    """`batches` lists of PER_BATCH distinct gpt-4o calls with varied usage."""
    return [
        [
            Call("openai", "gpt-4o", 1_000 + 7 * n + b, 100 + n % 9, response_id=f"chatcmpl-{tag}-{b}-{n}")
            for n in range(PER_BATCH)
        ]
        for b in range(batches)
    ]


def list_price(calls: Sequence[Call]) -> Decimal:
    """gpt-4o at $2.50 per million input tokens and $10 per million output tokens, exactly."""
    million = Decimal(1_000_000)
    return sum((c.input_tokens * Decimal("2.50") / million + c.output_tokens * Decimal(10) / million
                for c in calls), Decimal(0))  # fmt: skip


def payload(calls: Sequence[Call]) -> bytes:
    return encode_request(make_spans(calls)).SerializeToString()


def split_by_scope(calls: Sequence[Call]) -> list[bytes]:
    """Each call traced by two instrumentations, as two export requests: one per instrumentation."""
    request = encode_request(make_call_spans(calls, SCOPES))
    halves = [ExportTraceServiceRequest() for _ in SCOPES]
    for resource_spans in request.resource_spans:
        for half, scope_name in zip(halves, SCOPES, strict=True):
            kept = half.resource_spans.add()
            kept.resource.CopyFrom(resource_spans.resource)
            for scope_spans in resource_spans.scope_spans:
                if scope_spans.scope.name == scope_name:
                    kept.scope_spans.add().CopyFrom(scope_spans)
    return [half.SerializeToString() for half in halves]


class Collector:
    """Keeps each export request until a replica acknowledges it; a refused one goes to the next replica."""

    def __init__(self, batches: Sequence[bytes], targets: Callable[[], list[str]]) -> None:
        self.batches = list(batches)
        self.targets = targets
        self.acked: set[int] = set()
        self.refusals: list[grpc.StatusCode] = []
        self._lock = threading.Lock()

    def send(self, target: str, index: int) -> bool:
        with grpc.insecure_channel(target) as channel:
            try:
                channel.unary_unary(EXPORT)(self.batches[index], timeout=10)
            except grpc.RpcError as error:
                with self._lock:
                    self.refusals.append(error.code())  # type: ignore[attr-defined]
                return False
        with self._lock:
            self.acked.add(index)
        return True

    def deliver(self, timeout_s: float = 90.0, pace_s: float = 0.0) -> None:
        """Send every batch, round robin over the replicas, until every one is acknowledged."""
        deadline = time.monotonic() + timeout_s
        attempt = 0
        while len(self.acked) < len(self.batches):
            assert time.monotonic() < deadline, f"{len(self.batches) - len(self.acked)} batches never acked"
            for index in range(len(self.batches)):
                if index in self.acked:
                    continue
                targets = self.targets()
                if not self.send(targets[(index + attempt) % len(targets)], index):
                    time.sleep(0.05)
                time.sleep(pace_s)
            attempt += 1


def start_replicas(stack: ExitStack, tmp_path: Path, url: str, names_: Sequence[str]) -> list[ServeProcess]:
    replicas = []
    for name in names_:
        workdir = tmp_path / name
        workdir.mkdir()
        replicas.append(stack.enter_context(ServeProcess(workdir, ledger_url=url, instance_id=name)))
    return replicas


def shares(url: str) -> tuple[dict[str, int], dict[str, Decimal]]:
    """Per replica: calls and cost (Decimal) as the shared ledger records them."""
    requests: dict[str, int] = {}
    cost: dict[str, Decimal] = {}
    with open_ledger(url) as reader:
        for row in reader.iter_calls():
            replica = str(row["replica"])
            requests[replica] = requests.get(replica, 0) + 1
            cost[replica] = cost.get(replica, Decimal(0)) + Decimal(str(row["cost_total"]))
    return requests, cost


def assert_exact(url: str, replicas: Sequence[ServeProcess], calls: Sequence[Call]) -> None:
    """Every call once at its list price, and each replica's /metrics exactly its share of the ledger."""
    with open_ledger(url) as reader:
        whole = reader.totals()
        assert reader.verify() == []
        rows = list(reader.iter_calls())
    assert whole.requests == len(calls) == len(rows)
    assert sorted(str(r["response_id"]) for r in rows) == sorted(str(c.response_id) for c in calls)
    assert whole.cost_total == list_price(calls)
    requests, cost = shares(url)
    assert sum(requests.values()) == len(calls)
    assert sum(cost.values(), Decimal(0)) == list_price(calls)
    for replica in replicas:
        samples = replica.metrics()
        share = replica.instance_id
        assert total(samples, names.PROM_REQUESTS_TOTAL) == requests.get(share, 0), share
        counted = total(samples, names.PROM_COST_USD_TOTAL)
        assert math.isclose(counted, float(cost.get(share, 0)), rel_tol=1e-12), share


def assert_no_password(*replicas: ServeProcess) -> None:
    for replica in replicas:
        assert PASSWORD not in replica.log()
        assert "Traceback" not in replica.log()


def at_once(*work: Callable[[], object]) -> None:
    barrier = threading.Barrier(len(work))

    def run(job: Callable[[], object]) -> None:
        barrier.wait()
        job()

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def test_two_replicas_count_a_batch_sent_to_both_and_a_call_split_between_them_once(
    tmp_path: Path, pg_database: str
) -> None:
    batches = calls_of("both", 12)
    split_calls = calls_of("split", 4)
    with ExitStack() as stack:
        a, b = start_replicas(stack, tmp_path, pg_database, ["replica-a", "replica-b"])
        collector = Collector([payload(c) for c in batches], lambda: [a.grpc_target, b.grpc_target])
        for index in range(len(batches)):  # the same batch at both replicas at once
            at_once(
                partial(collector.send, a.grpc_target, index), partial(collector.send, b.grpc_target, index)
            )
        assert collector.refusals == []
        for calls in split_calls:  # each call's official-instrumentation span to a, costline's to b
            split = Collector(split_by_scope(calls), list)
            at_once(partial(split.send, a.grpc_target, 0), partial(split.send, b.grpc_target, 1))
            assert split.refusals == []
        assert_exact(pg_database, [a, b], [c for batch in batches + split_calls for c in batch])
        duplicates = sum(total(r.metrics(), names.SELF_DUPLICATES_IGNORED) for r in (a, b))
        assert duplicates == len(batches) * PER_BATCH + len(split_calls) * PER_BATCH
        assert_no_password(a, b)


def test_kill_9_of_a_replica_mid_load_loses_and_doubles_nothing_and_its_restart_resumes_its_share(
    tmp_path: Path, pg_database: str
) -> None:
    batches = calls_of("kill", 100)
    with ExitStack() as stack:
        a, b = start_replicas(stack, tmp_path, pg_database, ["replica-a", "replica-b"])
        collector = Collector([payload(c) for c in batches], lambda: [a.grpc_target, b.grpc_target])
        sender = threading.Thread(target=collector.deliver, kwargs={"pace_s": 0.05})
        sender.start()
        wait_until(lambda: len(collector.acked) >= 15)
        a.kill9()
        before_kill = shares(pg_database)[0].get(a.instance_id, 0)
        assert before_kill > 0
        wait_until(lambda: len(collector.acked) >= 30)  # b takes the load meanwhile
        a.start()  # same id: it resumes its own counters from its own rows
        sender.join(timeout=120)
        assert len(collector.acked) == len(batches)
        assert collector.refusals  # the kill did refuse some requests
        assert_exact(pg_database, [a, b], [c for batch in batches for c in batch])  # a: from its own rows
        assert shares(pg_database)[0][a.instance_id] > before_kill  # and it recorded more after its restart
        assert_no_password(a, b)


def test_a_database_restart_mid_load_is_refused_with_a_retry_then_every_total_is_exact(
    tmp_path: Path, pg_database: str, postgres: PostgresServer
) -> None:
    batches = calls_of("dbdown", 60)
    with ExitStack() as stack:
        a, b = start_replicas(stack, tmp_path, pg_database, ["replica-a", "replica-b"])
        collector = Collector([payload(c) for c in batches], lambda: [a.grpc_target, b.grpc_target])
        sender = threading.Thread(target=collector.deliver, kwargs={"pace_s": 0.01})
        sender.start()
        wait_until(lambda: len(collector.acked) >= 15)
        postgres.stop()
        wait_until(lambda: a.get("/readyz")[0] == 503)
        _, body = a.get("/readyz")
        assert body.startswith("ledger unavailable: ")
        assert PASSWORD not in body
        acked_while_down = len(collector.acked)
        time.sleep(1.0)
        assert len(collector.acked) <= acked_while_down + 2  # only requests committed before the stop
        postgres.start()
        sender.join(timeout=120)
        assert len(collector.acked) == len(batches)
        assert grpc.StatusCode.UNAVAILABLE in collector.refusals
        for replica in (a, b):
            wait_until(lambda r=replica: r.get("/readyz") == (200, "ready\n"))  # type: ignore[misc]
        assert_exact(pg_database, [a, b], [c for batch in batches for c in batch])
        assert_no_password(a, b)
    report = subprocess.run(
        [str(COSTLINE), "report", f"--ledger-url={pg_database}", "--since=30d", "--format=json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    parsed = json.loads(report.stdout)
    assert parsed["total_requests"] == len(batches) * PER_BATCH
    assert Decimal(parsed["total_cost_usd"]) == list_price([c for batch in batches for c in batch])
    assert PASSWORD not in report.stdout + report.stderr


def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
