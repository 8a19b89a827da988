"""Raw bytes to an HTTP port, for requests no HTTP client would send."""

from __future__ import annotations

import socket


def send_raw(port: int, raw: bytes) -> bytes:
    """Send `raw` on a fresh connection to 127.0.0.1:`port`; everything answered until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(raw)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer
