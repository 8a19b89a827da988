"""`costline serve` wiring and lifecycle: build the parts from a `ServeConfig`, start, stop gracefully.

Start: open the ledger, seed the metrics from it (counters survive restarts), bind the receivers and the
operator endpoint, start the metrics push. Stop (SIGTERM): leave readiness, refuse new requests and finish
the ones in flight, flush the last metrics push, close the ledger.
"""

from __future__ import annotations

import logging
import sqlite3
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from costline_processor.admin_http import AdminServer, BudgetsUnavailable
from costline_processor.bind_errors import bind_failure
from costline_processor.budgets import (
    Budgets,
    BudgetsConfigError,
    budgets_document,
    load_budgets,
    model_check,
)
from costline_processor.config import ServeConfig, cli_flag
from costline_processor.forwarder import Forwarder, make_forwarder
from costline_processor.ledger import (
    LedgerLockedError,
    LedgerSchemaError,
    LedgerStore,
    LedgerUnavailableError,
    LedgerUrl,
    open_ledger,
    parse_ledger_url,
)
from costline_processor.metrics import CostMetrics, LabelLimits, OtlpMetricsPusher, SelfTelemetry
from costline_processor.pipeline import Pipeline
from costline_processor.pricing import Pricer
from costline_processor.receiver_grpc import GrpcReceiver
from costline_processor.receiver_http import HttpReceiver

logger = logging.getLogger("costline.serve")

READY_PREFIX: Final = "costline serve ready:"
PURGE_INTERVAL_S: Final = 3600.0
LEDGER_RETRY_INTERVAL_S: Final = 2.0  # between attempts to open a shared ledger at start-up


class StartupError(Exception):
    """The service cannot start (bad file, port taken); the message says which and why."""


