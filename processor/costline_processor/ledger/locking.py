"""One writer per ledger file.

Two writers would each checkpoint their own pending calls into the same totals (double counting), and a
reader that replayed a live writer's pending calls would too; so the writer holds an exclusive `flock`
for its lifetime, and a `Ledger` that cannot get it opens read-only (reports while `costline serve` runs).
The kernel releases the lock when the process dies, `kill -9` included.
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO


def take_writer_lock(path: Path) -> IO[str] | None:
    """The ledger's writer lock, or None when another process (or `Ledger`) holds it."""
    owner = open(f"{path}.lock", "a+")  # noqa: SIM115 - held open for the ledger's lifetime
    try:
        fcntl.flock(owner.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner.close()
        return None
    return owner
