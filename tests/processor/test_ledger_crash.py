"""`kill -9` of a process in the middle of writing: every acknowledged batch survives, nothing is corrupt."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from decimal import Decimal
from pathlib import Path

from costline_processor.ledger import Ledger
from costline_processor.metrics import CostMetrics

BATCH = 50
# The writer acknowledges a batch (prints its number) only after record() returned, exactly as the
# processor acknowledges an export request to the collector.
WRITER = textwrap.dedent(
    f"""
    import sys
    sys.path.insert(0, {str(Path(__file__).parent)!r})
    from pathlib import Path
    from _ledger_factories import make_call, priced
    from costline_processor.ledger import Ledger, store

    store.CHECKPOINT_INTERVAL_S = 0.02  # frequent checkpoints: the kill finds rows on both sides of one

    ledger = Ledger(Path(sys.argv[1]))
    batch = 0
    while True:
        first = batch * {BATCH}
        ledger.record([priced(make_call(n, workflow=f"wf{{n % 7}}")) for n in range(first, first + {BATCH})])
        print(batch, flush=True)
        batch += 1
    """
)


def test_kill_9_mid_load_loses_no_acknowledged_batch(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    acknowledged = -1
    deadline = time.monotonic() + 40
    try:
        assert writer.stdout is not None
        while acknowledged < 40 and time.monotonic() < deadline:
            line = writer.stdout.readline()
            assert line, f"the writer died: {writer.stderr.read() if writer.stderr else ''}"
            acknowledged = int(line)
    finally:
        os.kill(writer.pid, signal.SIGKILL)  # mid-load: it is writing its next batch right now
        writer.wait(timeout=10)
        writer.stdout.close()  # type: ignore[union-attr]
        writer.stderr.close()  # type: ignore[union-attr]
    assert acknowledged >= 40, "the writer was too slow to acknowledge 40 batches in 40 s"

    with closing(sqlite3.connect(path)) as raw:  # as the writer left it: checkpointed up to some call
        checkpoint = int(raw.execute("SELECT value FROM meta WHERE key = 'checkpoint_seq'").fetchone()[0])
        assert 0 < checkpoint <= raw.execute("SELECT MAX(seq) FROM calls").fetchone()[0]

    with Ledger(path) as ledger:  # the dead writer's lock is gone with it; rows after the checkpoint replay
        assert ledger.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {int.from_bytes(row["trace_id"], "big") for row in ledger.iter_calls()}  # type: ignore[arg-type]
        assert set(range((acknowledged + 1) * BATCH)) <= stored  # every acknowledged call is there
        assert len(stored) % BATCH == 0  # and batches are all-or-nothing
        assert ledger.verify() == []
        totals = ledger.totals()
        assert totals.requests == len(stored)
        assert totals.cost_total == Decimal("0.004") * len(stored)

        # After the crash the counters start at exactly the ledger's totals.
        metrics = CostMetrics()
        metrics.seed_from(ledger)
        text = metrics.render_prometheus().decode()
        requests = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("llm_requests_total{")
        )
        assert requests == len(stored)
