"""The operator endpoint of `costline serve`: `/metrics` (Prometheus or OpenMetrics), `/healthz`, `/readyz`.

`/healthz` answers while the process runs (liveness); `/readyz` answers 200 only while the ledger is open
and the receivers are serving (readiness: take a replica out of the load balancer while it starts or stops).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from costline_processor.metrics import content_type, wants_openmetrics

logger = logging.getLogger("costline.admin")

RenderMetrics = Callable[[bool], bytes]  # openmetrics? -> exposition
Readiness = Callable[[], str | None]  # None when ready, else why not


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    render_metrics: RenderMetrics | None
    readiness: Readiness


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 30.0

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/healthz":
            self._reply(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
        elif path == "/readyz":
            why_not = self.server.readiness()
            if why_not is None:
                self._reply(HTTPStatus.OK, b"ready\n", "text/plain; charset=utf-8")
            else:
                self._reply(
                    HTTPStatus.SERVICE_UNAVAILABLE, f"{why_not}\n".encode(), "text/plain; charset=utf-8"
                )
        elif path == "/metrics" and self.server.render_metrics is not None:
            openmetrics = wants_openmetrics(self.headers.get("Accept"))
            body = self.server.render_metrics(openmetrics)
            self._reply(HTTPStatus.OK, body, content_type(openmetrics))
        else:
            self._reply(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")

    def _reply(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class AdminServer:
    """Serves the operator endpoint on host:port in a background thread."""

    def __init__(
        self, host: str, port: int, *, render_metrics: RenderMetrics | None, readiness: Readiness
    ) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.render_metrics = render_metrics
        self._server.readiness = readiness
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="costline-admin", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
