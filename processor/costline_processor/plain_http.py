"""HTTP/1.1 request handling shared by costline's HTTP servers (the OTLP/HTTP receiver, the admin endpoint).

Every answer is short plain text, including the ones the standard library writes itself (a malformed
request line or header, a method HTTP does not define), never its HTML page. `Content-Length` is read
strictly (ASCII digits only), so a hostile value is a 400, never an exception.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar, Final

IDLE_CONNECTION_TIMEOUT_S: Final = 30.0
DISCARD_CHUNK_BYTES: Final = 64 * 1024
TEXT: Final = "text/plain; charset=utf-8"
# Longer lengths are only compared with a size limit: 10**18 bytes stands for all of them, and no big
# number is ever parsed (int() refuses more than 4,300 digits).
MAX_LENGTH_DIGITS: Final = 18
_DECIMAL: Final = re.compile(r"[0-9]+")
_OWS: Final = " \t"  # the only whitespace HTTP allows around a field value


class BadContentLength(ValueError):
    """A `Content-Length` that is not one decimal number of bytes."""


def parse_content_length(values: list[str]) -> int | None:
    """The body length that `Content-Length` header(s) `values` give; None without one.

    RFC 9110 allows only `1*DIGIT`: signs, inner spaces, lists of different values, non-ASCII digits
    (`²`, which `str.isdigit` accepts) and everything else raise `BadContentLength`.
    """
    lengths = {value.strip(_OWS) for value in values}
    if not lengths:
        return None
    if len(lengths) > 1:
        raise BadContentLength(f"conflicting Content-Length headers: {sorted(lengths)!r}"[:200])
    text = lengths.pop()
    if not _DECIMAL.fullmatch(text):
        raise BadContentLength(f"Content-Length must be a number of bytes, got {text[:40]!r}")
    significant = text.lstrip("0") or "0"
    return int(significant) if len(significant) <= MAX_LENGTH_DIGITS else 10**MAX_LENGTH_DIGITS


class PlainTextHandler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 with plain-text answers; subclasses add the `do_*` methods they serve."""

    protocol_version = "HTTP/1.1"  # keep-alive, as OTLP exporters and scrapers expect
    timeout = IDLE_CONNECTION_TIMEOUT_S
    body_consumed = False  # per request: the body was read (or cannot be): nothing is left to discard
    logger: ClassVar[logging.Logger] = logging.getLogger("costline.http")

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

    def refuse(self, max_body_bytes: int, served: str, *, allow: str | None) -> None:
        """405 naming `allow` when the path is served with another method (`allow` set), else 404.

        `served` says what is served here, e.g. `POST /v1/traces`.
        """
        self.discard_body(max_body_bytes)
        if allow is not None:
            self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
            self.send_header("Allow", allow)
            self.send_text(f"method {self.command} not allowed: send {served}\n")
        else:
            self.send_response(HTTPStatus.NOT_FOUND)
            self.send_text(f"not found: only {served} is served here\n")

    def content_length(self) -> int | None:
        """The request's `Content-Length`, None without one; raises `BadContentLength`."""
        return parse_content_length(self.headers.get_all("Content-Length") or [])

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
        if "Content-Length" not in self.headers and "Transfer-Encoding" not in self.headers:
            return  # HTTP/1.1: neither header, no body
        try:
            remaining = self.content_length()
        except BadContentLength:
            remaining = None
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
        self.logger.debug("%s " + format, self.address_string(), *args)
