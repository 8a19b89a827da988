"""A TCP proxy on 127.0.0.1 in front of a real PostgreSQL that can lose a COMMIT's answer.

`cut_after_next_commit()` arms it: the next `COMMIT` a client sends is passed to the server, and once the
server has had time to apply it the client's connection is closed before the answer reaches it, as when
the network or the database host fails at that moment. The client then cannot know whether its
transaction happened (it did). The proxy reads only the message framing of the PostgreSQL protocol
(`sslmode=disable`, so the first message is the startup message, then type byte + length + body).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from typing import Final

APPLY_S: Final = 0.3  # time the server gets to apply the COMMIT before the client's connection is cut


class CuttingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._armed = threading.Event()
        self.cuts = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_after_next_commit(self) -> None:
        self._armed.set()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
            muted = threading.Event()  # set: the server's answers no longer reach the client
            threading.Thread(target=self._client_to_server, args=(client, server, muted), daemon=True).start()
            threading.Thread(target=self._server_to_client, args=(server, client, muted), daemon=True).start()

    def _client_to_server(self, client: socket.socket, server: socket.socket, muted: threading.Event) -> None:
        try:
            startup = _read_exact(client, 4)
            server.sendall(startup + _read_exact(client, struct.unpack("!I", startup)[0] - 4))
            while True:
                head = _read_exact(client, 5)
                body = _read_exact(client, struct.unpack("!I", head[1:])[0] - 4)
                cut = head[:1] == b"Q" and body.upper().startswith(b"COMMIT") and self._armed.is_set()
                if cut:
                    muted.set()
                server.sendall(head + body)
                if cut:
                    self._armed.clear()
                    time.sleep(APPLY_S)
                    self.cuts += 1
                    _close(client, server)
                    return
        except OSError:
            _close(client, server)

    def _server_to_client(self, source: socket.socket, target: socket.socket, muted: threading.Event) -> None:
        try:
            while data := source.recv(65536):
                if not muted.is_set():  # muted: the answer is swallowed until the cut closes both ends
                    target.sendall(data)
        except OSError:
            pass
        _close(source, target)

    def close(self) -> None:
        self._closed = True
        self._listener.close()


def _read_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
