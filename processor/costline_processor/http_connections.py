"""The HTTP/1.1 server under the OTLP/HTTP receiver: one thread per connection, a bounded number of them.

A connection beyond the bound is not closed unanswered (a sender sees that as a reset and may drop its
batch): it waits to be served until a thread is free. Every answer the receiver does not write itself
(a malformed request line or header, a method HTTP does not define) is short plain text, never the
standard library's HTML page.
"""

from __future__ import annotations

import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Protocol

logger = logging.getLogger("costline.receiver.http")

# Connections waiting for a thread queue here (the kernel caps it at net.core.somaxconn).
LISTEN_BACKLOG: Final = 1024
IDLE_CONNECTION_TIMEOUT_S: Final = 30.0
DISCARD_CHUNK_BYTES: Final = 64 * 1024
TEXT: Final = "text/plain; charset=utf-8"
_SLOT_POLL_S: Final = 0.05


class Receiver(Protocol):
    """What the server hands each request to."""

    @property
    def stopping(self) -> bool: ...

    def handle(self, handler: RequestHandler) -> None:
        """A POST."""

    def refuse_method(self, handler: RequestHandler) -> None:
        """Any other method HTTP defines."""


class ConnectionSlots:
    """At most `limit` connections (threads) at once."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._used = 0
        self._changed = threading.Condition()

    def acquire(self, timeout_s: float) -> bool:
        with self._changed:
            if self._used >= self._limit:
                self._changed.wait(timeout_s)
            if self._used >= self._limit:
                return False
            self._used += 1
            return True

    def release(self) -> None:
        with self._changed:
            self._used -= 1
            self._changed.notify()

    @property
    def scarce(self) -> bool:
        """Most slots are taken: answers should close their connection, so waiting senders get a turn."""
        return self._used * 4 >= self._limit * 3


class ThreadPerConnectionServer(ThreadingHTTPServer):
    """Accepts a connection only when one of `max_connections` threads is free to serve it.

    Until then it waits in the listen backlog (or, one at a time, accepted): the sender sees a slow
    answer, never a reset. While `receiver.stopping`, a connection still waiting is closed.
    """

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], receiver: Receiver, max_connections: int) -> None:
        super().__init__(address, RequestHandler)
        self.receiver = receiver
        self.connection_slots = ConnectionSlots(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        while not self.connection_slots.acquire(timeout_s=_SLOT_POLL_S):
            if self.receiver.stopping:
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.connection_slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connection_slots.release()


class RequestHandler(BaseHTTPRequestHandler):
    server: ThreadPerConnectionServer
    protocol_version = "HTTP/1.1"  # keep-alive, as OTLP exporters expect
    timeout = IDLE_CONNECTION_TIMEOUT_S
    body_consumed = False  # per request: the body was read (or cannot be): nothing is left to discard

    def do_POST(self) -> None:
        self.body_consumed = False
        self.server.receiver.handle(self)

    def do_GET(self) -> None:
        self.body_consumed = False
        self.server.receiver.refuse_method(self)

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What the standard library answers itself (400, 414, 431, 501, 505), as plain text."""
        self.log_error("code %d, message %s", code, message)
        try:
            phrase = message or HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self.close_connection = True
        self.send_response(code, message)
        self.send_text(f"{code} {phrase}\n")

    def send_text(self, text: str) -> None:
        """Headers and a plain-text body after `send_response` (no body for HEAD, as HTTP requires)."""
        body = text.encode()
        self.send_header("Content-Type", TEXT)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def content_length(self) -> int | None:
        header = self.headers.get("Content-Length")
        if header is None or not header.strip().isdigit():
            return None
        return int(header)

    def discard_body(self, max_bytes: int) -> None:
        """Read and drop a body that will not be used, in small chunks (bounded memory).

        Left unread, its bytes would be parsed as the next request on a kept-alive connection, and
        closing a socket with unread input makes the kernel send a reset, which can destroy our answer
        in the sender's buffers. A body without a usable length, or larger than `max_bytes`, closes the
        connection instead.
        """
        if self.body_consumed:
            return
        self.body_consumed = True
        has_no_body = "Content-Length" not in self.headers and "Transfer-Encoding" not in self.headers
        remaining = 0 if has_no_body else self.content_length()  # HTTP/1.1: neither header, no body
        if remaining is None or remaining > max_bytes:
            self.close_connection = True
            return
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, DISCARD_CHUNK_BYTES))
            if not chunk:
                self.close_connection = True
                return
            remaining -= len(chunk)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)
