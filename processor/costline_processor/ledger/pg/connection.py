"""Connecting to a PostgreSQL ledger: libpq settings that notice a dead server, and errors without secrets.

The URL's own parameters win over these defaults. Every error text built from a driver's message passes
through `redact_text`, so a password in the URL never reaches a log line, an error or `/readyz`.
"""

from __future__ import annotations

import os
import socket
from typing import Final

import psycopg
from psycopg.conninfo import conninfo_to_dict

from costline_processor.ledger.errors import LedgerUnavailableError
from costline_processor.ledger.url import redact_text

Connection = psycopg.Connection[tuple[object, ...]]

# A server that does not answer is given up on within seconds (the sender retries the request), never
# waited for while export requests pile up.
CONNECT_DEFAULTS: Final[dict[str, object]] = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
# A statement waiting on another replica's lock, or a transaction left open by a frozen process (its locks
# block the other replicas' inserts of the same keys), ends after this long.
SESSION_TIMEOUT: Final = "60s"
# The server's side of the same: a replica whose host died is noticed within ~25 s (instead of the OS's two
# hours), so its session, and the replica id it holds, are freed for the replica's replacement.
SERVER_KEEPALIVES: Final = {
    "tcp_keepalives_idle": 10,
    "tcp_keepalives_interval": 5,
    "tcp_keepalives_count": 3,
}
_APPLICATION_NAME_BYTES: Final = 63  # PostgreSQL's NAMEDATALEN - 1


def application_name(role: str) -> str:
    """What `pg_stat_activity` shows for this process: `costline serve pid 123 on web-1`."""
    return f"costline {role} pid {os.getpid()} on {socket.gethostname()}".encode()[
        :_APPLICATION_NAME_BYTES
    ].decode(errors="ignore")


def connect(url: str, *, role: str) -> Connection:
    """An autocommit connection (transactions are explicit) with durable commits; LedgerUnavailableError."""
    params: dict[str, object] = {**CONNECT_DEFAULTS, "application_name": application_name(role)}
    params.update(conninfo_to_dict(url))
    try:
        conn = psycopg.connect(**params, autocommit=True)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        raise LedgerUnavailableError(describe(exc, url)) from None
    try:
        conn.execute(f"SET statement_timeout = '{SESSION_TIMEOUT}'")
        conn.execute(f"SET idle_in_transaction_session_timeout = '{SESSION_TIMEOUT}'")
        for setting, value in SERVER_KEEPALIVES.items():
            conn.execute(f"SET {setting} = {value}")
        # An acknowledged batch must survive a crash of the database too: a commit waits for its WAL to be
        # flushed (`on`, or a stronger setting the database already has; never `off` or `local`).
        row = conn.execute("SHOW synchronous_commit").fetchone()
        if row is not None and row[0] in ("off", "local"):
            conn.execute("SET synchronous_commit = on")
    except psycopg.Error as exc:
        conn.close()
        raise LedgerUnavailableError(describe(exc, url)) from None
    return conn


def describe(exc: BaseException, url: str) -> str:
    """A driver error as one line, the URL's password hidden."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return redact_text(text, url)


def is_connection_lost(exc: BaseException, conn: Connection | None) -> bool:
    """Whether `exc` means the session is gone (server down or restarted, network cut, timeout)."""
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    return conn is not None and (conn.closed or conn.broken)


def is_retryable(exc: BaseException) -> bool:
    """A transaction the database aborted to resolve a conflict between replicas: running it again works."""
    return isinstance(exc, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure)
