"""Refuse every connection and name lookup that would leave the loopback interface, and remember it.

Frameworks phone home (price lists, telemetry, tracing backends, tokenizer downloads). Tests switch all of
that off (tests/instrumentation/frameworks/conftest.py); this guard makes sure they did: a refused attempt
fails at once with `NetworkRefused` (an `OSError`, which is what a client without network sees, so nothing
hangs on retries) and is recorded, so a framework that swallows the error still fails the test.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any, Final

_LOCAL_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class NetworkRefused(OSError):
    """A connection or lookup beyond 127.0.0.0/8 and ::1, which tests never make."""


refused: list[str] = []
_originals: dict[str, Any] = {}


def _is_local(host: object) -> bool:
    if host is None or host == "":
        return True  # a passive or wildcard socket, not a destination
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _refuse(what: str) -> NetworkRefused:
    refused.append(what)
    return NetworkRefused(f"test network guard: {what} would leave 127.0.0.1")


def _connect(self: socket.socket, address: Any, *rest: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
        raise _refuse(f"connect to {address!r}")
    return _originals["connect"](self, address, *rest)


def _connect_ex(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
        raise _refuse(f"connect to {address!r}")
    return _originals["connect_ex"](self, address)


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _is_local(host):
        raise _refuse(f"name lookup of {host!r}")
    return _originals["getaddrinfo"](host, *args, **kwargs)


def install() -> None:
    """Idempotent: the guard stays on for the rest of the process."""
    if _originals:
        return
    _originals.update(
        connect=socket.socket.connect, connect_ex=socket.socket.connect_ex, getaddrinfo=socket.getaddrinfo
    )
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _getaddrinfo


def take_refused() -> list[str]:
    """The attempts refused since the last call."""
    taken = list(refused)
    refused.clear()
    return taken
