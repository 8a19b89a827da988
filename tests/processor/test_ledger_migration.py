"""A ledger written by the previous release (schema version 1) opens, upgrades and keeps its totals exact.

`data/ledger_v1.sql` is the dump of a ledger made by that release (data/make_ledger_v1.py says how): calls
checkpointed and not (as after a `kill -9`), rows its retention purged, unpriced calls, outcomes, and start
times of 0 and far in the future. Its clock read 2025-01-01T00:00:00Z throughout.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from _ledger_factories import make_call, priced

from costline_processor import metric_names as names
from costline_processor.ledger import Ledger, LedgerSchemaError
from costline_processor.ledger.schema import SCHEMA_VERSION
from costline_processor.model import Usage

DUMP = Path(__file__).with_name("data") / "ledger_v1.sql"
CREATED_NS = 1_735_689_600 * 1_000_000_000
# What the previous release's own Ledger.totals() said for this ledger.
TOTAL_COST = {"input": "0.0221500", "cache_read": "0.00275", "cache_write": "0", "output": "0.011"}
TOTAL_TOKENS = {"input": 8860, "cache_read": 2200, "cache_write": 0, "output": 1100}


@pytest.fixture
def v1_path(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite3"
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(DUMP.read_text(encoding="utf-8"))
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    return path


def test_an_old_ledger_is_upgraded_with_its_totals_exact(v1_path: Path) -> None:
    before_ns = time.time_ns()
    with Ledger(v1_path) as ledger:
        totals = ledger.totals()
        assert ledger.verify() == []
        rows = {row["seq"]: row for row in ledger.iter_calls()}
        version = ledger.conn.execute("PRAGMA user_version").fetchone()[0]
    assert version == SCHEMA_VERSION == 3
    assert (totals.requests, totals.unpriced) == (12, 1)
    assert totals.cost == {kind: Decimal(value) for kind, value in TOTAL_COST.items()}
    assert totals.tokens == TOTAL_TOKENS
    assert ledger.created_ns == CREATED_NS
    # when each old row arrived, estimated: its start time, kept between the ledger's creation and now
    assert rows[1]["received_ns"] == rows[1]["time_ns"] == CREATED_NS
    assert rows[13]["received_ns"] == rows[13]["time_ns"] == CREATED_NS + 11 * 60 * 10**9
    assert rows[10]["time_ns"] == 0
    assert rows[10]["received_ns"] == CREATED_NS
    # a start time far in the future (2**62 ns: year 2116) is placed at the upgrade, as a new call would be
    assert rows[9]["time_ns"] == rows[9]["received_ns"] == rows[9]["end_time_ns"]
    assert before_ns // 10**9 * 10**9 <= int(str(rows[9]["received_ns"])) <= time.time_ns()
    assert rows[13]["response_id"] == "chatcmpl-v1-11"
    # version 3 put each row's start time in front of its span key; the ids read back unchanged
    assert rows[13]["trace_id"] == (1000 + 11).to_bytes(16, "big")
    assert rows[13]["span_id"] == (12).to_bytes(8, "big")


def test_an_upgraded_ledger_recognises_its_calls_and_tells_new_ones_apart(v1_path: Path) -> None:
    old = make_call(11, trace=1000 + 11, response_id="chatcmpl-v1-11", usage=Usage(1011, 100, 200))
    old = replace(old, span_id=(11 + 1).to_bytes(8, "big"), start_time_ns=CREATED_NS + 11 * 60 * 10**9)
    old = replace(old, end_time_ns=old.start_time_ns + 10**9, request_model="gpt-4o")
    second_span = replace(old, span_id=b"second!!")  # the same call seen by another instrumentation
    other_call = replace(second_span, span_id=b"another!", usage=Usage(50_000, 100))  # same id, new call
    with Ledger(v1_path) as ledger:
        result = ledger.record([priced(old), priced(second_span), priced(other_call)], received_ns=CREATED_NS)
        assert [item.status for item in result.items] == ["redelivered", "duplicate_call", "new"]
        assert result.response_id_collisions == 1
        assert ledger.totals().requests == 13
        assert ledger.verify() == []


def test_a_reader_does_not_read_an_old_ledger_it_cannot_upgrade(v1_path: Path) -> None:
    with pytest.raises(LedgerSchemaError, match="schema version 1"):
        Ledger(v1_path, read_only=True)
    with Ledger(v1_path):  # a writer upgrades it; then readers read it
        pass
    with Ledger(v1_path, read_only=True) as reader:
        assert reader.totals().requests == 12
        assert reader.totals().unpriced == 1
        assert names.REASON_NO_USAGE in {a.reason for a in reader.iter_aggregates()}


def test_a_version_2_ledger_upgrades_its_span_keys_and_still_recognises_its_calls(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    calls = [make_call(n, trace=7) for n in range(3)]
    with Ledger(path) as ledger:
        ledger.record([priced(c) for c in calls])
    with closing(sqlite3.connect(path)) as conn:  # back to version 2's keys: trace id || span id
        conn.execute("UPDATE calls SET span_key = substr(span_key, 9)")
        conn.execute("PRAGMA user_version=2")
        conn.commit()
    without_ids = [replace(c, response_id=None) for c in calls]  # only the span key can recognise them
    with Ledger(path) as ledger:
        again = ledger.record([priced(c) for c in without_ids])
        assert [item.status for item in again.items] == ["redelivered"] * 3
        assert {(row["trace_id"], row["span_id"]) for row in ledger.iter_calls()} == {
            (c.trace_id, c.span_id) for c in calls
        }
        assert ledger.totals().requests == 3
        assert ledger.verify() == []
