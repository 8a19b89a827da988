"""`costline serve`'s Service in the test process, on ephemeral 127.0.0.1 ports, forwarding to a capture."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from costline_processor.config import ServeConfig
from costline_processor.server import Service
from otlp_grpc_capture import GrpcTraceCapture


@contextmanager
def running_service(tmp_path: Path, tempo: GrpcTraceCapture, **overrides: object) -> Iterator[Service]:
    settings: dict[str, object] = {
        "grpc_port": 0,
        "http_port": 0,
        "metrics_port": 0,
        "ledger_path": tmp_path / "ledger.sqlite3",
        "traces_endpoint": tempo.endpoint,
        "traces_timeout_s": 5.0,
        "shutdown_grace_s": 2.0,
    }
    config = dataclasses.replace(ServeConfig(), **{**settings, **overrides})  # type: ignore[arg-type]
    service = Service(config)
    service.start()
    try:
        yield service
    finally:
        service.stop()
