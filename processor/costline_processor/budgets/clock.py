"""The clock budgets are judged by: the wall clock, or, for tests and the demo only, a shifted one.

`COSTLINE_BUDGETS_NOW=2026-11-22T12:00:00Z` is not a configuration option: it exists so that the demo (which
replays four past weeks, its spans stamped in the simulated past) and period tests can have `costline serve`
judge every budget's period, spend and status by a clock that reads that instant when the service starts
and then runs at the normal rate (so a test can watch a period end). `GET /v1/budgets` answers with that
clock's `as_of`; the app's guard counts `resets_at - as_of` on its own clock, so it stays consistent.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime
from typing import Final

ENV_BUDGETS_NOW: Final = "COSTLINE_BUDGETS_NOW"  # test/demo only


def budget_clock() -> Callable[[], int]:
    """`time.time_ns`, or it shifted to read `COSTLINE_BUDGETS_NOW` now (ValueError if not RFC 3339)."""
    raw = os.environ.get(ENV_BUDGETS_NOW, "").strip()
    if not raw:
        return time.time_ns
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{ENV_BUDGETS_NOW}={raw!r} is not a time like 2026-11-22T23:59:59Z") from None
    if moment.tzinfo is None:
        raise ValueError(f"{ENV_BUDGETS_NOW}={raw!r} needs a time zone (Z)")
    shift = int(moment.timestamp() * 1_000_000) * 1000 - time.time_ns()
    return lambda: time.time_ns() + shift
