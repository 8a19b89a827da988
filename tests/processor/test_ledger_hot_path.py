"""The ledger's fast insert: all-new requests skip the dedupe lookups, NULLs bind as SQL_NULL.

Both are invisible from outside by design; these tests pin that down where the fast path could leak: a
request mixing new and known calls (the optimistic insert is undone, then redone carefully), and the
nullable text columns (an empty or "0" string must stay a string, a missing value must be NULL). Both
backends run them (the PostgreSQL ledger builds its column arrays from the same rows).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import pytest
from _ledger_backends import fetch_raw, is_postgres, open_writer
from _ledger_factories import make_call, priced

from costline_processor.ledger import LedgerStore
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
def ledger(ledger_url: str) -> Iterator[LedgerStore]:
    with open_writer(ledger_url) as opened:
        yield opened


def test_a_request_mixing_new_and_known_calls_keeps_only_the_new_ones(
    ledger: LedgerStore, ledger_url: str
) -> None:
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
    # the undone optimistic insert left nothing behind: one row per call, in order (SQLite: seq without
    # gaps; a PostgreSQL sequence skips the numbers of refused rows)
    seqs = [int(str(row["seq"])) for row in rows]
    assert seqs == sorted(seqs)
    assert len(seqs) == 6
    if not is_postgres(ledger_url):
        assert seqs == [1, 2, 3, 4, 5, 6]
    assert sorted(row["response_id"] for row in rows) == sorted(f"resp-{n}" for n in (0, 1, 2, 20, 21, 22))
    assert ledger.totals().requests == 6
    assert ledger.totals().cost_total == 6 * Decimal("0.004")
    assert ledger.verify() == []


def test_a_request_of_only_new_calls_is_recorded_in_order(ledger: LedgerStore) -> None:
    calls = [priced(make_call(n)) for n in range(600)]  # more than one lookup chunk

    result = ledger.record(calls)

    assert all(item.status == "new" for item in result.items)
    assert [row["span_id"] for row in ledger.iter_calls()] == [p.call.span_id for p in calls]
    again = ledger.record(calls[::-1])
    assert all(item.status == "redelivered" for item in again.items)
    assert ledger.totals().requests == 600


def _stored(ledger: LedgerStore, url: str, n: int) -> dict[str, tuple[object, str]]:
    """Each text column's value and storage class (`text` or `null`) for the `n`th row recorded."""
    select = ", ".join(TEXT_COLUMNS)
    row = fetch_raw(ledger, url, f"SELECT {select} FROM calls ORDER BY seq LIMIT 1 OFFSET {n - 1}")[0]
    return {column: (value, "null" if value is None else type(value).__name__.replace("str", "text"))
            for column, value in zip(TEXT_COLUMNS, row, strict=True)}  # fmt: skip


def test_nullable_text_columns_store_null_empty_and_zero_strings_exactly(
    ledger: LedgerStore, ledger_url: str
) -> None:
    bare = replace(make_call(1), service_instance_id=None)
    full = replace(
        make_call(2, user="0"), service_instance_id="0", service_tier="flex", usage_error="", error_type="0"
    )
    ledger.record(
        [PricedCall(bare, Unpriced("unknown_model", "")), PricedCall(full, Unpriced("no_usage", "0"))]
    )

    assert _stored(ledger, ledger_url, 1) == {
        "user_id": (None, "null"),
        "service_instance_id": (None, "null"),
        "service_tier": (None, "null"),
        "unpriced_detail": ("", "text"),
        "usage_error": (None, "null"),
        "error_type": (None, "null"),
    }
    assert _stored(ledger, ledger_url, 2) == {
        "user_id": ("0", "text"),
        "service_instance_id": ("0", "text"),
        "service_tier": ("flex", "text"),
        "unpriced_detail": ("0", "text"),
        "usage_error": ("", "text"),
        "error_type": ("0", "text"),
    }


def test_no_text_column_ever_stores_the_null_marker(ledger: LedgerStore, ledger_url: str) -> None:
    ledger.record([priced(make_call(1)), PricedCall(make_call(2), Unpriced("no_usage", "none"))])
    columns = [c for c in CALL_COLUMNS if c.startswith(("cost_", "unpriced_")) or c in TEXT_COLUMNS]
    stored = {
        type(value).__name__
        for column in columns
        for (value,) in fetch_raw(ledger, ledger_url, f"SELECT {column} FROM calls")
    }
    money = "Decimal" if is_postgres(ledger_url) else "str"  # NUMERIC on PostgreSQL, exact text on SQLite
    assert stored <= {"str", money, "NoneType"}
    assert {row["span_id"] for row in ledger.iter_calls()} == {make_call(1).span_id, make_call(2).span_id}
