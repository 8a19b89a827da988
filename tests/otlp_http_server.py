"""The part every OTLP/HTTP capture receiver in the tests shares: a 127.0.0.1 server on an ephemeral port
that accepts protobuf POSTs on one path (gzip or not) and hands each body to its owner."""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        owner = self.server.owner
        if self.path.split("?")[0] != owner.path:
            self._reply(404, b"")
            return
        if "protobuf" not in (self.headers.get("Content-Type") or "application/x-protobuf"):
            self._reply(415, b"")
            return
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self._reply(200, owner.handle(body, dict(self.headers)))

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: ProtobufPostServer


class ProtobufPostServer:
    """Subclasses set `path` and implement `handle(body, headers)`, which returns the response body."""

    path = "/"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def endpoint(self) -> str:
        """The base URL (`http://127.0.0.1:PORT`), e.g. for OTEL_EXPORTER_OTLP_ENDPOINT."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle(self, body: bytes, headers: dict[str, str]) -> bytes:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
