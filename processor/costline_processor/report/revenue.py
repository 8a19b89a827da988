"""Unit economics per customer: revenue (from a CSV file) against AI cost (from the ledger), per tenant and
period, with the tenants whose AI cost is a large share of their revenue flagged.

The file has the header `tenant_id,period,revenue_usd` (any column order) and one row per tenant and period:
a month (`2026-11`), a quarter (`2026-Q4`) or a year (`2026`). A period counts when the report window covers
all of it; its AI cost is the tenant's priced calls in that period. Every bad row is reported with its line.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

from costline.attributes import TENANT_ID, UNATTRIBUTED
from costline_processor.report.calls import ZERO, CallRecord, ns_of
from costline_processor.report.facts import ReportInputError
from costline_processor.report.periods import Window, parse_period

PERIOD: Final = "period"
REVENUE_USD: Final = "revenue_usd"
COLUMNS: Final = (TENANT_ID, PERIOD, REVENUE_USD)
ERRORS_SHOWN: Final = 10
FLAG_SHARE: Final = "AI cost \N{GREATER-THAN OR EQUAL TO} {share:.0%} of revenue"
FLAG_NO_REVENUE: Final = "no revenue in the file"
FLAG_NO_CALLS: Final = "no LLM calls"
FLAG_UNTAGGED: Final = "no tenant_id: not billable"


@dataclass(frozen=True, slots=True)
class Revenue:
    line: int
    tenant_id: str
    period: str
    window: Window
    amount: Decimal


@dataclass(frozen=True, slots=True)
class TenantMargin:
    tenant_id: str
    period: str
    revenue: Decimal | None  # None: the file has no revenue for this tenant and period
    cost: Decimal
    requests: int
    unpriced: int
    alert_share: Decimal

    @property
    def cost_share(self) -> Decimal | None:
        return self.cost / self.revenue if self.revenue else None

    @property
    def margin(self) -> Decimal | None:
        return None if self.revenue is None else self.revenue - self.cost

    @property
    def flag(self) -> str:
        if self.tenant_id == UNATTRIBUTED:
            return FLAG_UNTAGGED
        if self.revenue is None:
            return FLAG_NO_REVENUE
        if not self.requests:
            return FLAG_NO_CALLS
        share = self.cost_share
        alert = share is not None and share >= self.alert_share
        return FLAG_SHARE.format(share=self.alert_share) if alert else ""


@dataclass(frozen=True, slots=True)
class UnitEconomics:
    path: Path
    alert_share: Decimal  # 0..1
    periods: tuple[str, ...]  # used
    ignored_periods: tuple[str, ...]  # in the file, not wholly inside the report window
    rows: tuple[TenantMargin, ...]

    @property
    def revenue(self) -> Decimal:
        return sum((row.revenue or ZERO for row in self.rows), ZERO)

    @property
    def cost(self) -> Decimal:
        return sum((row.cost for row in self.rows), ZERO)


def read_revenue(path: Path) -> list[Revenue]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportInputError(f"--revenue {path}: cannot read it ({exc})") from exc
    lines = csv.reader(io.StringIO(text))
    header = [name.strip().lower() for name in next(lines, [])]
    if sorted(header) != sorted(COLUMNS):
        raise ReportInputError(
            f"--revenue {path} line 1: the header must be {','.join(COLUMNS)}"
            f" (got {','.join(header) or 'nothing'})"
        )
    index = {name: header.index(name) for name in COLUMNS}
    found: list[Revenue] = []
    errors: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for cells in lines:
        number = lines.line_num  # the physical line a row ends on (a quoted field may span lines)
        if not any(cell.strip() for cell in cells):
            continue
        problem, row = _row(number, cells, index)
        if row is not None and (row.tenant_id, row.period) in seen:
            problem = f"{row.tenant_id} {row.period} is already on line {seen[(row.tenant_id, row.period)]}"
        if problem or row is None:
            errors.append(f"line {number}: {problem}")
            continue
        seen[(row.tenant_id, row.period)] = number
        found.append(row)
    if errors:
        more = f"\n  ... and {len(errors) - ERRORS_SHOWN} more" if len(errors) > ERRORS_SHOWN else ""
        listed = "\n  ".join(errors[:ERRORS_SHOWN])
        noun = "row" if len(errors) == 1 else "rows"
        raise ReportInputError(f"--revenue {path}: {len(errors)} bad {noun}:\n  {listed}{more}")
    if not found:
        raise ReportInputError(f"--revenue {path}: no revenue rows after the header")
    return found


def _row(number: int, cells: Sequence[str], index: dict[str, int]) -> tuple[str, Revenue | None]:
    if len(cells) != len(COLUMNS):
        return f"{len(cells)} fields, expected {len(COLUMNS)} ({','.join(COLUMNS)})", None
    tenant, period, amount = (cells[index[name]].strip() for name in COLUMNS)
    if not tenant:
        return "tenant_id is empty", None
    window = parse_period(period)
    if window is None:
        return f"period {period!r} is not a month (2026-11), quarter (2026-Q4) or year (2026)", None
    try:
        revenue = Decimal(amount)
    except InvalidOperation:
        return f"revenue_usd {amount!r} is not an amount in USD (e.g. 1250.00)", None
    if not revenue.is_finite() or revenue < 0:
        return f"revenue_usd {amount!r} must be a finite amount of 0 or more", None
    return "", Revenue(number, tenant, period, window, revenue)


def unit_economics(
    path: Path, window: Window, calls: Sequence[CallRecord], alert_share: Decimal
) -> UnitEconomics:
    revenues = read_revenue(path)
    inside = sorted(
        {r.period for r in revenues if window.since <= r.window.since and r.window.until <= window.until}
    )
    ignored = sorted({r.period for r in revenues} - set(inside))
    if not inside:
        example = next(r.window for r in revenues if r.period == ignored[-1])
        raise ReportInputError(
            f"--revenue {path}: the report window ({window.label()}) covers none of the file's periods"
            f" ({', '.join(ignored)}) in full: for {ignored[-1]}, pass"
            f" --since {example.since:%Y-%m-%d} --until {example.until:%Y-%m-%d}"
        )
    rows = []
    for period in inside:
        period_window = next(r.window for r in revenues if r.period == period)
        amounts = {r.tenant_id: r.amount for r in revenues if r.period == period}
        rows += _margins(period, period_window, amounts, calls, alert_share)
    return UnitEconomics(path, alert_share, tuple(inside), tuple(ignored), tuple(rows))


def _margins(
    period: str,
    window: Window,
    amounts: dict[str, Decimal],
    calls: Sequence[CallRecord],
    alert_share: Decimal,
) -> list[TenantMargin]:
    cost: dict[str, Decimal] = defaultdict(Decimal)
    requests: dict[str, int] = defaultdict(int)
    unpriced: dict[str, int] = defaultdict(int)
    for call in calls:
        if not ns_of(window.since) <= call.time_ns < ns_of(window.until):
            continue
        tenant = call.tenant_id
        requests[tenant] += 1
        if call.cost is None:
            unpriced[tenant] += 1
        cost[tenant] += call.total
    tenants = sorted({*amounts, *requests}, key=lambda t: (t == UNATTRIBUTED, t))
    rows = [
        TenantMargin(
            t, period, amounts.get(t), cost.get(t, ZERO), requests.get(t, 0), unpriced.get(t, 0), alert_share
        )
        for t in tenants
    ]
    return sorted(
        rows, key=lambda row: (row.tenant_id == UNATTRIBUTED, -(row.cost_share or Decimal(-1)), row.tenant_id)
    )
