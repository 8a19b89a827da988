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

import http.client
import json
import subprocess
import threading
import time
from contextlib import ExitStack
from decimal import Decimal
from functools import partial
from pathlib import Path

import grpc
import pytest
from replicas import (
    PER_BATCH,
    Collector,
    assert_exact,
    assert_no_password,
    at_once,
    calls_of,
    list_price,
    payload,
    shares,
    split_by_scope,
    start_replicas,
    wait_until,
)
from serve_process import COSTLINE, total

from costline_processor import metric_names as names
from costline_processor.receiver_http import UNAVAILABLE_RETRY_AFTER_S
from postgres_server import PASSWORD, PostgresServer

pytestmark = pytest.mark.e2e


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
        status, retry_after, text = http_export(b.http_port, collector.batches[-1])  # OTLP/HTTP too
        assert (status, retry_after) == (503, str(UNAVAILABLE_RETRY_AFTER_S)), text
        assert "ledger unavailable" in text
        assert PASSWORD not in text
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


def http_export(port: int, body: bytes) -> tuple[int, str | None, str]:
    """POST one protobuf export request to OTLP/HTTP: (status, Retry-After, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"}
        )
        response = connection.getresponse()
        return response.status, response.getheader("Retry-After"), response.read().decode(errors="replace")
    finally:
        connection.close()
