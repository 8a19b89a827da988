"""OTLP/gRPC TraceService receiver: a thin adapter from gRPC to `Pipeline.export`.

The request is decoded here (not by grpcio) so a malformed payload gets INVALID_ARGUMENT with the reason.
Retryable refusals carry a `google.rpc.RetryInfo`, both in the standard status details
(`grpc-status-details-bin`, read by the Go collector) and as `google.rpc.retryinfo-bin` (read by the
Python OTLP exporter), so senders back off for the time we ask.
"""

from __future__ import annotations

import errno
import hmac
import logging
import socket
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final, NoReturn

import grpc
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import DecodeError
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from costline_processor import metric_names as names
from costline_processor.metrics import SelfTelemetry
from costline_processor.pipeline import Overloaded, Pipeline, Unavailable

logger = logging.getLogger("costline.receiver.grpc")

SERVICE: Final = "opentelemetry.proto.collector.trace.v1.TraceService"
UNAVAILABLE_RETRY_AFTER_S: Final = 2.0
# Workers beyond `max_inflight`, which only ever refuse (a few hundred microseconds each), so a refusal
# never waits behind the admitted requests.
REFUSAL_WORKERS: Final = 4
_EMPTY_RESPONSE: Final = ExportTraceServiceResponse().SerializeToString()


class _Malformed(Exception):
    """The request is not an ExportTraceServiceRequest (INVALID_ARGUMENT: retrying cannot help)."""


def retry_trailers(code: grpc.StatusCode, message: str, retry_after_s: float) -> list[tuple[str, bytes]]:
    """Trailing metadata telling an OTLP sender to retry after `retry_after_s`."""
    seconds = int(retry_after_s)
    info = RetryInfo(retry_delay=Duration(seconds=seconds, nanos=int((retry_after_s - seconds) * 1e9)))
    detail = AnyProto()
    detail.Pack(info)
    status = Status(code=code.value[0], message=message, details=[detail])
    return [
        ("grpc-status-details-bin", status.SerializeToString()),
        ("google.rpc.retryinfo-bin", info.SerializeToString()),
    ]


def bearer_ok(metadata: Sequence[tuple[str, str | bytes]], token: str) -> bool:
    expected = f"Bearer {token}".encode()
    for key, value in metadata:
        if key == "authorization":
            given = value if isinstance(value, bytes) else value.encode()
            return hmac.compare_digest(given, expected)
    return False


def check_bindable(host: str, port: int) -> None:
    """Raise the OSError of binding host:port when it cannot be bound (taken, or not this host's address).

    grpcio says only "Failed to bind", after logging its own multi-line error: try the bind ourselves first
    (with the SO_REUSEADDR grpcio sets) to say why in one line. Like grpcio, one bindable address of the
    host's (`localhost` on a machine without IPv6) is enough, unless another is taken.
    """
    if port == 0:
        return
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return  # grpcio resolves names its own way: let it decide
    failures: list[OSError] = []
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise
                failures.append(exc)
    if failures and len(failures) == len(addresses):
        raise failures[0]


