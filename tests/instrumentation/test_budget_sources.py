"""Reading a budgets source over real HTTP (a 127.0.0.1 server): the contract's JSON, and every bad answer.

Each bad answer must become one clear `SourceError` naming the URL (the guard logs it once and applies the
failure policy); nothing else may escape.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from budget_source_server import BudgetSourceServer, Reply, answer, budget
from costline._budget_promql import PROMQL_QUERIES, states_from_promql
from costline._budget_sources import MAX_ANSWER_BYTES, source_for
from costline._budget_state import SourceError


@pytest.fixture
def source() -> BudgetSourceServer:
    with BudgetSourceServer() as server:
        yield server  # type: ignore[misc]


def test_the_contract_answer_is_read_with_exact_money(source: BudgetSourceServer) -> None:
    source.reply = answer(
        budget({"workflow_id": "customer_support"}),
        budget({"workflow_id": "marketing_copy"}, period="daily", limit="40", spent="12", stop_at=100,
               on_stop="downgrade", downgrade_to="claude-haiku-4-5", status="alert_50",
               resets_at="2026-12-03T00:00:00Z"),
        budget({"tenant_id": "acme"}, stop_at=None, on_stop=None, status="over"),
    )  # fmt: skip
    read, description = source_for(source.url, "s3cret", 2.0)
    states, as_of = read()
    assert description == f"costline serve at {source.url}/v1/budgets"
    assert source.seen[-1].path == "/v1/budgets"
    assert source.seen[-1].headers["Authorization"] == "Bearer s3cret"
    assert as_of == datetime(2026, 12, 2, 19, tzinfo=UTC).timestamp()
    assert len(states) == 2  # the tenant budget has no stop: nothing for the guard to do
    support, marketing = states
    assert support.scope == (("workflow_id", "customer_support"),)
    assert (support.spent_usd, support.limit_usd, support.stop_at) == (Decimal("1452.1034"), 1200, 120)
    assert support.stopped
    assert support.on_stop == "block"
    assert (
        support.resets_in_s
        == (datetime(2027, 1, 1, tzinfo=UTC) - datetime(2026, 12, 2, 19, tzinfo=UTC)).total_seconds()
    )
    assert not marketing.stopped
    assert marketing.downgrade_to == "claude-haiku-4-5"
    assert marketing.resets_in_s == 5 * 3600


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(status=401, body=b"unauthorized"), "answered HTTP 401 (set COSTLINE_BUDGETS_TOKEN"),
        (Reply(status=500, body=b"oops"), "answered HTTP 500"),
        (Reply(body=b"<html>not json</html>"), "did not answer JSON (starts with '<html>not json"),
        (Reply(body=b"\xff\xfe garbage"), "did not answer JSON"),
        (Reply(body=b'{"as_of": "2026-12-02T19:00:00Z"}'), "without a 'budgets' list"),
        (Reply(body=b"[1, 2]"), "without a 'budgets' list"),
        (Reply(body=b'{"as_of": "yesterday", "budgets": []}'), "unusable as_of"),
        (Reply(body=b'{"as_of": "2026-12-02T19:00:00", "budgets": []}'), "has no time zone"),
    ],
)
def test_bad_answers_are_one_clear_error(source: BudgetSourceServer, reply: Reply, message: str) -> None:
    source.reply = reply
    read, _ = source_for(source.url, None, 2.0)
    with pytest.raises(SourceError, match="^.*" + message.replace("(", r"\(").replace(")", r"\)")) as caught:
        read()
    assert source.url in str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"spent_usd": 12.5}, r"budgets\[0\]: spent_usd must be a decimal string"),
        ({"spent_usd": "NaN"}, r"budgets\[0\]: spent_usd must be a finite amount"),
        ({"limit_usd": "-1"}, r"limit_usd must be a finite amount >= 0"),
        ({"period": "weekly"}, r"period must be one of daily, monthly"),
        ({"on_stop": "explode"}, r"on_stop must be one of block, downgrade or null"),
        ({"scope": {}}, r"scope must be a non-empty object"),
        ({"scope": {"user_id": "u"}}, r"scope has 'user_id'"),
        ({"resets_at": "soon"}, r"resets_at: Invalid isoformat"),
        ({"stop_at": True}, r"stop_at must be a number"),
        ({"status": None}, r"status must be a non-empty string"),
    ],
)
def test_a_bad_budget_rejects_the_whole_answer(
    source: BudgetSourceServer, change: dict[str, object], message: str
) -> None:
    source.reply = Reply(body=json.dumps(
        {"as_of": "2026-12-02T19:00:00Z", "budgets": [{**budget({"workflow_id": "w"}), **change}]}
    ).encode())  # fmt: skip
    read, _ = source_for(source.url, None, 2.0)
    with pytest.raises(SourceError, match=message):
        read()


def test_a_slow_answer_is_cut_at_the_total_deadline(source: BudgetSourceServer) -> None:
    # 48 bytes at 0.1 s each: every single read is quick, the whole answer takes 5 s.
    source.reply = Reply(body=answer().body, delay_per_byte_s=0.1)
    read, _ = source_for(source.url, None, 0.5)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"too slowly|timed out"):
        read()
    assert time.monotonic() - started < 1.5


def test_an_oversized_answer_is_refused(source: BudgetSourceServer) -> None:
    source.reply = Reply(body=b" " * (MAX_ANSWER_BYTES + 10))
    read, _ = source_for(source.url, None, 5.0)
    with pytest.raises(SourceError, match="more than"):
        read()


def test_an_unreachable_source_names_the_url() -> None:
    with BudgetSourceServer() as server:
        url = server.url
    read, _ = source_for(url, None, 1.0)
    with pytest.raises(SourceError, match=f"cannot read {url}/v1/budgets: .*refused"):
        read()


@pytest.mark.parametrize(
    ("url", "description"),
    [
        ("http://h:9464", "costline serve at http://h:9464/v1/budgets"),
        ("http://h:9464/v1/budgets", "costline serve at http://h:9464/v1/budgets"),
        ("https://h/costline/", "costline serve at https://h/costline/v1/budgets"),
        ("prom+http://prom:9090", "PromQL at http://prom:9090/api/v1/query"),
        ("prom+https://mimir/prometheus", "PromQL at https://mimir/prometheus/api/v1/query"),
        ("http://mimir:9009/prometheus/api/v1/query", "PromQL at http://mimir:9009/prometheus/api/v1/query"),
    ],
)
def test_the_url_chooses_the_source(url: str, description: str) -> None:
    assert source_for(url, None, 1.0)[1] == description


@pytest.mark.parametrize("url", ["ftp://h/x", "h:9464", "prom+ftp://h", "http://"])
def test_an_unusable_url_fails_every_read(url: str) -> None:
    read, _ = source_for(url, None, 1.0)
    with pytest.raises(SourceError, match="is not an http"):
        read()


def _vector(*samples: tuple[dict[str, str], str]) -> dict[str, object]:
    result = [{"metric": labels, "value": [1764702000.0, value]} for labels, value in samples]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_promql_sums_the_replicas_spend_against_the_stop_line() -> None:
    stop = _vector(
        (
            {"workflow_id": "support", "feature_id": "*", "tenant_id": "*", "period": "daily"}
            | {"on_stop": "block", "downgrade_to": ""},
            "10",
        ),
        (
            {
                "workflow_id": "copy",
                "period": "monthly",
                "on_stop": "downgrade",
                "downgrade_to": "gpt-4o-mini",
            },
            "50",
        ),
    )
    spent = _vector(
        ({"workflow_id": "support", "feature_id": "*", "tenant_id": "*", "period": "daily"}, "6"),
        ({"workflow_id": "support", "period": "daily"}, "4.5"),  # the other replica leaves `*` labels out
        ({"workflow_id": "copy", "period": "monthly"}, "49.99"),
    )
    limit = _vector(({"workflow_id": "support", "period": "daily"}, "10"))
    at = datetime(2026, 12, 2, 19, tzinfo=UTC)
    support, copy = sorted(states_from_promql([stop, spent, limit], at, "http://p"), key=lambda s: s.scope)[
        ::-1
    ]
    assert support.scope == (("workflow_id", "support"),)
    assert support.spent_usd == Decimal("10.5")
    assert support.stopped
    assert support.limit_usd == 10
    assert support.stop_at == 100
    assert support.resets_at == datetime(2026, 12, 3, tzinfo=UTC)
    assert support.resets_in_s == 5 * 3600
    assert copy.on_stop == "downgrade"
    assert copy.downgrade_to == "gpt-4o-mini"
    assert not copy.stopped
    assert copy.limit_usd is None
    assert copy.stop_at is None


def test_promql_queries_name_the_budget_series() -> None:
    assert PROMQL_QUERIES == (
        "max by (workflow_id, feature_id, tenant_id, period, on_stop, downgrade_to) (llm_budget_stop_usd)",
        "sum by (workflow_id, feature_id, tenant_id, period) (llm_budget_spent_usd)",
        "max by (workflow_id, feature_id, tenant_id, period) (llm_budget_usd)",
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "error", "error": "parse error at char 4"},
        {"status": "success", "data": {"resultType": "matrix", "result": []}},
        {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "x"]}]},
        },
        "nonsense",
    ],
)
def test_promql_bad_answers_are_one_clear_error(bad: object) -> None:
    good = _vector()
    with pytest.raises(SourceError, match="http://p"):
        states_from_promql([bad, good, good], datetime(2026, 12, 2, tzinfo=UTC), "http://p")
