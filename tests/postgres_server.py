"""A real PostgreSQL (Debian's `postgresql` package) for the tests: `initdb` in a temp dir, a free loopback
port, a Unix socket in the same dir, password authentication over TCP; stopped (and removed) at the end.

PostgreSQL refuses to run as root, so as root the server runs as `nobody` (setpriv), on a directory given
to that user; no user or system setting is created or changed. Only the postmaster this module started is
ever signalled. Missing binaries skip the tests on a developer machine and fail them under CI=true
(scripts/system-packages installs `postgresql` there).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import pytest

USER: Final = "costline"
PASSWORD: Final = "pg-secret-9f3k"  # tests check that no log line or error ever shows it
READY_TIMEOUT_S: Final = 30.0
UNPRIVILEGED: Final = "nobody"


def find_binaries() -> Path:
    """The directory of `initdb` and `postgres`: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    on_path = shutil.which("initdb")
    if on_path is not None:
        return Path(on_path).resolve().parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    message = "PostgreSQL is not installed (run scripts/system-packages: Debian's postgresql package)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_unprivileged(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["setpriv", f"--reuid={UNPRIVILEGED}", "--regid=nogroup", "--clear-groups", *command]


class PostgresServer:
    """`with PostgresServer() as pg: pg.url(pg.create_database("t1"))`; `restart()` keeps the port."""

    def __init__(self) -> None:
        self.bin = find_binaries()
        self.root = Path(tempfile.mkdtemp(prefix="costline-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            shutil.chown(self.root, UNPRIVILEGED, "nogroup")
        password_file = self.root / "password"
        password_file.write_text(PASSWORD + "\n", encoding="utf-8")
        if os.geteuid() == 0:
            shutil.chown(password_file, UNPRIVILEGED, "nogroup")
        subprocess.run(
            _as_unprivileged([
                str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, f"--pwfile={password_file}",
                "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync", "--locale=C",
            ]),
            check=True, capture_output=True, timeout=120, cwd=self.root,
        )  # fmt: skip

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def start(self) -> PostgresServer:
        settings = {
            "shared_buffers": "32MB",
            "max_connections": "60",
            "fsync": "on",
            "log_min_messages": "warning",
        }
        command = [
            str(self.bin / "postgres"), "-D", str(self.data), "-h", "127.0.0.1", "-p", str(self.port),
            "-k", str(self.root), *(f"-c{key}={value}" for key, value in settings.items()),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                _as_unprivileged(command), stdout=log, stderr=subprocess.STDOUT, cwd=self.root
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited:\n{self.log_path.read_text(errors='replace')}")
            try:
                _connect(self.url("postgres"), connect_timeout=2).close()
                return self
            except _operational_error():
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"postgres did not start:\n{self.log_path.read_text(errors='replace')}")

    def stop(self, *, mode: signal.Signals = signal.SIGINT) -> None:
        """Fast shutdown (SIGINT: sessions cut, as in a failover) of the postmaster this object started."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(mode)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()

    def url(self, database: str, *, password: bool = True) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql://{USER}{secret}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        with _connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # name: a test's own identifier
        return self.url(name)

    def drop_database(self, name: str) -> None:
        if self.process is None:
            return
        with _connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# psycopg is imported when a test starts a server, not at import: the old-SDK venv of test_sdk_versions runs
# the instrumentation suite without the processor's PostgreSQL driver, through the same root conftest.
def _connect(url: str, **options: Any) -> Any:
    import psycopg

    return psycopg.connect(url, **options)


def _operational_error() -> type[Exception]:
    import psycopg

    return psycopg.OperationalError
