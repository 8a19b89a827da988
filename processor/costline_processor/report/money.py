"""How reports show money. One rule, the same in the terminal and in HTML:

- an amount (spend, a total, a budget, a finding's amount, an axis tick) is shown to the cent, `$1,234.57`;
  one that is not zero but under half a cent is shown as `<$0.01`, so it never reads as free;
- a unit cost (cost per outcome, per request), usually a fraction of a cent, is shown to four decimals,
  `$0.0082`, with `<$0.0001` below that.

Half a cent rounds up, as on an invoice. CSV and JSON keep the exact decimal strings (`exact`), since finance
sums them again.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Final

CENT: Final = Decimal("0.01")
UNIT_STEP: Final = Decimal("0.0001")
NOT_PRICED: Final = "\N{EM DASH}"  # the spend of a group none of whose calls could be priced: unknown, not $0


def _shown(value: Decimal, step: Decimal) -> str:
    rounded = value.quantize(step, ROUND_HALF_UP)
    if value and not rounded:
        return f"{'-' if value < 0 else ''}<${step}"
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,}"


def usd(value: Decimal) -> str:
    """An amount, to the cent."""
    return _shown(value, CENT)


def unit_usd(value: Decimal) -> str:
    """A unit cost, to a hundredth of a cent."""
    return _shown(value, UNIT_STEP)


def usd_or_unpriced(value: Decimal | None) -> str:
    return NOT_PRICED if value is None else usd(value)


def exact(value: Decimal) -> str:
    """The exact decimal string for CSV and JSON (no exponent, no trailing zeros)."""
    return format(value.normalize() if value else Decimal(0), "f")
