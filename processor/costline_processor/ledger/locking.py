"""One writer per ledger file.

Two writers would each checkpoint their own pending calls into the same totals (double counting), and a
reader that replayed a live writer's pending calls would too; so the writer holds an exclusive `flock`
for its lifetime, and a `Ledger` that cannot get it opens read-only (reports while `costline serve` runs).
The kernel releases the lock when the process dies, `kill -9` included.

The holder writes who it is into the lock file, so a process that is refused can name it (`flock` itself
cannot tell, and the holder may be in another container sharing the volume). A holder that died leaves
its record behind; the record is read only when taking the lock fails, when a live holder has written its own.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
from pathlib import Path
from typing import IO


def lock_path(path: Path) -> Path:
    return Path(f"{path}.lock")


def take_writer_lock(path: Path) -> IO[str] | None:
    """The ledger's writer lock, or None when another process (or `Ledger`) holds it."""
    owner = open(lock_path(path), "a+", encoding="utf-8")  # noqa: SIM115 - held open for the ledger's lifetime
    try:
        fcntl.flock(owner.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner.close()
        return None
    owner.truncate(0)
    owner.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": _command()}))
    owner.flush()
    return owner


def describe_holder(path: Path) -> str:
    """Who holds the writer lock, as its holder recorded it: `pid 123 (costline serve on host web-1)`."""
    try:
        record = json.loads(lock_path(path).read_text(encoding="utf-8"))
        pid, host, command = int(record["pid"]), str(record["host"]), str(record["command"])
    except (OSError, ValueError, TypeError, KeyError):  # the holder is between flock and write
        return "another process (it has not recorded its pid)"
    return f"pid {pid} ({command} on host {host})"


def _command() -> str:
    """The program and its subcommand (`costline serve`); never the options, which may hold secrets."""
    words = [Path(sys.argv[0]).name] if sys.argv and sys.argv[0] else ["python"]
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        words.append(sys.argv[1])
    return " ".join(words)
