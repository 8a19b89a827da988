"""A replica of a shared PostgreSQL ledger that starts before its database answers waits for it
(`--ledger-wait-s`, default 60 s) instead of exiting: replicas and their database are often started
together, and a database failing over can coincide with a pod restart. Past the wait it exits 1 with one
line saying why.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from replicas import Collector, assert_exact, calls_of, payload, wait_until
from serve_process import ServeProcess

from postgres_server import PASSWORD, PostgresServer, free_port

pytestmark = pytest.mark.e2e

WAITING = "(--ledger-wait-s) for the ledger"


def start_in_background(replica: ServeProcess) -> threading.Thread:
    """`replica.start()` (which returns once it is ready) on a thread, so the test can act meanwhile."""
    thread = threading.Thread(target=replica.start, kwargs={"timeout_s": 90.0}, daemon=True)
    thread.start()
    wait_until(lambda: replica.process is not None)
    return thread


def test_a_replica_started_before_its_database_waits_and_then_serves(
    tmp_path: Path, pg_database: str, postgres: PostgresServer
) -> None:
    calls = calls_of("early", 2)
    replica = ServeProcess(tmp_path, ledger_url=pg_database, instance_id="early")
    postgres.stop()
    try:
        starting = start_in_background(replica)
        wait_until(lambda: f"waiting up to 60s {WAITING}" in replica.log())
        time.sleep(2.5)  # another attempt fails meanwhile
        assert replica.process is not None
        assert replica.process.poll() is None, replica.log()
    finally:
        postgres.start()
    try:
        starting.join(timeout=90)
        assert replica.grpc_port, replica.log()  # ready
        Collector([payload(c) for c in calls], lambda: [replica.grpc_target]).deliver()
        assert_exact(pg_database, [replica], [c for batch in calls for c in batch])
        log = replica.log()
        assert "answers now; starting" in log
        assert PASSWORD not in log
        assert "Traceback" not in log
    finally:
        replica.stop()


@pytest.mark.parametrize("wait_s", [0, 2])
def test_a_database_that_never_answers_ends_the_wait_with_one_line(tmp_path: Path, wait_s: int) -> None:
    url = f"postgresql://costline:{PASSWORD}@127.0.0.1:{free_port()}/costline"  # nothing listens there
    replica = ServeProcess(tmp_path, ledger_url=url, args=[f"--ledger-wait-s={wait_s}"])
    result, took = replica.run_to_exit(timeout_s=60)
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("costline serve: cannot start: cannot open the ledger postgresql://costline:***@")
    assert "Connection refused" in last
    assert last.endswith(f"(after waiting {wait_s}s, --ledger-wait-s)") == bool(wait_s), last
    assert (WAITING in result.stderr) == bool(wait_s)
    assert wait_s <= took < wait_s + 15
    assert PASSWORD not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_ctrl_c_while_waiting_for_the_database_exits_without_a_traceback(tmp_path: Path) -> None:
    url = f"postgresql://costline:{PASSWORD}@127.0.0.1:{free_port()}/costline"
    replica = ServeProcess(tmp_path, ledger_url=url)
    with replica.log_path.open("wb") as log:
        process = subprocess.Popen(replica.command(), stdout=log, stderr=subprocess.STDOUT, env=replica.env)
    try:
        wait_until(lambda: WAITING in replica.log())
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert replica.log().strip().splitlines()[-1] == "costline serve: interrupted before it started"
    assert "Traceback" not in replica.log()
