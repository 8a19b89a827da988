"""Hostile TCP clients of a TLS port: idle, slow and garbage connections that never finish a handshake.

Each connection runs in its own thread and records how long after it connected the server closed it
(end of stream or a reset), so a test can check that the server gives up on it in bounded time.
"""

from __future__ import annotations

import contextlib
import functools
import os
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Final

KINDS: Final = ("idle", "slow", "garbage")
SLOW_BYTE_INTERVAL_S: Final = 0.2
GARBAGE_BYTES: Final = 2048


@functools.cache
def client_hello() -> bytes:
    """The first flight of a real TLS client (a ClientHello), as an OpenSSL client would send it."""
    outgoing = ssl.MemoryBIO()
    client = ssl.create_default_context().wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname="127.0.0.1")
    with contextlib.suppress(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()


@dataclass
class HostileConnection:
    """One connection of `kind`, watched until the server closes it or `watch_s` passes."""

    kind: str
    port: int
    watch_s: float
    closed_after_s: float | None = None
    bytes_sent: int = 0
    _thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self._socket = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self._opened = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"hostile-{self.kind}", daemon=True)
        self._thread.start()

    def join(self) -> None:
        self._thread.join(self.watch_s + 5)
        self._socket.close()

    def _run(self) -> None:
        deadline = self._opened + self.watch_s
        to_send = client_hello() if self.kind == "slow" else b""
        if self.kind == "garbage":
            self._send(os.urandom(GARBAGE_BYTES))
        while time.monotonic() < deadline and self.closed_after_s is None:
            if to_send:  # one byte at a time, every SLOW_BYTE_INTERVAL_S: far slower than any timeout
                self._send(to_send[:1])
                to_send = to_send[1:]
            wait = SLOW_BYTE_INTERVAL_S if self.kind == "slow" else deadline - time.monotonic()
            readable, _, _ = select.select([self._socket], [], [], max(0.0, wait))
            if readable:
                self._read_until_closed()

    def _send(self, data: bytes) -> None:
        try:
            self._socket.sendall(data)
            self.bytes_sent += len(data)
        except OSError:  # the server closed it
            self._closed()

    def _read_until_closed(self) -> None:
        try:
            if self._socket.recv(65536):  # a TLS alert: the close follows
                return
        except OSError:  # a reset is a close too
            pass
        self._closed()

    def _closed(self) -> None:
        if self.closed_after_s is None:
            self.closed_after_s = time.monotonic() - self._opened


def open_hostile_connections(port: int, each: int, watch_s: float) -> list[HostileConnection]:
    """`each` connections of every kind to 127.0.0.1:`port`."""
    client_hello()  # made once, before the clocks start
    return [HostileConnection(kind, port, watch_s) for kind in KINDS for _ in range(each)]
