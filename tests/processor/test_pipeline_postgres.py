"""The pipeline on a PostgreSQL ledger when a COMMIT's answer is lost (real PostgreSQL, a real TCP cut).

The request fails (the sender will retry it) although its transaction happened: its calls are in the
ledger, and the retried request finds them "redelivered", so `observe()` never sees them. The counters
must then come from the ledger, which is what the pipeline does after such a failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from costline_processor.ledger.pg.store import PostgresLedger
from costline_processor.metrics import CostMetrics, SelfTelemetry
from costline_processor.pipeline import Pipeline, Unavailable
from costline_processor.pricing import Pricer
from genai_spans import Call, encode_request, make_spans
from pg_cutting_proxy import CuttingProxy
from postgres_server import PostgresServer

M = Decimal(1_000_000)
CALLS = [Call("openai", "gpt-4o", 1_000 + n, 100, response_id=f"chatcmpl-cut-{n}") for n in range(6)]
# gpt-4o: $2.50 per million input tokens, $10 per million output tokens
COST = sum(
    (c.input_tokens * Decimal("2.50") / M + c.output_tokens * Decimal(10) / M for c in CALLS), Decimal(0)
)


@pytest.fixture
def proxy(postgres: PostgresServer) -> Iterator[CuttingProxy]:
    cutting = CuttingProxy(postgres.port)
    yield cutting
    cutting.close()


def test_a_commit_whose_answer_was_lost_is_counted_once_by_the_metrics(
    pg_database: str, postgres: PostgresServer, proxy: CuttingProxy
) -> None:
    database = pg_database.rsplit("/", 1)[1]
    url = postgres.url(database).replace(f":{postgres.port}/", f":{proxy.port}/") + "?sslmode=disable"
    telemetry = SelfTelemetry()
    metrics = CostMetrics(service_instance_id="r", telemetry=telemetry)
    with PostgresLedger(url, read_only=False, replica_id="r") as ledger:
        pipeline = Pipeline(pricer=Pricer.load(None), ledger=ledger, metrics=metrics, telemetry=telemetry,
                            forwarder=None, max_inflight=4)  # fmt: skip
        first, second = encode_request(make_spans(CALLS[:3])), encode_request(make_spans(CALLS[3:]))
        assert pipeline.export(first).new_calls == 3
        proxy.cut_after_next_commit()
        with pytest.raises(Unavailable):
            pipeline.export(second)  # committed, but the answer never came
        assert proxy.cuts == 1
        assert ledger.totals().requests == 6  # it did commit (read once reconnected)
        retried = pipeline.export(second)  # what the collector does
        assert retried.new_calls == 0  # the ledger recognises them
        assert _requests(metrics) == 6
        assert _cost(metrics) == COST
        assert ledger.verify() == []


def _requests(metrics: CostMetrics) -> int:
    return sum(metrics.snapshot().requests.values())


def _cost(metrics: CostMetrics) -> Decimal:
    return sum((sum(parts, Decimal(0)) for parts in metrics.snapshot().cost.values()), Decimal(0))
