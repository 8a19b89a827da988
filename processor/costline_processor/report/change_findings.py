"""Named patterns behind a change between two windows, found in the call rows of both.

- a new workflow (no call in the earlier window);
- a step change in cost per call from a date (a debug flag left on), with the tokens per call that moved;
- a new retry loop (traces of many calls for one tenant that the earlier window did not have);
- prompt caching that stopped (cache reads fell to under half their earlier share of input tokens);
- a model upgrade (or downgrade) inside a workflow;
- power users (a few users holding a large share of a workflow's spend; `findings.power_users`).

Each is a `Finding` (rendered like the single-window findings) plus a few words for the summary paragraph.
Amounts that say what a change cost are exact repricings through the serve pricer where one is needed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

from costline.attributes import UNATTRIBUTED
from costline_processor.model import Usage
from costline_processor.pricing import Pricer
from costline_processor.report.calls import ZERO, CallRecord, price_usage, record_of
from costline_processor.report.findings import Finding, loop_traces, power_users
from costline_processor.report.money import unit_usd, usd
from costline_processor.report.periods import Window

STEP_RATIO: Final = Decimal("1.5")  # cost per call at least this multiple of its earlier level
STEADY_DAYS_SHARE: Final = 0.8  # ... on at least this share of the days after (and under it before)
MIN_SEGMENT_DAYS: Final = 2
TOKEN_RATIO_NAMED: Final = Decimal("1.25")  # a token count per call that moved this much is named
CACHE_MIN_SHARE: Final = Decimal("0.2")  # caching "stopped": from at least this share of input tokens
CACHE_DROP: Final = Decimal("0.5")  # ... to at most this fraction of it
NEW_MODEL_SHARE: Final = Decimal("0.2")  # a model with this share of the later calls
OLD_MODEL_SHARE: Final = Decimal("0.05")  # ... and under this share of the earlier ones
UNIT: Final = Decimal("0.000001")
TOKEN_NAMES: Final = ("uncached input", "cache-read", "cache-write", "output")
TOKEN_MOVES_NAMED: Final = 2
UNCHANGED_TOKENS: Final = "tokens per call unchanged (the price per token changed: see the price/mix driver)"


@dataclass(frozen=True, slots=True)
class Change:
    finding: Finding
    brief: str  # e.g. "a new retry loop on property-17 since 2026-11-09", for the summary paragraph


def find_changes(
    pricer: Pricer, windows: tuple[Window, Window], before: Sequence[CallRecord], after: Sequence[CallRecord]
) -> list[Change]:
    earlier, later = _per_workflow(before), _per_workflow(after)
    found: list[Change] = []
    for workflow in sorted(later):
        calls_after, calls_before = later[workflow], earlier.get(workflow, [])
        if workflow == UNATTRIBUTED:
            continue
        if not calls_before:
            found.append(_new_workflow(workflow, calls_after))
            continue
        specific = [
            change
            for finder in (_model_change, _caching_stopped)
            if (change := finder(pricer, workflow, calls_before, calls_after)) is not None
        ]
        # A model change or lost caching also steps up the cost per call; the specific finding says why.
        step = None if specific else _step_change(workflow, calls_before, calls_after, windows[1])
        found += [*specific, *([step] if step else [])]
    found += _new_loops(before, after)
    found += _power_users(before, after)
    return sorted(found, key=lambda change: -change.finding.cost)


def _per_workflow(calls: Sequence[CallRecord]) -> dict[str, list[CallRecord]]:
    grouped: dict[str, list[CallRecord]] = defaultdict(list)
    for call in calls:
        if call.cost is not None:
            grouped[call.workflow_id].append(call)
    return grouped


def _new_workflow(workflow: str, calls: list[CallRecord]) -> Change:
    first = min(call.day for call in calls)
    cost = sum((call.total for call in calls), ZERO)
    return Change(
        Finding(
            "new_workflow",
            workflow,
            f"a new workflow since {first} (no call in the earlier window): {_count(len(calls), 'call')}",
            cost,
            "its spend in the later window",
        ),
        f"new since {first}",
    )


@dataclass(frozen=True, slots=True)
class _Day:
    calls: int
    cost: Decimal
    tokens: tuple[int, int, int, int]  # uncached input, cache read, cache write, output


def _days(calls: Sequence[CallRecord]) -> dict[date, _Day]:
    grouped: dict[date, list[CallRecord]] = defaultdict(list)
    for call in calls:
        grouped[call.day].append(call)
    return {day: _day_of(grouped[day]) for day in sorted(grouped)}


def _day_of(calls: Sequence[CallRecord]) -> _Day:
    tokens = [0, 0, 0, 0]
    for call in calls:
        for i, count in enumerate(_token_counts(call.usage)):
            tokens[i] += count
    return _Day(len(calls), sum((c.total for c in calls), ZERO), (tokens[0], tokens[1], tokens[2], tokens[3]))


def _token_counts(usage: Usage | None) -> tuple[int, int, int, int]:
    if usage is None:
        return (0, 0, 0, 0)
    return (
        usage.uncached_input_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.output_tokens,
    )


def _step_change(
    workflow: str, before: list[CallRecord], after: list[CallRecord], later: Window
) -> Change | None:
    days = _days([*before, *after])
    ordered = list(days)
    split = _best_split(days, [i for i, day in enumerate(ordered) if day >= later.since.date()])
    if split is None:
        return None
    old, new = _segment(days, ordered[:split]), _segment(days, ordered[split:])
    old_per_call, new_per_call = old.cost / old.calls, new.cost / new.calls
    if not old_per_call or new_per_call < old_per_call * STEP_RATIO:
        return None
    middle = (old_per_call + new_per_call) / 2
    above = [days[day].cost / days[day].calls >= middle for day in ordered[split:]]
    below = [days[day].cost / days[day].calls < middle for day in ordered[:split]]
    if sum(above) < STEADY_DAYS_SHARE * len(above) or sum(below) < STEADY_DAYS_SHARE * len(below):
        return None  # a passing spike, not a step
    since = ordered[split]
    ratio = new_per_call / old_per_call
    extra = (new.cost - old_per_call * new.calls).quantize(UNIT, ROUND_HALF_EVEN)
    moves = _token_moves(old, new)
    why = ", ".join(moves) if moves else UNCHANGED_TOKENS
    brief = f"cost per call \N{MULTIPLICATION SIGN}{ratio:.1f} since {since}" + (
        f": {moves[0]}" if moves else ""
    )
    return Change(
        Finding(
            "step_change",
            workflow,
            f"cost per call \N{MULTIPLICATION SIGN}{ratio:.1f} since {since}"
            f" ({unit_usd(old_per_call)} to {unit_usd(new_per_call)} per call), {why}",
            extra,
            "spend above the earlier cost per call since then",
        ),
        brief,
    )


def _best_split(days: dict[date, _Day], candidates: list[int]) -> int | None:
    """The day index that splits the daily cost per call into two steadiest segments (least squares)."""
    values = [float(day.cost / day.calls) for day in days.values()]
    best: tuple[float, int] | None = None
    for split in candidates:
        if split < MIN_SEGMENT_DAYS or len(values) - split < MIN_SEGMENT_DAYS:
            continue
        error = _spread(values[:split]) + _spread(values[split:])
        if best is None or error < best[0]:
            best = (error, split)
    return None if best is None else best[1]


def _spread(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return sum((value - mean) ** 2 for value in values)


def _segment(days: dict[date, _Day], keys: list[date]) -> _Day:
    parts = [days[day] for day in keys]
    tokens = [sum(part.tokens[i] for part in parts) for i in range(4)]
    return _Day(
        sum(part.calls for part in parts),
        sum((part.cost for part in parts), ZERO),
        (tokens[0], tokens[1], tokens[2], tokens[3]),
    )


def _token_moves(old: _Day, new: _Day) -> list[str]:
    """The token counts per call that moved most (at most TOKEN_MOVES_NAMED), biggest move first."""
    moves = []
    for name, before, after in zip(TOKEN_NAMES, old.tokens, new.tokens, strict=True):
        if not before:
            continue
        ratio = Decimal(after * old.calls) / Decimal(before * new.calls)
        if ratio >= TOKEN_RATIO_NAMED or ratio <= 1 / TOKEN_RATIO_NAMED:
            moves.append((abs(ratio.ln()) if ratio else Decimal(99), name, ratio))
    moves.sort(reverse=True)
    return [
        f"{name} tokens per call \N{MULTIPLICATION SIGN}{ratio:.1f}"
        for _, name, ratio in moves[:TOKEN_MOVES_NAMED]
    ]


def _cache_share(calls: Sequence[CallRecord]) -> Decimal:
    read = sum(call.usage.cache_read_tokens for call in calls if call.usage)
    total = sum(call.usage.input_tokens for call in calls if call.usage)
    return Decimal(read) / Decimal(total) if total else ZERO


def _caching_stopped(
    pricer: Pricer, workflow: str, before: list[CallRecord], after: list[CallRecord]
) -> Change | None:
    old, new = _cache_share(before), _cache_share(after)
    if old < CACHE_MIN_SHARE or new > old * CACHE_DROP:
        return None
    middle = (old + new) / 2
    days = sorted({call.day for call in after})
    since = next(
        day
        for day in days
        if sum(_cache_share([c for c in after if c.day == d]) < middle for d in days if d >= day)
        >= STEADY_DAYS_SHARE * len([d for d in days if d >= day])
    )
    lost = ZERO
    for call in after:
        if call.day >= since and call.usage is not None:
            restored = _with_cache_share(call.usage, old)
            cost = price_usage(pricer, restored, call.model, call.time_ns, call.operation)
            lost += call.total - sum(cost, ZERO) if cost is not None else ZERO
    return Change(
        Finding(
            "caching_stopped",
            workflow,
            f"prompt caching stopped: cache reads fell from {old:.0%} to {new:.0%} of input tokens"
            f" (since {since})",
            lost,
            "what the lost cache reads cost at this model's prices",
        ),
        f"prompt caching stopped on {since}",
    )


def _with_cache_share(usage: Usage, share: Decimal) -> Usage:
    wanted = int(Decimal(usage.input_tokens) * share)
    read = max(usage.cache_read_tokens, min(wanted, usage.input_tokens - usage.cache_write_tokens))
    return Usage(
        usage.input_tokens,
        usage.output_tokens,
        read,
        usage.cache_write_tokens,
        usage.cache_write_1h_tokens,
        usage.reasoning_tokens,
    )


def _model_change(
    pricer: Pricer, workflow: str, before: list[CallRecord], after: list[CallRecord]
) -> Change | None:
    old_share, new_share = _model_shares(before), _model_shares(after)
    arrived = [
        model
        for model, share in sorted(new_share.items(), key=lambda item: -item[1])
        if share >= NEW_MODEL_SHARE and old_share.get(model, ZERO) < OLD_MODEL_SHARE
    ]
    if not arrived:
        return None
    model = arrived[0]
    previous = max(old_share.items(), key=lambda item: (item[1], item[0]))[0]
    moved = [call for call in after if call.model.model == model]
    old_key = next(call.model for call in before if call.model.model == previous)
    repriced = [price_usage(pricer, c.usage, old_key, c.time_ns, c.operation) for c in moved]
    extra = sum((c.total - sum(cost, ZERO) for c, cost in zip(moved, repriced, strict=True) if cost), ZERO)
    since = min(call.day for call in moved)
    kind = "model_upgrade" if extra > 0 else "model_downgrade"
    return Change(
        Finding(
            kind,
            workflow,
            f"calls moved from {previous} to {model} since {since}"
            f" ({new_share[model]:.0%} of its later calls)",
            extra,
            f"what those calls cost above the same tokens on {previous}",
        ),
        f"a model {'upgrade' if extra > 0 else 'downgrade'} to {model} since {since}",
    )


def _model_shares(calls: Sequence[CallRecord]) -> dict[str, Decimal]:
    counts: dict[str, int] = defaultdict(int)
    for call in calls:
        counts[call.model.model] += 1
    return {model: Decimal(count) / len(calls) for model, count in counts.items()}


def _new_loops(before: Sequence[CallRecord], after: Sequence[CallRecord]) -> list[Change]:
    earlier = loop_traces(call.row for call in before)
    found = []
    for (workflow, tenant), traces in sorted(loop_traces(call.row for call in after).items()):
        known = earlier.get((workflow, tenant), [])
        if known and len(traces) < 2 * len(known):
            continue
        calls = sum(len(trace) for trace in traces)
        since = min(record_of(row).day for trace in traces for row in trace)
        repeated = _repeated_cost(traces) - _repeated_cost(known)
        was = f"{len(known)} in the earlier window" if known else "none in the earlier window"
        found.append(
            Change(
                Finding(
                    "retry_loop",
                    workflow,
                    f"a new retry loop: {_count(len(traces), 'trace')} with {calls / len(traces):.0f}"
                    f" LLM calls each, all for tenant {tenant}, since {since} ({was})",
                    repeated,
                    "spend of the repeated calls, above the earlier window's",
                ),
                f"a retry loop on {tenant} since {since}",
            )
        )
    return found


def _repeated_cost(traces: Sequence[Sequence[Mapping[str, object]]]) -> Decimal:
    """The spend of every call of a looping trace but its first: what the loop added."""
    total = ZERO
    for trace in traces:
        ordered = sorted(map(record_of, trace), key=lambda call: call.time_ns)
        total += sum((call.total for call in ordered[1:]), ZERO)
    return total


def _power_users(before: Sequence[CallRecord], after: Sequence[CallRecord]) -> list[Change]:
    """Power users among the calls that are not in a retry loop (the loop is named on its own)."""
    looping = {id(row) for traces in loop_traces(c.row for c in after).values() for t in traces for row in t}
    found = []
    for workflow, (users, cost, share) in power_users(
        c.row for c in after if id(c.row) not in looping
    ).items():
        heavy = set(users)
        was = sum((c.total for c in before if c.workflow_id == workflow and c.user_id in heavy), ZERO)
        found.append(
            Change(
                Finding(
                    "power_user",
                    workflow,
                    f"{len(users)} users ({', '.join(users)}) account for {share:.0%} of its later spend"
                    f" ({usd(was)} in the earlier window, {usd(cost)} in the later)",
                    cost,
                    "those users' spend in the later window",
                ),
                f"{len(users)} power users: {share:.0%} of its spend",
            )
        )
    return found


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
