"""The ledger's consistency rule, whatever the backend: every cumulative total equals what retention
rolled up (`purged_*`) plus the rows still stored, exactly (`Ledger.verify()`)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from costline_processor.ledger.rows import Aggregate, totals_of


def call_total_problems(
    totals: Iterable[tuple[Hashable, Aggregate]], parts: Iterable[tuple[Hashable, Aggregate]]
) -> list[str]:
    """The keys whose cumulative total differs from the sum of its parts (purged roll-ups, stored rows)."""
    cumulative = dict(totals)
    summed: dict[Hashable, list[Aggregate]] = {}
    for key, part in parts:
        summed.setdefault(key, []).append(part)
    problems = []
    for key in cumulative.keys() | summed.keys():
        want = totals_of([cumulative[key]] if key in cumulative else [])
        have = totals_of(summed.get(key, []))
        if want != have:
            problems.append(f"call totals {key}: cumulative {want} != purged + stored {have}")
    return problems


def outcome_total_problems(
    totals: Iterable[tuple[Hashable, int]], parts: Iterable[tuple[Hashable, int]]
) -> list[str]:
    cumulative: dict[Hashable, int] = {}
    for key, count in totals:
        cumulative[key] = cumulative.get(key, 0) + int(count)
    summed: dict[Hashable, int] = {}
    for key, count in parts:
        summed[key] = summed.get(key, 0) + int(count)
    return [
        f"outcome totals {key}: cumulative {cumulative.get(key, 0)} != purged + stored {summed.get(key, 0)}"
        for key in cumulative.keys() | summed.keys()
        if cumulative.get(key, 0) != summed.get(key, 0)
    ]
