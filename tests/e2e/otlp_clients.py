"""OTLP export clients that follow the OpenTelemetry Collector's OTLP exporter rules for refusals.

gRPC RESOURCE_EXHAUSTED is retried only when it carries a `google.rpc.RetryInfo` (else the batch is dropped
as a permanent error); UNAVAILABLE and the other transient codes are retried anyway; HTTP 429/502/503/504
are retried after `Retry-After`, any other status is dropped. Each client records every refusal it saw, so
a test can check that each one carried a retry delay and that every batch ended up accepted.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import grpc
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
GIVE_UP_AFTER_S = 45.0
# What the Collector's OTLP/gRPC exporter retries without a RetryInfo (RESOURCE_EXHAUSTED needs one).
RETRYABLE_CODES = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
RETRYABLE_HTTP = frozenset({429, 502, 503, 504})  # the Collector's otlphttp exporter
BACKOFF_WITHOUT_DELAY_S = 0.5  # the Collector backs off on its own when no delay was given


@dataclass
class ClientLog:
    """What one client saw: every refusal (status, retry delay or None) and how it ended."""

    refusals: list[tuple[str, float | None]] = field(default_factory=list)
    accepted: bool = False
    dropped: str | None = None

    def refused(self, status: str, delay_s: float | None) -> None:
        self.refusals.append((status, delay_s))


def retry_delay_s(error: grpc.RpcError) -> float | None:
    """The RetryInfo delay in the standard status details, as the Collector reads it; None without one."""
    for key, value in error.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == "grpc-status-details-bin":
            for detail in Status.FromString(value).details:
                info = RetryInfo()
                if detail.Unpack(info):
                    return info.retry_delay.ToTimedelta().total_seconds()
    return None


def _export_once(channel: grpc.Channel, payload: bytes, log: ClientLog) -> bool:
    """One export attempt: True when it is over (accepted or dropped), False after waiting to retry."""
    try:
        channel.unary_unary(EXPORT)(payload, timeout=10)
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
        delay = retry_delay_s(error)
        log.refused(f"{code.name} {error.details()}", delay)  # type: ignore[attr-defined]
        if delay is None and code not in RETRYABLE_CODES:
            log.dropped = f"{code.name}: {error.details()}"  # type: ignore[attr-defined]
            return True
        time.sleep(BACKOFF_WITHOUT_DELAY_S if delay is None else delay)
        return False
    log.accepted = True
    return True


def grpc_client(target: str, payload: bytes, start: threading.Barrier, log: ClientLog) -> None:
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)  # connected before the burst
        start.wait(timeout=60)
        give_up_at = time.monotonic() + GIVE_UP_AFTER_S
        while time.monotonic() < give_up_at:
            if _export_once(channel, payload, log):
                return
        log.dropped = "gave up"


def http_client(port: int, payload: bytes, start: threading.Barrier, log: ClientLog) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/x-protobuf"}
    start.wait(timeout=60)
    give_up_at = time.monotonic() + GIVE_UP_AFTER_S
    try:
        while time.monotonic() < give_up_at:
            try:
                connection.request("POST", "/v1/traces", body=payload, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:  # a reset or a close without an answer
                log.refused(f"connection error {exc!r}", None)
                connection.close()
                time.sleep(BACKOFF_WITHOUT_DELAY_S)
                continue
            if 200 <= response.status < 300:
                log.accepted = True
                return
            retry_after = response.getheader("Retry-After")
            delay = float(retry_after) if retry_after is not None else None
            log.refused(f"HTTP {response.status}", delay)
            if response.status not in RETRYABLE_HTTP:
                log.dropped = f"HTTP {response.status}"
                return
            time.sleep(BACKOFF_WITHOUT_DELAY_S if delay is None else delay)
        log.dropped = "gave up"
    finally:
        connection.close()


def failover_grpc_client(
    targets: Callable[[], Sequence[str]], first: int, payload: bytes, start: threading.Barrier, log: ClientLog
) -> None:
    """`grpc_client` behind a load balancer: each attempt goes to the next of `targets()` (read again each
    time, so a restarted replica's new port is used), beginning with the `first`-th."""
    channels: dict[str, grpc.Channel] = {}
    start.wait(timeout=60)
    give_up_at = time.monotonic() + GIVE_UP_AFTER_S
    attempt = first
    try:
        while time.monotonic() < give_up_at:
            now = targets()
            target = now[attempt % len(now)]
            attempt += 1
            channel = channels.get(target)
            if channel is None:
                channel = channels[target] = grpc.insecure_channel(target)
            if _export_once(channel, payload, log):
                return
        log.dropped = "gave up"
    finally:
        for channel in channels.values():
            channel.close()
