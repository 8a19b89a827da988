"""Our own failures must never change the app's outcome.

Internal errors are logged once per call site and swallowed; under pytest they are re-raised so that bugs
surface in tests and never in production.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger("costline")

_reported: set[str] = set()


def _running_under_pytest() -> bool:
    return "pytest" in sys.modules and os.environ.get("COSTLINE_SWALLOW_INTERNAL_ERRORS") != "1"


def report_internal_error(where: str, exc: BaseException) -> None:
    """Log (once per `where`) that costline failed; re-raise under pytest."""
    if _running_under_pytest():
        raise exc
    if where in _reported:
        return
    _reported.add(where)
    logger.warning(
        "costline internal error in %s (your code is still running fine; costline may miss telemetry)",
        where,
        exc_info=exc,
    )


@contextmanager
def guard(where: str) -> Iterator[None]:
    """Run a block of costline's own code; an exception in it is reported, never propagated."""
    try:
        yield
    except Exception as exc:
        report_internal_error(where, exc)
