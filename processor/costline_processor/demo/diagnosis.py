"""Why a demo run recorded fewer calls than it made: what the ledger, the app and `costline serve` each saw.

A shortfall is explained with facts a user can check, never with "see the logs": the ledger file that was
read and its row count, how many calls the app made and what it wrote to its log, and what `costline serve`
counted on its /metrics endpoint (spans received, calls priced, requests refused or rejected) and logged.
"""

from __future__ import annotations

import http.client
import re
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from costline_processor import metric_names as names

SCRAPE_TIMEOUT_S: Final = 5.0
_SAMPLE_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_SERVE_ERROR = re.compile(r" (ERROR|CRITICAL) |^Traceback ")
MAX_QUOTED_CHARS: Final = 300
_SERVE_COUNTERS: Final = (
    names.SELF_SPANS_RECEIVED,
    names.SELF_LLM_SPANS_RECEIVED,
    names.SELF_SPANS_PRICED,
    names.SELF_REQUESTS_REFUSED,
    names.SELF_REQUESTS_INVALID,
)


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What a demo run left behind, gathered while `costline serve` still ran (its counters die with it)."""

    ledger_path: Path
    calls_planned: int
    calls_made: int
    app_log: Path
    serve_log: Path
    serve_counters: dict[str, float] | None  # None: its /metrics could not be read


def recorded_calls(ledger: Path) -> int:
    """Rows in the ledger's calls table (0 when the file does not exist; it is never created here)."""
    from costline_processor.ledger import Ledger  # noqa: PLC0415 - SQLite and the schema only when needed

    if not ledger.exists():
        return 0
    with Ledger(ledger, read_only=True) as store:
        return store.call_count()


def scrape_counters(metrics_port: int) -> dict[str, float] | None:
    """Every sample of serve's Prometheus exposition summed by name over its labels; None if unreachable."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=SCRAPE_TIMEOUT_S) as reply:
            text = reply.read().decode("utf-8", errors="replace")
    except (OSError, http.client.HTTPException):
        return None
    totals: dict[str, float] = defaultdict(float)
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = _SAMPLE_NAME.match(line)
        head, _, value = line.rpartition(" ")  # the exposition has no timestamps: the value is last
        if name and head:
            totals[name.group(0)] += float(value)
    return dict(totals)


def explain_shortfall(facts: RunFacts) -> str:
    """A few lines saying where the calls were looked for and how far each part of the demo got."""
    lines = [
        f"only {recorded_calls(facts.ledger_path):,} of {facts.calls_planned:,} calls reached the ledger",
        f"ledger read: {_ledger_state(facts.ledger_path)}",
        f"the app made {facts.calls_made:,} calls; {_app_log_state(facts.app_log)}",
        f"costline serve {_serve_counts(facts.serve_counters)}; {_serve_log_state(facts.serve_log)}",
    ]
    hint = _hint(facts)
    head, *details = [*lines, hint] if hint else lines
    return "\n".join([head, *(f"  {line}" for line in details)])


def _ledger_state(ledger: Path) -> str:
    if not ledger.exists():
        return f"{ledger} does not exist"
    return f"{ledger} ({_count(recorded_calls(ledger), 'row')})"


def _app_log_state(log: Path) -> str:
    lines = _log_lines(log)
    if not lines:
        return f"{log} is empty"
    exporting = sum("export" in line.lower() for line in lines)
    about = f"{exporting:,} about exporting spans"
    return f"{log} has {_count(len(lines), 'line')} ({about}), the first: {_quote(lines[0])}"


def _serve_counts(counters: dict[str, float] | None) -> str:
    if counters is None:
        return "did not answer on its /metrics endpoint"
    count = {name: int(counters.get(name, 0)) for name in _SERVE_COUNTERS}
    return (
        f"received {count[names.SELF_SPANS_RECEIVED]:,} spans "
        f"({count[names.SELF_LLM_SPANS_RECEIVED]:,} LLM spans), "
        f"priced {count[names.SELF_SPANS_PRICED]:,} calls, "
        f"refused {count[names.SELF_REQUESTS_REFUSED]:,} and rejected {count[names.SELF_REQUESTS_INVALID]:,} "
        "export requests"
    )


def _serve_log_state(log: Path) -> str:
    errors = [line for line in _log_lines(log) if _SERVE_ERROR.search(line)]
    if not errors:
        return f"{log} has no errors"
    return f"{log} has {_count(len(errors), 'error')}, the first: {_quote(errors[0])}"


def _hint(facts: RunFacts) -> str | None:
    counters = facts.serve_counters or {}
    priced = int(counters.get(names.SELF_SPANS_PRICED, 0))
    if facts.serve_counters is not None and priced >= facts.calls_planned:
        return "costline serve priced every call, so it wrote them to another ledger file than the one read"
    if facts.serve_counters is not None and not counters.get(names.SELF_SPANS_RECEIVED):
        return "no span reached costline serve: the app's OTLP exporter did not deliver them"
    return None


def _log_lines(log: Path) -> list[str]:
    if not log.exists():
        return []
    return [line for line in log.read_text(errors="replace").splitlines() if line.strip()]


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def _quote(line: str) -> str:
    return repr(line if len(line) <= MAX_QUOTED_CHARS else line[:MAX_QUOTED_CHARS] + "...")
