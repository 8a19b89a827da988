"""The budget guard's settings, read from `COSTLINE_BUDGETS_*` once per `instrument()` call.

A bad value is logged and defaulted (the app must start); an unusable URL is kept as given and fails every
read, so the failure policy (`open`: calls proceed, `closed`: calls are blocked) decides, as for an
unreachable source.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Final

from costline._config import (
    ENV_BUDGETS_ENFORCE,
    ENV_BUDGETS_FAIL,
    ENV_BUDGETS_MAX_STALENESS_S,
    ENV_BUDGETS_REFRESH_S,
    ENV_BUDGETS_TIMEOUT_S,
    ENV_BUDGETS_TOKEN,
    ENV_BUDGETS_URL,
    _env_bool,
)

logger = logging.getLogger("costline")

FAIL_OPEN: Final = "open"
FAIL_CLOSED: Final = "closed"
DEFAULT_REFRESH_S: Final = 15.0
DEFAULT_MAX_STALENESS_S: Final = 300.0
DEFAULT_TIMEOUT_S: Final = 2.0


@dataclass(frozen=True, slots=True)
class GuardSettings:
    url: str
    token: str | None = None
    refresh_s: float = DEFAULT_REFRESH_S
    max_staleness_s: float = DEFAULT_MAX_STALENESS_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    fail_closed: bool = False
    enforce: bool = True


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        logger.warning("costline: ignoring %s=%r (expected a number of seconds > 0); using %s", name, raw,
                       default)  # fmt: skip
        return default
    return value


def _env_fail_closed() -> bool:
    raw = os.environ.get(ENV_BUDGETS_FAIL, FAIL_OPEN).strip().lower()
    if raw in (FAIL_OPEN, FAIL_CLOSED):
        return raw == FAIL_CLOSED
    logger.warning("costline: ignoring %s=%r (expected open or closed); using open", ENV_BUDGETS_FAIL, raw)
    return False


def load_guard_settings() -> GuardSettings | None:
    """The guard's settings, or None when `COSTLINE_BUDGETS_URL` is unset (no guard, no thread)."""
    url = os.environ.get(ENV_BUDGETS_URL, "").strip()
    if not url:
        return None
    return GuardSettings(
        url=url,
        token=os.environ.get(ENV_BUDGETS_TOKEN) or None,
        refresh_s=_env_seconds(ENV_BUDGETS_REFRESH_S, DEFAULT_REFRESH_S),
        max_staleness_s=_env_seconds(ENV_BUDGETS_MAX_STALENESS_S, DEFAULT_MAX_STALENESS_S),
        timeout_s=_env_seconds(ENV_BUDGETS_TIMEOUT_S, DEFAULT_TIMEOUT_S),
        fail_closed=_env_fail_closed(),
        enforce=_env_bool(ENV_BUDGETS_ENFORCE, True),
    )
