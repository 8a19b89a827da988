"""The HTTP/1.1 server under the OTLP/HTTP receiver: one thread per connection, a bounded number of them.

A connection beyond the bound is not closed unanswered (a sender sees that as a reset and may drop its
batch): it waits to be served until a thread is free. With TLS, the handshake runs in the connection's
thread, never in the accepting one, and must finish within a deadline: a client that connects and sends
nothing (or a ClientHello one byte at a time, or garbage) holds one thread for that long, at most.
Answers are plain text (`plain_http`).
"""

from __future__ import annotations

import logging
import selectors
import socket
import ssl
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any, Final, Protocol

from costline_processor.plain_http import PlainTextHandler

logger = logging.getLogger("costline.receiver.http")

# Connections waiting for a thread queue here (the kernel caps it at net.core.somaxconn).
LISTEN_BACKLOG: Final = 1024
_SLOT_POLL_S: Final = 0.05


class Receiver(Protocol):
    """What the server hands each request to."""

    @property
    def stopping(self) -> bool: ...

    def handle(self, handler: RequestHandler) -> None:
        """A POST."""

    def refuse_method(self, handler: RequestHandler) -> None:
        """Any other method HTTP defines."""

    def tls_handshake_failed(self) -> None:
        """A connection did not complete its TLS handshake in time (idle, slow, not TLS, rejected)."""


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
    answer, never a reset. While `receiver.stopping`, a connection still waiting is closed. With
    `ssl_context`, the listening socket stays plain TCP and each connection's thread does the handshake.
    """

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        address: tuple[str, int],
        receiver: Receiver,
        max_connections: int,
        *,
        ssl_context: ssl.SSLContext | None,
        handshake_timeout_s: float,
    ) -> None:
        super().__init__(address, RequestHandler)
        self.receiver = receiver
        self.connection_slots = ConnectionSlots(max_connections)
        self._ssl_context = ssl_context
        self._handshake_timeout_s = handshake_timeout_s

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
            if self._ssl_context is not None:
                request = self._handshake(request, client_address, self._ssl_context)
            if request is not None:
                super().process_request_thread(request, client_address)
        finally:
            self.connection_slots.release()

    def _handshake(
        self, connection: socket.socket, client_address: Any, context: ssl.SSLContext
    ) -> ssl.SSLSocket | None:
        try:
            return tls_handshake(connection, context, self._handshake_timeout_s)
        except OSError as exc:  # ssl.SSLError and TimeoutError included
            logger.debug("%s: no TLS handshake: %s", client_address[0], exc)
            self.receiver.tls_handshake_failed()
            self.shutdown_request(connection)  # closes it, if the TLS socket did not take it over
            return None


def tls_handshake(connection: socket.socket, context: ssl.SSLContext, timeout_s: float) -> ssl.SSLSocket:
    """The server side of a TLS handshake on `connection`, completed within `timeout_s` in all.

    A timeout per read would not do: a client sending a byte just before each one expires would hold
    the thread forever. Raises OSError (`ssl.SSLError`, `TimeoutError`); the TLS socket is then closed.
    """
    deadline = time.monotonic() + timeout_s
    tls = context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
    try:
        tls.setblocking(False)
        with selectors.DefaultSelector() as selector:
            selector.register(tls, selectors.EVENT_READ)
            while not _handshake_done(tls, selector):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    raise TimeoutError(f"no TLS handshake within {timeout_s:g}s")
        tls.setblocking(True)  # the request handler sets its own idle timeout
    except BaseException:
        tls.close()
        raise
    return tls


def _handshake_done(tls: ssl.SSLSocket, selector: selectors.BaseSelector) -> bool:
    """One step of a non-blocking handshake; if not done, `selector` then waits for what it needs."""
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        selector.modify(tls, selectors.EVENT_READ)
        return False
    except ssl.SSLWantWriteError:
        selector.modify(tls, selectors.EVENT_WRITE)
        return False
    return True


class RequestHandler(PlainTextHandler):
    server: ThreadPerConnectionServer
    logger = logger

    def do_POST(self) -> None:
        self.body_consumed = False
        self.server.receiver.handle(self)

    def do_GET(self) -> None:
        self.body_consumed = False
        self.server.receiver.refuse_method(self)

    do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET
