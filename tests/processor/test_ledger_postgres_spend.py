"""Budgets on a PostgreSQL ledger shared by replicas: each replica's `GET /v1/budgets` is the whole ledger's.

A replica counts its own calls exactly as it commits them and reads the other replicas' spend from the
ledger's daily spend table (schema version 3), which the statement inserting the calls keeps: so the spend
one replica shows is every replica's, whichever replica a load balancer sends the app's guard to, while its
`llm_budget_*` metrics stay its own share (summed over replicas in PromQL).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

import psycopg
import pytest
from _ledger_backends import back_to_version, open_writer
from _ledger_factories import make_call, priced, unpriced

from costline_processor.budgets import BudgetTracker, parse_budgets
from costline_processor.budgets.tracker import OTHERS_MAX_AGE_S
from costline_processor.ledger import NS_PER_DAY, LedgerStore, LedgerUnavailableError, SpendRow, open_ledger
from postgres_server import PostgresServer

CALL_USD = Decimal("0.004")  # what _ledger_factories.priced() charges
BUDGETS = parse_budgets("""\
budgets:
  - {workflow_id: support, period: monthly, limit_usd: 1}
  - {tenant_id: acme, period: daily, limit_usd: 1}
""")  # fmt: skip
ALL_DAYS = (0, 2**62 // NS_PER_DAY)


def by_key(rows: Iterable[SpendRow]) -> dict[tuple[int, str, str, str], Decimal]:
    summed: dict[tuple[int, str, str, str], Decimal] = {}
    for day, workflow, feature, tenant, cost in rows:
        key = (day, workflow, feature, tenant)
        summed[key] = summed.get(key, Decimal(0)) + cost
    return summed


def whole(url: str) -> dict[tuple[int, str, str, str], Decimal]:
    with open_ledger(url) as reader:
        return by_key(reader.spend_by_day(0, 2**62))


def record_mixed(a: LedgerStore, b: LedgerStore) -> None:
    """Calls of two days and two scopes at both replicas, a redelivery, a call's second span, an unpriced
    call."""
    day = time.time_ns() // NS_PER_DAY * NS_PER_DAY
    a.record([priced(make_call(n, start_ns=day + n)) for n in range(3)])
    b_calls = [priced(make_call(10 + n, tenant="acme", start_ns=day - NS_PER_DAY + n)) for n in range(2)]
    b.record([*b_calls, unpriced(make_call(20, start_ns=day), "unknown_model")])
    a.record(b_calls)  # redelivered to the other replica
    second_span = replace(make_call(0, start_ns=day), span_id=(900).to_bytes(8, "big"))
    b.record([priced(second_span)])  # the same call (trace, response id) seen on a second span


def test_each_replica_reads_the_others_spend_and_with_its_own_it_is_the_whole_ledger(
    pg_database: str,
) -> None:
    with open_writer(pg_database, replica_id="a") as a, open_writer(pg_database, replica_id="b") as b:
        record_mixed(a, b)
        expected = whole(pg_database)
        assert sum(expected.values(), Decimal(0)) == 5 * CALL_USD  # the five priced calls, once each
        for one, other in ((a, b), (b, a)):
            assert by_key(one.others_spend_by_day(*ALL_DAYS)) == by_key(other.spend_by_day(0, 2**62))
            combined = [*one.spend_by_day(0, 2**62), *one.others_spend_by_day(*ALL_DAYS)]
            assert by_key(combined) == expected


def test_a_version_2_ledger_gains_the_daily_spend_of_every_replicas_calls(pg_database: str) -> None:
    with open_writer(pg_database, replica_id="a") as a, open_writer(pg_database, replica_id="b") as b:
        record_mixed(a, b)
    expected = whole(pg_database)
    back_to_version(pg_database, 2)
    with open_writer(pg_database, replica_id="c") as c:  # upgrades the schema at start-up
        assert by_key(c.others_spend_by_day(*ALL_DAYS)) == expected
        assert c.spend_by_day(0, 2**62) == []
    with psycopg.connect(pg_database) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("3",)


def states(tracker: BudgetTracker, *, whole_ledger: bool) -> list[Decimal]:
    return [state.spent for state in tracker.statuses(whole_ledger=whole_ledger)[1]]


def test_a_replicas_budgets_are_the_whole_ledgers_and_its_metrics_its_own_share(pg_database: str) -> None:
    day = time.time_ns() // NS_PER_DAY * NS_PER_DAY
    with open_writer(pg_database, replica_id="a") as a, open_writer(pg_database, replica_id="b") as b:
        tracker = BudgetTracker(BUDGETS)
        tracker.seed(a)
        tracker.observe(a.record([priced(make_call(n, tenant="acme", start_ns=day + n)) for n in range(2)]))
        b.record([priced(make_call(10 + n, tenant="acme", start_ns=day + n)) for n in range(3)])
        assert states(tracker, whole_ledger=False) == [2 * CALL_USD, 2 * CALL_USD]  # a's share
        assert states(tracker, whole_ledger=True) == [5 * CALL_USD, 5 * CALL_USD]
        b.record([priced(make_call(20, tenant="acme", start_ns=day))])
        time.sleep(OTHERS_MAX_AGE_S)  # the other replicas' spend is read again once this old
        assert states(tracker, whole_ledger=True) == [6 * CALL_USD, 6 * CALL_USD]
        restarted = BudgetTracker(BUDGETS)  # a restarted replica: its share from its rows, the rest read
        restarted.seed(a)
        assert states(restarted, whole_ledger=True) == [6 * CALL_USD, 6 * CALL_USD]


def test_the_whole_ledgers_budgets_are_unavailable_while_the_database_is(
    pg_database: str, postgres: PostgresServer
) -> None:
    with open_writer(pg_database, replica_id="a") as a:
        tracker = BudgetTracker(BUDGETS)
        tracker.seed(a)
        postgres.stop()
        try:
            time.sleep(OTHERS_MAX_AGE_S)
            with pytest.raises(LedgerUnavailableError):
                tracker.statuses(whole_ledger=True)
            assert states(tracker, whole_ledger=False) == [0, 0]  # its own share needs no database
        finally:
            postgres.start()


def test_retention_drops_the_daily_spend_of_the_days_it_purges(pg_database: str) -> None:
    today = time.time_ns() // NS_PER_DAY
    with open_writer(pg_database, replica_id="a") as a, open_writer(pg_database, replica_id="b") as b:
        old, recent = (today - 30) * NS_PER_DAY, today * NS_PER_DAY
        a.record([priced(make_call(1, start_ns=old))], received_ns=old)
        a.record([priced(make_call(2, start_ns=recent))], received_ns=recent)
        assert len(b.others_spend_by_day(*ALL_DAYS)) == 2
        b.purge_older_than((today - 10) * NS_PER_DAY, now_ns=recent)
        key = (today, "support", "unattributed", "unattributed")
        assert by_key(b.others_spend_by_day(*ALL_DAYS)) == {key: CALL_USD}
