"""HTTP/1.1 request handler: record the request, then write a JSON reply or a chunked stream (SSE, or the
AWS event stream of Bedrock)."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

from costline_processor.mock_provider.behaviour import MockBehaviour, RecordedRequest
from costline_processor.mock_provider.routes import Route, route
from costline_processor.mock_provider.wire import Reply, StreamEvent

# Keep-alive connections the client abandons must not pin a thread forever.
_IDLE_TIMEOUT_S = 30.0


class Provider(Protocol):
    def record(self, request: RecordedRequest) -> None: ...

    def answer(self, route: Route | None, request: RecordedRequest) -> tuple[MockBehaviour | None, Reply]: ...


def parse_body(raw: bytes) -> Any:
    """The JSON body, or the raw text when it is not JSON (recorded as sent), or None when empty."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


class Server(ThreadingHTTPServer):
    """Threads per connection, quiet about clients that hang up, with the provider its handlers answer for."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], provider: Provider) -> None:
        super().__init__(address, Handler)
        self.provider = provider

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # a client that went away is not a server fault
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "costline-mock-provider"
    sys_version = ""
    timeout = _IDLE_TIMEOUT_S

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle + delayed ACK add ~40 ms per reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the provider logs requests itself when asked to."""

    def _serve(self) -> None:
        raw = self._read_body()
        split = urlsplit(self.path)
        body = parse_body(raw)
        provider = cast(Server, self.server).provider
        headers = {key.lower(): value for key, value in self.headers.items()}
        request = RecordedRequest(self.command, split.path, split.query, headers, body)
        provider.record(request)
        behaviour, reply = provider.answer(route(self.command, split.path), request)
        try:
            if reply.events is not None and behaviour is not None:
                self._send_stream(reply, reply.events, behaviour)
            elif reply.status == 200 and behaviour is not None and behaviour.fail_after_events is not None:
                self._abort()  # a non-streaming call "fails mid-response": the connection drops unanswered
            else:
                self._send_json(reply)
        except (BrokenPipeError, ConnectionResetError):
            # The client went away (e.g. it stopped reading a stream early): normal, not a server error.
            self.close_connection = True

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()  # the CRLF after each chunk
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(self, reply: Reply) -> None:
        payload = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _send_stream(self, reply: Reply, events: Sequence[StreamEvent], behaviour: MockBehaviour) -> None:
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("content-type", reply.content_type)
        self.send_header("cache-control", "no-cache")
        # Chunked framing lets a cut-off stream be seen as an error ("incomplete chunked read").
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        fail_after = behaviour.fail_after_events
        for index, event in enumerate(events):
            if fail_after is not None and index >= fail_after:
                if behaviour.fail_with_error_event and reply.error_event is not None:
                    self._write_chunk(reply.error_event.encode())
                    break
                self._abort()
                return
            if index and behaviour.event_delay_s:
                time.sleep(behaviour.event_delay_s)
            self._write_chunk(event.encode())
        self._write_chunk(b"")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _abort(self) -> None:
        """Close the connection mid-response, the way a crashed upstream or proxy does.

        A FIN rather than a reset: the client still reads every event sent before it, so tests can count them,
        and then sees a body cut short (an incomplete chunked read, or no response at all).
        """
        self.close_connection = True
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_WR)