class Service:
    """All parts of a running `costline serve`."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self._started = False
        self._stopping = threading.Event()
        self.telemetry = SelfTelemetry()
        self.pricer = Pricer.load(config.price_overrides)
        self.ledger = _open_ledger(config)
        self.metrics = CostMetrics(
            limits=LabelLimits(max_values_per_label=config.label_limit),
            budgets=_budgets(config, self.pricer),
            service_instance_id=config.service_instance_id,
            telemetry=self.telemetry,
        )
        self.metrics.seed_from(self.ledger)
        self.forwarder: Forwarder | None = make_forwarder(
            config.traces_endpoint,
            protocol=config.traces_protocol,
            headers=config.traces_headers,
            timeout_s=config.traces_timeout_s,
            max_message_bytes=config.max_message_bytes,
            telemetry=self.telemetry,
        )
        self.pipeline = Pipeline(
            pricer=self.pricer,
            ledger=self.ledger,
            metrics=self.metrics,
            telemetry=self.telemetry,
            forwarder=self.forwarder,
            max_inflight=config.max_inflight_batches,
        )
        self._bind(config)
        self.pusher = (
            OtlpMetricsPusher(
                self.metrics,
                config.metrics_endpoint,
                headers=dict(config.metrics_headers),
                interval_s=config.metrics_interval_s,
                telemetry=self.telemetry,
            )
            if config.metrics_endpoint is not None
            else None
        )
        self._purger = threading.Thread(target=self._purge_periodically, name="costline-purge", daemon=True)

    def _bind(self, config: ServeConfig) -> None:
        tls = _read_tls(config.tls_cert, config.tls_key)
        with _listening("grpc", config.grpc_host, config.grpc_port):
            self.grpc = GrpcReceiver(
                self.pipeline,
                self.telemetry,
                host=config.grpc_host,
                port=config.grpc_port,
                max_message_bytes=config.max_message_bytes,
                max_inflight=config.max_inflight_batches,
                bearer_token=config.bearer_token,
                tls_key_cert=tls[0] if tls else None,
                tls_handshake_timeout_s=config.tls_handshake_timeout_s,
            )
        with _listening("http", config.http_host, config.http_port):
            self.http = HttpReceiver(
                self.pipeline,
                self.telemetry,
                host=config.http_host,
                port=config.http_port,
                max_message_bytes=config.max_message_bytes,
                bearer_token=config.bearer_token,
                ssl_context=tls[1] if tls else None,
                tls_handshake_timeout_s=config.tls_handshake_timeout_s,
            )
        with _listening("metrics", config.metrics_host, config.metrics_port):
            self.admin = AdminServer(
                config.metrics_host,
                config.metrics_port,
                render_metrics=self.metrics.render_prometheus if config.prometheus else None,
                readiness=self.readiness,
                render_budgets=self._budgets_document,
                bearer_token=config.bearer_token,
            )

    def _budgets_document(self) -> bytes:
        """`GET /v1/budgets`: every budget's state on the whole ledger (all replicas of a shared one)."""
        try:
            return budgets_document(*self.metrics.budgets.statuses(whole_ledger=True))
        except LedgerUnavailableError as exc:
            raise BudgetsUnavailable(f"ledger unavailable: {exc}") from None

    def _purge_periodically(self) -> None:
        """Apply the ledger's retention at start and then every PURGE_INTERVAL_S (totals are kept)."""
        while True:
            try:
                purged = self.ledger.purge_older_than()
                if purged.calls or purged.outcomes:
                    logger.info("retention: purged %d calls, %d outcomes", purged.calls, purged.outcomes)
            except Exception:
                if self._stopping.is_set():
                    return
                logger.exception("retention purge failed")
            if self._stopping.wait(PURGE_INTERVAL_S):
                return

    def readiness(self) -> str | None:
        if not self._started:
            return "starting"
        if self._stopping.is_set():
            return "stopping"
        problem = self.ledger.problem()
        return None if problem is None else f"ledger unavailable: {problem}"

    def start(self) -> None:
        self.grpc.start()
        self.http.start()
        self.admin.start()
        if self.pusher is not None:
            self.pusher.start()
        self._purger.start()
        self._started = True
        if self.forwarder is None:
            logger.warning("no traces endpoint configured: spans are priced and recorded, not forwarded")
        logger.info(
            "%s grpc=%s:%d http=%s:%d metrics=%s:%d",
            READY_PREFIX,
            self.config.grpc_host,
            self.grpc.port,
            self.config.http_host,
            self.http.port,
            self.config.metrics_host,
            self.admin.port,
        )

    def stop(self) -> None:
        """Graceful stop; safe to call once from a signal-handling thread."""
        self._stopping.set()
        grace = self.config.shutdown_grace_s
        began = time.monotonic()
        # Both receivers drain at once: each refuses new requests and waits for its in-flight ones.
        threads = [
            threading.Thread(target=self.grpc.stop, args=(grace,)),
            threading.Thread(target=self.http.stop, args=(grace,)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.forwarder is not None:
            self.forwarder.close()
        if self.pusher is not None:
            self.pusher.stop()  # pushes the final totals
        self._purger.join(timeout=grace)
        self.ledger.close()
        self.admin.stop()
        logger.info("costline serve stopped after %.1fs of draining", time.monotonic() - began)


def _budgets(config: ServeConfig, pricer: Pricer) -> Budgets | None:
    """The budgets file, its downgrade models checked by the pricer (raises BudgetsConfigError)."""
    if config.budgets is None:
        return None
    budgets = load_budgets(config.budgets, check_model=model_check(pricer))
    problem = budgets.retention_problem(config.retention_days)
    if problem is not None:
        raise BudgetsConfigError(str(config.budgets), [problem])
    return budgets


def _open_ledger(config: ServeConfig) -> LedgerStore:
    """The ledger, as a writer: the only one of a SQLite file (a second serve on it would answer every
    batch 503, read-only), or one replica's share of a PostgreSQL ledger.

    A shared database that is down, failing over or still starting is waited for up to `ledger_wait_s`:
    replicas and their database are often started together. (A replica lease still held by this replica's
    previous session is waited for inside `open_ledger`, pg/locks.py.)
    """
    where = parse_ledger_url(config.ledger_url)
    deadline = time.monotonic() + config.ledger_wait_s
    waited = False
    while True:
        try:
            ledger = open_ledger(
                where.target,
                retention_days=config.retention_days,
                read_only=False,
                replica_id=config.service_instance_id,
            )
        except LedgerUnavailableError as exc:
            left = deadline - time.monotonic()
            if where.kind != "postgresql" or left <= 0:
                raise _ledger_startup_error(exc, where, config.ledger_wait_s if waited else 0.0) from None
            if not waited:
                flag = cli_flag("ledger_wait_s")
                logger.warning("waiting up to %gs (%s) for the ledger: %s", config.ledger_wait_s, flag, exc)
                waited = True
            time.sleep(min(LEDGER_RETRY_INTERVAL_S, left))
            continue
        except (OSError, sqlite3.Error, LedgerSchemaError, LedgerLockedError) as exc:
            raise _ledger_startup_error(exc, where, 0.0) from None
        if waited:
            logger.info("the ledger %s answers now; starting", where)
        return ledger


def _ledger_startup_error(exc: Exception, where: LedgerUrl, waited_s: float) -> StartupError:
    if isinstance(exc, LedgerLockedError):
        if where.kind == "postgresql":
            return StartupError(str(exc))
        return StartupError(
            f"{exc}: give each replica its own --ledger-url, or let them share one PostgreSQL ledger"
            " (--ledger-url postgresql://...)"
        )
    after = f" (after waiting {waited_s:g}s, {cli_flag('ledger_wait_s')})" if waited_s else ""
    return StartupError(f"cannot open the ledger {where}: {exc}{after}")


@contextmanager
def _listening(listener: str, host: str, port: int) -> Iterator[None]:
    """Turn a listener's bind failure into one line naming its options and the address."""
    try:
        yield
    except OSError as exc:
        options = cli_flag(f"{listener}_host"), cli_flag(f"{listener}_port")
        raise StartupError(bind_failure(*options, host, port, exc)) from None


def _read_tls(cert: Path | None, key: Path | None) -> tuple[tuple[bytes, bytes], ssl.SSLContext] | None:
    if cert is None or key is None:
        return None
    try:
        key_cert = (key.read_bytes(), cert.read_bytes())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise StartupError(f"cannot load TLS certificate/key ({cert}, {key}): {exc}") from None
    return key_cert, context
