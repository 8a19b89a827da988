"""Prometheus text exposition (0.0.4) and OpenMetrics 1.0 of a `MetricsSnapshot`.

Always present, even before the first call: `costline_counters_start_time_seconds`, which the window
queries (`costline_processor.window_promql`) use to tell a series born inside a window from one hidden by
a gap.

OpenMetrics is what carries exemplars: each `llm_cost_usd_total` sample links to the trace of the latest
call that added to it (`# {trace_id="...",span_id="..."} value timestamp`). Serve it when the scraper
asks for it (`wants_openmetrics(accept_header)`); Prometheus does with `--enable-feature=exemplar-storage`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Final

from costline_processor import metric_names as names
from costline_processor.metrics.budget_series import budget_families
from costline_processor.metrics.self_telemetry import DEFAULT_HELP, HELP, LabelSet
from costline_processor.metrics.snapshot import Exemplar, MetricsSnapshot

PROMETHEUS_CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE: Final = "application/openmetrics-text; version=1.0.0; charset=utf-8"
_BASE_LABELS: Final = names.COST_LABELS[:-1]  # without token_type
COUNTERS_START_HELP: Final = (
    "When this instance's counters started from zero (its ledger's creation), Unix seconds; "
    "a new value means they were reset."
)

# (label names, label values, value, exemplar)
Sample = tuple[Sequence[str], Sequence[str], float | int, Exemplar | None]


def wants_openmetrics(accept: str | None) -> bool:
    """Whether an HTTP Accept header asks for OpenMetrics (the format with exemplars)."""
    return accept is not None and "application/openmetrics-text" in accept


def content_type(openmetrics: bool) -> str:
    return OPENMETRICS_CONTENT_TYPE if openmetrics else PROMETHEUS_CONTENT_TYPE


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def _labels(label_names: Sequence[str], values: Sequence[str]) -> str:
    return ",".join(f'{name}="{_escape(value)}"' for name, value in zip(label_names, values, strict=True))


def _exemplar(exemplar: Exemplar) -> str:
    trace_id, span_id, value, time_ns = exemplar
    labels = f'trace_id="{trace_id.hex()}",span_id="{span_id.hex()}"'
    return f" # {{{labels}}} {_number(float(value))} {time_ns / 1e9:.3f}"


def _family(
    out: list[str], name: str, kind: str, help_text: str, samples: Iterable[Sample], *, openmetrics: bool
) -> None:
    family = name[: -len("_total")] if openmetrics and kind == "counter" else name
    out.append(f"# HELP {family} {help_text}\n# TYPE {family} {kind}\n")
    for label_names, values, value, exemplar in samples:
        labels = f"{{{_labels(label_names, values)}}}" if label_names else ""
        line = f"{name}{labels} {_number(value)}"
        if openmetrics and exemplar is not None:
            line += _exemplar(exemplar)
        out.append(line + "\n")


def _cost_samples(snapshot: MetricsSnapshot) -> Iterable[Sample]:
    for labels, costs in snapshot.cost.items():
        exemplars = snapshot.exemplars.get(labels) or [None] * 4
        for token_type, cost, exemplar in zip(names.TOKEN_TYPES, costs, exemplars, strict=True):
            yield names.COST_LABELS, (*labels, token_type), float(cost), exemplar


def _token_samples(snapshot: MetricsSnapshot) -> Iterable[Sample]:
    for labels, tokens in snapshot.tokens.items():
        for token_type, count in zip(names.TOKEN_TYPES, tokens, strict=True):
            yield names.COST_LABELS, (*labels, token_type), count, None


def _self_samples(series: dict[LabelSet, float]) -> Iterable[Sample]:
    for label_set, value in sorted(series.items()):
        yield [k for k, _ in label_set], [v for _, v in label_set], value, None


def render(snapshot: MetricsSnapshot, *, openmetrics: bool = False) -> bytes:
    """Render every cost metric, then the processor's self-telemetry."""
    out: list[str] = []
    family = functools.partial(_family, out, openmetrics=openmetrics)
    family(names.PROM_COST_USD_TOTAL, "counter", "LLM cost in USD, by token type.", _cost_samples(snapshot))
    family(names.PROM_TOKENS_TOTAL, "counter", "Provider-reported LLM tokens, by token type.",
           _token_samples(snapshot))  # fmt: skip
    requests = (
        (names.REQUEST_LABELS, (*labels, status), n, None)
        for (labels, status), n in snapshot.requests.items()
    )
    family(names.PROM_REQUESTS_TOTAL, "counter", "LLM calls (priced or not), by status.", requests)
    family(names.PROM_UNPRICED_REQUESTS_TOTAL, "counter", "LLM calls that could not be priced.",
           ((names.UNPRICED_LABELS, key, n, None) for key, n in snapshot.unpriced.items()))  # fmt: skip
    for budget in budget_families(snapshot):
        if budget.samples or budget.prom_name == names.PROM_BUDGET_USD:
            samples = ((label_names, values, value, None) for label_names, values, value in budget.samples)
            family(budget.prom_name, budget.kind, budget.help, samples)
    family(names.PROM_WORKFLOW_OUTCOMES_TOTAL, "counter", "Business outcomes recorded by app code.",
           ((names.OUTCOME_LABELS, key, n, None) for key, n in snapshot.outcomes.items()))  # fmt: skip
    family(names.PROM_COUNTERS_START_TIME_SECONDS, "gauge", COUNTERS_START_HELP,
           [((), (), snapshot.start_time_ns / 1e9, None)])  # fmt: skip
    telemetry = snapshot.telemetry
    for name, series in sorted(telemetry.counters.items()):
        family(name, "counter", HELP.get(name, DEFAULT_HELP), _self_samples(series))
    for name, series in sorted(telemetry.gauges.items()):
        family(name, "gauge", HELP.get(name, DEFAULT_HELP), _self_samples(series))
    if openmetrics:
        out.append("# EOF\n")
    return "".join(out).encode("utf-8")
