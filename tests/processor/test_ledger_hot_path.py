"""The ledger's fast insert: all-new requests skip the dedupe lookups, NULLs bind as SQL_NULL.

Both are invisible from outside by design; these tests pin that down where the fast path could leak: a
request mixing new and known calls (the optimistic insert is undone, then redone carefully), and the
nullable text columns (an empty or "0" string must stay a string, a missing value must be NULL).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from _ledger_factories import make_call, priced

from costline_processor.ledger import Ledger
from costline_processor.ledger.schema import CALL_COLUMNS
from costline_processor.model import PricedCall, Unpriced

TEXT_COLUMNS = (
    "user_id",
    "service_instance_id",
    "service_tier",
    "unpriced_detail",
    "usage_error",
    "error_type",
)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.sqlite3") as opened:
        yield opened


def test_a_request_mixing_new_and_known_calls_keeps_only_the_new_ones(ledger: Ledger) -> None:
    known = [priced(make_call(n)) for n in range(3)]
    ledger.record(known)
    same_call_other_span = priced(make_call(10, trace=1, response_id="resp-1"))

    result = ledger.record(
        [priced(make_call(20)), known[1], priced(make_call(21)), same_call_other_span, priced(make_call(22))]
    )

    statuses = [item.status for item in result.items]
    assert statuses == ["new", "redelivered", "new", "duplicate_call", "new"]
    assert result.items[3].canonical_span_id == known[1].call.span_id
    rows = list(ledger.iter_calls())
    # the undone optimistic insert left nothing behind: one row per call, seq without gaps
    assert [row["seq"] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert sorted(row["response_id"] for row in rows) == sorted(f"resp-{n}" for n in (0, 1, 2, 20, 21, 22))
    assert ledger.totals().requests == 6
    assert ledger.totals().cost_total == 6 * Decimal("0.004")
    assert ledger.verify() == []


def test_a_request_of_only_new_calls_is_recorded_in_order(ledger: Ledger) -> None:
    calls = [priced(make_call(n)) for n in range(600)]  # more than one lookup chunk

    result = ledger.record(calls)

    assert all(item.status == "new" for item in result.items)
    assert [row["span_id"] for row in ledger.iter_calls()] == [p.call.span_id for p in calls]
    again = ledger.record(calls[::-1])
    assert all(item.status == "redelivered" for item in again.items)
    assert ledger.totals().requests == 600


def _stored(ledger: Ledger, seq: int) -> dict[str, tuple[object, str]]:
    """Each text column's value and SQLite storage class for the row `seq`."""
    select = ", ".join(f"{column}, typeof({column})" for column in TEXT_COLUMNS)
    row = ledger.conn.execute(f"SELECT {select} FROM calls WHERE seq = ?", (seq,)).fetchone()
    return {column: (row[2 * i], row[2 * i + 1]) for i, column in enumerate(TEXT_COLUMNS)}


def test_nullable_text_columns_store_null_empty_and_zero_strings_exactly(ledger: Ledger) -> None:
    bare = replace(make_call(1), service_instance_id=None)
    full = replace(
        make_call(2, user="0"), service_instance_id="0", service_tier="flex", usage_error="", error_type="0"
    )
    ledger.record(
        [PricedCall(bare, Unpriced("unknown_model", "")), PricedCall(full, Unpriced("no_usage", "0"))]
    )

    assert _stored(ledger, 1) == {
        "user_id": (None, "null"),
        "service_instance_id": (None, "null"),
        "service_tier": (None, "null"),
        "unpriced_detail": ("", "text"),
        "usage_error": (None, "null"),
        "error_type": (None, "null"),
    }
    assert _stored(ledger, 2) == {
        "user_id": ("0", "text"),
        "service_instance_id": ("0", "text"),
        "service_tier": ("flex", "text"),
        "unpriced_detail": ("0", "text"),
        "usage_error": ("", "text"),
        "error_type": ("0", "text"),
    }


def test_no_text_column_ever_stores_the_null_marker(ledger: Ledger) -> None:
    ledger.record([priced(make_call(1)), PricedCall(make_call(2), Unpriced("no_usage", "none"))])
    columns = [c for c in CALL_COLUMNS if c.startswith(("cost_", "unpriced_")) or c in TEXT_COLUMNS]
    stored = {
        kind
        for column in columns
        for (kind,) in ledger.conn.execute(f"SELECT typeof({column}) FROM calls").fetchall()
    }
    assert stored <= {"text", "null"}
    assert {row["span_id"] for row in ledger.iter_calls()} == {make_call(1).span_id, make_call(2).span_id}
