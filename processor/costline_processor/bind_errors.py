"""The one line a command prints when it cannot listen: which option, which address, and why."""

from __future__ import annotations

import errno


def bind_failure(host_option: str, port_option: str, host: str, port: int, exc: OSError) -> str:
    """`--http-port: 127.0.0.1:4328 is already in use by another process: ...` (no errno jargon)."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{port_option}: {host}:{port} is already in use by another process:"
            " stop it, or choose another port (0 picks a free one)"
        )
    return f"{host_option}/{port_option}: cannot listen on {host}:{port}: {exc.strerror or exc}"