class GrpcReceiver:
    """Serves `TraceService/Export` on host:port until `stop`."""

    def __init__(
        self,
        pipeline: Pipeline,
        telemetry: SelfTelemetry,
        *,
        host: str,
        port: int,
        max_message_bytes: int,
        max_inflight: int,
        bearer_token: str | None,
        tls_key_cert: tuple[bytes, bytes] | None,
        tls_handshake_timeout_s: float,
    ) -> None:
        self._pipeline = pipeline
        self._telemetry = telemetry
        self._token = bearer_token
        handshake_ms = round(tls_handshake_timeout_s * 1000)
        # No `maximum_concurrent_rpcs`: grpcio's own limit answers RESOURCE_EXHAUSTED without a RetryInfo,
        # which the Collector's exporter treats as permanent (the batch is dropped). Admission is ours
        # (`Pipeline.admit` in `_export`): at most `max_inflight` workers hold a slot, so the
        # REFUSAL_WORKERS others are always free to refuse the excess at once, each with a RetryInfo.
        self._server = grpc.server(
            ThreadPoolExecutor(max_inflight + REFUSAL_WORKERS, thread_name_prefix="costline-grpc"),
            options=[
                # Without this a second costline could bind the same port and silently take half the
                # traffic into another ledger, where redeliveries would not be recognised.
                ("grpc.so_reuseport", 0),
                # grpc-core buffers a waiting or refused RPC up to its stream's flow-control window;
                # BDP probing grows that window to megabytes on a fast link (300 senders of 4 MB:
                # 766 MiB RSS with it, 328 MiB without). The fixed 64 KiB window keeps a waiting RPC
                # small, and an RPC whose message we read still gets a window for the whole message.
                ("grpc.http2.bdp_probe", 0),
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", 1024 * 1024),
                # grpc-core does handshakes off its accept path already; this deadline (grpc's default:
                # 120 s; it covers the client's HTTP/2 preface too) bounds how long an idle or slow
                # connection is kept. Set with TLS only, as the option's name says.
                *([] if tls_key_cert is None else [("grpc.server_handshake_timeout_ms", handshake_ms)]),
            ],
        )
        # Stream-unary on our side (the wire format of a unary call is the same): the handler pulls the
        # message itself, after admission, so the bytes of a refused request are never read into memory.
        handler = grpc.stream_unary_rpc_method_handler(self._export)  # raw bytes in and out
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, {"Export": handler}),)
        )
        check_bindable(host, port)
        address = f"{host}:{port}"
        try:
            if tls_key_cert is None:
                self.port = self._server.add_insecure_port(address)
            else:
                credentials = grpc.ssl_server_credentials([tls_key_cert])
                self.port = self._server.add_secure_port(address, credentials)
        except RuntimeError as exc:  # grpcio's only word for any bind failure
            raise OSError(f"grpcio: {exc}") from None

    def start(self) -> None:
        self._server.start()

    def stop(self, grace_s: float) -> None:
        """Refuse new RPCs, let in-flight ones finish for up to `grace_s`."""
        self._server.stop(grace_s).wait()

    def _export(self, messages: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        if self._token is not None and not bearer_ok(context.invocation_metadata(), self._token):
            self._invalid(context, grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token", "auth")
        try:
            with self._pipeline.admit():
                raw = next(messages, None)  # raises grpc.RpcError if the client went away: grpcio's to handle
                if raw is None:
                    raise _Malformed("no ExportTraceServiceRequest message")
                try:
                    request = ExportTraceServiceRequest.FromString(raw)
                except DecodeError as exc:
                    raise _Malformed(f"malformed ExportTraceServiceRequest protobuf: {exc}") from None
                self._pipeline.export_admitted(request, raw)
        except _Malformed as exc:
            self._invalid(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc), "malformed")
        except Overloaded as exc:
            self._retry(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), exc.retry_after_s)
        except Unavailable as exc:
            self._retry(context, grpc.StatusCode.UNAVAILABLE, str(exc), UNAVAILABLE_RETRY_AFTER_S)
        except grpc.RpcError:
            raise
        except Exception as exc:  # a bug: INTERNAL (not retried: it would fail again), logged, counted
            logger.exception("internal error while handling an export request")
            self._telemetry.inc(names.SELF_REQUESTS_REFUSED, reason="internal_error")
            context.abort(grpc.StatusCode.INTERNAL, f"internal error: {exc}")
        return _EMPTY_RESPONSE

    def _invalid(
        self, context: grpc.ServicerContext, code: grpc.StatusCode, why: str, reason: str
    ) -> NoReturn:
        self._telemetry.inc(names.SELF_REQUESTS_INVALID, reason=reason)
        context.abort(code, why)
        raise AssertionError("context.abort raises")

    def _retry(
        self, context: grpc.ServicerContext, code: grpc.StatusCode, why: str, after_s: float
    ) -> NoReturn:
        context.set_trailing_metadata(retry_trailers(code, why, after_s))
        context.abort(code, why)
        raise AssertionError("context.abort raises")
