"""A budgets source for unit tests: a 127.0.0.1 HTTP server answering GETs with what the test sets.

It speaks the shape of `GET /v1/budgets` (BUDGETS_CONTRACT.md) or anything else a test wants to try the
guard with: garbage, HTTP errors, slow (byte-by-byte) answers. End-to-end tests use a real `costline serve`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"as_of": "2026-12-02T19:00:00Z", "budgets": []}'
    delay_per_byte_s: float = 0.0  # > 0: the body dribbles out one byte at a time
    content_type: str = "application/json"


@dataclass
class Seen:
    path: str
    headers: dict[str, str] = field(default_factory=dict)


def budget(
    scope: dict[str, str],
    *,
    period: str = "monthly",
    limit: str = "1200",
    spent: str = "1452.1034",
    stop_at: int | None = 120,
    on_stop: str | None = "block",
    downgrade_to: str | None = None,
    status: str = "stopped",
    resets_at: str = "2027-01-01T00:00:00Z",
) -> dict[str, Any]:
    """One entry of `budgets` as costline serve answers it (the contract's example by default)."""
    key = ";".join(f"{k}={v}" for k, v in scope.items())
    return {
        "id": f"{key};period={period}",
        "scope": scope,
        "period": period,
        "period_start": "2026-12-01T00:00:00Z",
        "resets_at": resets_at,
        "limit_usd": limit,
        "spent_usd": spent,
        "ratio": str(round(float(spent) / float(limit), 4)),
        "projected_usd": spent,
        "alert_at": [50, 80, 100],
        "stop_at": stop_at,
        "on_stop": on_stop,
        "downgrade_to": downgrade_to,
        "status": status,
    }


def answer(*budgets: dict[str, Any], as_of: datetime | None = None) -> Reply:
    moment = as_of or datetime(2026, 12, 2, 19, tzinfo=UTC)
    body = {"as_of": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "budgets": list(budgets)}
    return Reply(body=json.dumps(body).encode())


def resets_in(seconds: float, as_of: datetime) -> str:
    return (as_of + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        owner = self.server.owner
        reply = owner.seen_request(Seen(self.path, dict(self.headers)))
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        try:
            if reply.delay_per_byte_s <= 0:
                self.wfile.write(reply.body)
                return
            for index in range(len(reply.body)):
                self.wfile.write(reply.body[index : index + 1])
                self.wfile.flush()
                time.sleep(reply.delay_per_byte_s)
        except (BrokenPipeError, ConnectionResetError):  # the guard gave up: that is the point
            return

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: BudgetSourceServer


class BudgetSourceServer:
    """`with BudgetSourceServer() as source: source.reply = answer(budget(...)); source.url ...`"""

    def __init__(self) -> None:
        self.reply = Reply()
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def seen_request(self, seen: Seen) -> Reply:
        with self._lock:
            self.seen.append(seen)
            return self.reply

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
