"""Reading the budgets' state: `GET /v1/budgets` of a `costline serve`, or PromQL over several replicas.

`COSTLINE_BUDGETS_URL` chooses: `http(s)://host:port` (a serve's admin port; `/v1/budgets` is appended
unless the path already ends with it) or a Prometheus-compatible query API, `prom+http(s)://host:port[/prefix]`
or any URL whose path ends with `/api/v1/query` (Prometheus, Mimir's `/prometheus/api/v1/query`).

Stdlib only (urllib). Every read has a total deadline (checked between socket reads, each of
which times out too, so a server answering one byte at a time holds a read at most about twice the
timeout) and a size cap; every failure is a `SourceError` whose message names the URL and what went wrong.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from costline._budget_promql import PROMQL_QUERIES, states_from_promql
from costline._budget_serve_json import states_from_serve
from costline._budget_state import BudgetState, SourceError

MAX_ANSWER_BYTES: Final = 8 * 1024 * 1024
_CHUNK: Final = 64 * 1024
_PROM_PREFIX: Final = "prom+"
_PROM_PATH: Final = "/api/v1/query"
_SERVE_PATH: Final = "/v1/budgets"

Source = Callable[[], tuple[list[BudgetState], float]]  # -> (states, as_of as a Unix time)


def _read(url: str, token: str | None, deadline: float) -> bytes:
    headers = {"Accept": "application/json", "User-Agent": "costline-budget-guard"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise SourceError(f"no answer from {url} in time")
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=remaining) as reply:
            body = bytearray()
            while chunk := reply.read1(_CHUNK):  # what has arrived: the deadline is checked between reads
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise SourceError(f"{url} answered more than {MAX_ANSWER_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise SourceError(f"{url} answered too slowly")
            return bytes(body)
    except urllib.error.HTTPError as exc:
        exc.close()
        hint = " (set COSTLINE_BUDGETS_TOKEN to the serve's bearer token)" if exc.code in (401, 403) else ""
        raise SourceError(f"{url} answered HTTP {exc.code}{hint}") from None
    except (TimeoutError, urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, TimeoutError):
            reason = "timed out"
        raise SourceError(f"cannot read {url}: {reason}") from None


def _json(url: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        shown = body[:60].decode("utf-8", "replace")
        raise SourceError(f"{url} did not answer JSON (starts with {shown!r})") from None


def serve_source(url: str, token: str | None, timeout_s: float) -> Source:
    def read() -> tuple[list[BudgetState], float]:
        deadline = time.monotonic() + timeout_s
        answer = _json(url, _read(url, token, deadline))
        return states_from_serve(answer, url)

    return read


def promql_source(url: str, token: str | None, timeout_s: float) -> Source:
    def read() -> tuple[list[BudgetState], float]:
        deadline = time.monotonic() + timeout_s
        as_of = datetime.now(UTC)
        answers = []
        for query in PROMQL_QUERIES:
            target = f"{url}?{urllib.parse.urlencode({'query': query, 'time': f'{as_of.timestamp():.3f}'})}"
            answers.append(_json(url, _read(target, token, deadline)))
        return states_from_promql(answers, as_of, url), as_of.timestamp()

    return read


def broken_source(message: str) -> Source:
    def read() -> tuple[list[BudgetState], float]:
        raise SourceError(message)

    return read


def source_for(url: str, token: str | None, timeout_s: float) -> tuple[Source, str]:
    """The reader for `url` and a description for log lines (`costline serve at ...`, `PromQL at ...`)."""
    promql = url.startswith(_PROM_PREFIX)
    target = url[len(_PROM_PREFIX) :] if promql else url
    parts = urllib.parse.urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        message = f"COSTLINE_BUDGETS_URL={url!r} is not an http(s):// or prom+http(s):// URL"
        return broken_source(message), url
    path = parts.path.rstrip("/")
    if promql or path.endswith(_PROM_PATH):
        query_path = path if path.endswith(_PROM_PATH) else path + _PROM_PATH
        endpoint = urllib.parse.urlunsplit((parts.scheme, parts.netloc, query_path, "", ""))
        return promql_source(endpoint, token, timeout_s), f"PromQL at {endpoint}"
    budgets_path = path if path.endswith(_SERVE_PATH) else path + _SERVE_PATH
    endpoint = urllib.parse.urlunsplit((parts.scheme, parts.netloc, budgets_path, "", ""))
    return serve_source(endpoint, token, timeout_s), f"costline serve at {endpoint}"
