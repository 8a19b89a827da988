"""The refresher: one daemon thread reading the budgets source every `COSTLINE_BUDGETS_REFRESH_S`.

It is the only I/O of the guard. Started by `instrument()` only when `COSTLINE_BUDGETS_URL` is set; the
first read is awaited (at most the read timeout) so the first LLM call already sees the budgets. It stops
at interpreter exit (atexit) and is restarted in a forked child (a pre-forking server's workers).
"""

from __future__ import annotations

import atexit
import os
import threading

from costline._budget_guard import BudgetGuard
from costline._budget_sources import Source
from costline._budget_state import SourceError
from costline._safety import report_internal_error

THREAD_NAME = "costline-budgets"


class Refresher:
    def __init__(self, guard: BudgetGuard, source: Source) -> None:
        self.guard = guard
        self.source = source
        self._wake = threading.Event()
        self._stopping = False
        self._read_now = True
        self._first_read = threading.Event()
        self._thread: threading.Thread | None = None
        guard.on_period_end = self._request_read

    def start(self) -> None:
        self._stopping = False
        self._first_read.clear()
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()
        # A read that hangs is cut at its timeout; the small margin covers thread start-up.
        self._first_read.wait(self.guard.settings.timeout_s + 0.5)
        atexit.register(self.stop)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
        atexit.unregister(self.stop)

    def restart_in_child(self) -> None:
        """After fork: the parent's thread does not exist here; a new one reads for this process."""
        self._wake = threading.Event()
        if not self._stopping:
            self._read_now = True
            self.start()

    def _request_read(self) -> None:
        self._read_now = True
        self._wake.set()

    def read_once(self) -> None:
        started = self.guard.clock()  # the answer is as of the request: count its age from here
        try:
            states, _ = self.source()
        except SourceError as exc:
            self.guard.failed(str(exc))
        else:
            self.guard.published(states, started)

    def _run(self) -> None:
        guard, interval = self.guard, self.guard.settings.refresh_s
        next_read = guard.clock()
        while not self._stopping:
            try:
                if self._read_now or guard.clock() >= next_read:
                    self._read_now = False
                    self.read_once()
                    next_read = guard.clock() + interval
                guard.tick()  # the snapshot's time may be up: staleness, or a stopped budget's period end
            except Exception as exc:  # a bug of ours: the app keeps running, the guard stays as it was
                report_internal_error("budgets.refresh", exc)
            finally:
                self._first_read.set()
            until = min(next_read, guard.snapshot.expires) - guard.clock()
            self._wake.wait(max(until, 0.0) + 0.001)
            self._wake.clear()


def register_fork_handler(refresher: Refresher) -> None:
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=refresher.restart_in_child)
