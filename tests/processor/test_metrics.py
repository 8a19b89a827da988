"""Cost metrics: counted once from the ledger, continuous across restarts, bounded, valid exposition."""

from __future__ import annotations

import os
import shutil
import subprocess
import tracemalloc
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from _ledger_factories import all_new, make_call, priced, unpriced
from prometheus_client.openmetrics import parser as openmetrics_parser
from prometheus_client.parser import text_string_to_metric_families

from costline.attributes import UNATTRIBUTED
from costline_processor import metric_names as names
from costline_processor.budgets import parse_budgets
from costline_processor.ledger import Ledger
from costline_processor.metrics import CostMetrics, LabelLimits, sanitize, wants_openmetrics
from costline_processor.model import Outcome, PricedCall

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: bytes, prefix: str = "llm_") -> Samples:
    """Every sample of the Prometheus text, parsed by the reference parser."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
        if s.name.startswith(prefix)
    }


def value(parsed: Samples, name: str, **labels: str) -> float:
    matches = [v for (n, ls), v in parsed.items() if n == name and set(labels.items()) <= ls]
    assert matches, f"no {name}{labels}"
    return sum(matches)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        yield ledger


def test_counters_follow_the_ledger_and_ignore_duplicates(ledger: Ledger) -> None:
    metrics = CostMetrics()
    batch = [priced(make_call(1), output="0.1"), priced(make_call(2), output="0.2")]
    metrics.observe(ledger.record(batch))
    metrics.observe(ledger.record(batch))  # redelivered: no change
    metrics.observe(ledger.record([priced(make_call(3, trace=2, response_id="resp-2"))]))  # same call

    parsed = samples(metrics.render_prometheus())
    assert (
        value(parsed, "llm_cost_usd_total", workflow_id="support", token_type="output") == 0.3
    )  # exact (0.1 + 0.2 in float is not)
    assert value(parsed, "llm_requests_total", status="ok") == 2
    assert (
        value(parsed, "llm_tokens_total", token_type="input") == 1200
    )  # 1000 - 300 cached - 100 written, x2
    assert metrics.telemetry.value(names.SELF_SPANS_PRICED) == 2
    assert metrics.telemetry.value(names.SELF_DUPLICATES_IGNORED, kind="redelivered") == 2
    assert metrics.telemetry.value(names.SELF_DUPLICATES_IGNORED, kind="duplicate_call") == 1


def test_every_call_is_a_request_but_only_priced_calls_cost(ledger: Ledger) -> None:
    metrics = CostMetrics()
    metrics.observe(ledger.record([
        priced(make_call(1, tenant="acme", user="ana@example.com")),
        priced(make_call(2, error_type="APITimeoutError")),
        unpriced(make_call(3, model="mystery-1"), names.REASON_UNKNOWN_MODEL),
        unpriced(make_call(4, model=None, usage=None), names.REASON_NO_USAGE),
        unpriced(make_call(5), names.REASON_INVALID_USAGE),
    ]))  # fmt: skip
    text = metrics.render_prometheus()
    parsed = samples(text)

    assert value(parsed, "llm_requests_total") == 5
    assert value(parsed, "llm_requests_total", status="error") == 1
    assert value(parsed, "llm_unpriced_requests_total") == 3
    assert value(parsed, "llm_unpriced_requests_total", model=names.UNKNOWN_MODEL, reason="no_usage") == 1
    assert not [ls for n, ls in parsed if n == "llm_cost_usd_total" and ("model", "mystery-1") in ls]
    assert value(parsed, "llm_tokens_total", model="mystery-1", token_type="output") == 200  # documented
    assert value(parsed, "llm_tokens_total", token_type="output") == 3 * 200  # invalid usage: no tokens
    assert value(parsed, "llm_cost_usd_total", tenant_id="acme") == pytest.approx(0.004)
    assert value(parsed, "llm_requests_total", tenant_id=UNATTRIBUTED, feature_id=UNATTRIBUTED) == 4
    assert b"user_id" not in text
    assert b"ana@example.com" not in text


def test_costs_are_summed_exactly_and_rounded_only_when_rendered() -> None:
    metrics = CostMetrics()
    calls = [
        priced(make_call(n), input="0.1", cache_read="0", cache_write="0", output="0") for n in range(10)
    ]
    metrics.observe(all_new(calls))
    (costs,) = metrics.snapshot().cost.values()
    assert costs[0] == Decimal("1.0")  # a float running sum would be 0.9999999999999999
    assert value(samples(metrics.render_prometheus()), "llm_cost_usd_total", token_type="input") == 1.0


def test_outcomes_and_budgets_are_exported(ledger: Ledger) -> None:
    metrics = CostMetrics(budgets=parse_budgets("support: 1200.50\nsales: 0\n"))
    outcome = Outcome(b"t" * 16, b"s" * 8, 1, "support", "ticket_resolved", 2)
    metrics.observe(ledger.record([], [outcome]))
    metrics.observe(ledger.record([], [outcome]))
    parsed = samples(metrics.render_prometheus())
    assert value(parsed, "llm_workflow_outcomes_total", workflow_id="support", outcome="ticket_resolved") == 2
    assert value(parsed, "llm_budget_usd", workflow_id="support", period="monthly") == 1200.5
    assert value(parsed, "llm_budget_usd", workflow_id="sales") == 0
    assert metrics.telemetry.value(names.SELF_DUPLICATES_IGNORED, kind="outcome") == 1


def _batches(start: int, count: int) -> list[tuple[list[PricedCall], list[Outcome]]]:
    """Batches of ten calls over 13 workflows and 3 tenants, every fifth unpriced, and two outcomes, one
    of them for a workflow that has outcomes only (`campaign<batch>`)."""
    batches = []
    for batch in range(start, start + count, 10):
        calls = [
            priced(make_call(n, workflow=f"wf{n % 13}", tenant=f"t{n % 3}"), output=f"0.00{n % 7}1")
            if n % 5 else unpriced(make_call(n, workflow=f"wf{n % 13}", model=f"m{n % 4}"), "unknown_model")
            for n in range(batch, batch + 10)
        ]  # fmt: skip
        wins = [
            Outcome(batch.to_bytes(16, "big"), b"o" * 8, batch, f"wf{batch % 13}", "won", 1),
            Outcome(batch.to_bytes(16, "big"), b"p" * 8, batch, f"campaign{batch // 10}", "signup", 2),
        ]
        batches.append((calls, wins))
    return batches


def test_a_restart_continues_every_counter_exactly(tmp_path: Path) -> None:
    # 12 workflow ids fit: wf0..wf9 and campaign0 (batch 0), wf10 (batch 1); wf11, wf12, campaign1.. overflow.
    # The decisions depend on the order calls and outcomes arrived in, and must survive the restart.
    limits = LabelLimits(max_values_per_label=12)
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    live = CostMetrics(limits=limits)
    live.seed_from(ledger)  # an empty ledger: counters start at zero
    for calls, outcomes in _batches(0, 200):
        live.observe(ledger.record(calls, outcomes))
    before = live.render_prometheus()
    ledger.close()

    reopened = Ledger(tmp_path / "ledger.sqlite3")
    restarted = CostMetrics(limits=limits)
    restarted.seed_from(reopened)

    assert samples(restarted.render_prometheus()) == samples(before)
    assert samples(restarted.render_prometheus()) != {}
    assert restarted.snapshot().cost == live.snapshot().cost  # Decimal-exact, not just float-equal
    assert restarted.service_instance_id == live.service_instance_id == reopened.instance_id
    # From here on both count the same new calls the same way (same overflow decisions).
    for calls, outcomes in _batches(200, 100):
        result = reopened.record(calls, outcomes)
        live.observe(result)
        restarted.observe(result)
    assert samples(restarted.render_prometheus()) == samples(live.render_prometheus())
    final = samples(live.render_prometheus())
    assert value(final, "llm_requests_total") == 300
    assert value(final, "llm_workflow_outcomes_total", workflow_id="campaign0") == 2
    assert not [labels for _, labels in final if ("workflow_id", "wf11") in labels]
    # wf11 and wf12 are 2 of every 13 calls: 23 + 23 of 300
    assert value(final, "llm_requests_total", workflow_id=names.OVERFLOW_LABEL_VALUE) == 46
    reopened.close()


def test_the_counters_start_time_is_the_ledgers_creation_before_and_after_a_restart(tmp_path: Path) -> None:
    """The window queries read it to tell a series born in a window from one hidden by a gap (and a reset
    from a restart), so it is there before the first call and does not move when the process restarts."""
    gauge = names.PROM_COUNTERS_START_TIME_SECONDS
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        empty = CostMetrics()
        empty.seed_from(ledger)
        assert samples(empty.render_prometheus(), gauge) == {(gauge, frozenset()): ledger.created_ns / 1e9}
        empty.observe(ledger.record([priced(make_call(1))]))
        created = ledger.created_ns
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        restarted = CostMetrics()
        restarted.seed_from(ledger)
        for openmetrics in (False, True):
            text = restarted.render_prometheus(openmetrics=openmetrics).decode()
            assert f"{gauge} {created / 1e9!r}\n" in text


def test_100k_distinct_workflow_ids_stay_bounded() -> None:
    metrics = CostMetrics()  # default: 500 values per label
    batches = [
        [priced(make_call(n, workflow=f"run-{n}")) for n in range(s, s + 1000)]
        for s in range(0, 100_000, 1000)
    ]
    for batch in batches[:95]:
        metrics.observe(all_new(batch))
    del batch
    tracemalloc.start()  # slow: only around the last 5,000 distinct ids
    for batch in batches[95:]:
        metrics.observe(all_new(batch))
    retained, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    snapshot = metrics.snapshot()
    assert len(snapshot.cost) == metrics.series_count == 501  # 500 admitted + __overflow__
    assert len(snapshot.requests) == 501
    assert metrics.telemetry.value(names.SELF_LABEL_OVERFLOW, label="workflow_id") == 99_500
    overflow = (names.OVERFLOW_LABEL_VALUE, UNATTRIBUTED, UNATTRIBUTED, "checkout", "openai", "gpt-4o")
    assert snapshot.requests[overflow, "ok"] == 99_500
    assert sum(snapshot.requests.values()) == 100_000  # nothing is lost, it is folded
    assert retained < 256 * 1024  # 5,000 more distinct ids retained (almost) nothing


def test_the_label_set_count_is_capped_too() -> None:
    metrics = CostMetrics(limits=LabelLimits(max_values_per_label=1000, max_series=50))
    calls = [priced(make_call(n, workflow=f"wf{n % 40}", tenant=f"t{n // 40}")) for n in range(400)]
    metrics.observe(all_new(calls))
    assert metrics.series_count == 50
    assert len(metrics.snapshot().cost) == 51
    assert metrics.telemetry.value(names.SELF_LABEL_OVERFLOW, label="__series__") == 350


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("customer_support", "customer_support"),
        ("line\nbreak\ttab", "line_break_tab"),
        ("nul\x00bell\x07", "nul_bell_"),
        ("bad\udcffbyte", "bad_byte"),  # an undecodable byte, as surrogateescape leaves it
        ("x" * 500, "x" * 128),
        ('quote"back\\slash', 'quote"back\\slash'),  # valid: escaped by the exposition, not changed
        ("ünïcødé-ok", "ünïcødé-ok"),
    ],
)
def test_label_values_are_sanitised(raw: str, expected: str) -> None:
    assert sanitize(raw, 128) == expected
    metrics = CostMetrics()
    metrics.observe(all_new([priced(make_call(1, workflow=raw))]))
    text = metrics.render_prometheus()
    assert value(samples(text), "llm_requests_total", workflow_id=expected) == 1
    _promtool_check(text)


def test_exposition_passes_promtool(ledger: Ledger) -> None:
    metrics = CostMetrics(budgets=parse_budgets("support: 100"))
    metrics.telemetry.set_gauge(names.SELF_INFLIGHT_BATCHES, 0)
    for calls, outcomes in _batches(0, 50):
        metrics.observe(ledger.record(calls, outcomes))
    _promtool_check(metrics.render_prometheus())
    _promtool_check(CostMetrics().render_prometheus())  # an empty one too


def _promtool_check(text: bytes) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is not installed (apt-get install prometheus)")
        pytest.skip("promtool is not installed")
    check = [promtool, "check", "metrics"]
    result = subprocess.run(check, check=False, input=text, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_openmetrics_carries_trace_exemplars_on_the_cost_counter() -> None:
    metrics = CostMetrics()
    first, last = make_call(1), make_call(2)
    metrics.observe(all_new([priced(first), priced(last, cache_write="0")]))
    text = metrics.render_prometheus(openmetrics=True).decode()

    parsed = openmetrics_parser.text_string_to_metric_families(text)  # type: ignore[no-untyped-call]
    families = {f.name: f for f in parsed}  # the strict OpenMetrics parser accepted it
    assert families["llm_cost_usd"].type == "counter"
    exemplars = {s.labels["token_type"]: s.exemplar for s in families["llm_cost_usd"].samples}
    assert exemplars["output"].labels == {"trace_id": last.trace_id.hex(), "span_id": last.span_id.hex()}
    assert exemplars["output"].value == 0.002
    assert exemplars["cache_write"].labels["trace_id"] == first.trace_id.hex()  # last call had none
    assert all(s.exemplar is None for s in families["llm_tokens"].samples)
    assert text.endswith("# EOF\n")
    assert wants_openmetrics("application/openmetrics-text; version=1.0.0,text/plain;q=0.5")
    assert not wants_openmetrics("text/plain")
    assert not wants_openmetrics(None)
