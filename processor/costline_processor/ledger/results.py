"""What `Ledger.record()` and `Ledger.purge_older_than()` return."""

from __future__ import annotations

from typing import Final, Literal

from costline_processor.model import Outcome, PricedCall
from costline_processor.value_class import value_class

RecordStatus = Literal["new", "redelivered", "duplicate_call"]
STATUS_NEW: Final = "new"
STATUS_REDELIVERED: Final = "redelivered"
STATUS_DUPLICATE_CALL: Final = "duplicate_call"


@value_class
class RecordedItem:
    """What the ledger did with one priced call; `canonical_span_id` is the span carrying its cost.

    `start_time_out_of_range`: the span's start time was not used (rows.Arrival): the call is recorded at
    the time it arrived.
    """

    priced: PricedCall
    status: RecordStatus
    canonical_span_id: bytes
    start_time_out_of_range: bool = False


@value_class
class RecordResult:
    items: list[RecordedItem]  # same order as the `priced` argument
    new_outcomes: list[Outcome]
    duplicate_outcomes: int
    # new calls whose (trace, response id) another, different call already has: a server repeating ids
    response_id_collisions: int = 0
    received_ns: int = 0  # when the request arrived: where a call whose start time is out of range is placed


@value_class
class PurgeResult:
    calls: int
    outcomes: int
