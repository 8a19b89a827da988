"""Sustained LLM spans per second through `costline serve` on one core, ledger on, with a baseline.

    .venv/bin/python bench/bench_processor.py [--out bench/results/processor.json] [--seconds 10]

Two runs with the same sender (its own process, pinned to the other core when `taskset` exists):
1. `costline serve` pinned to one core: normalise, price, SQLite ledger (synchronous=FULL), metrics,
   enrich, forward every span to an OTLP/gRPC sink ("Tempo" that acknowledges without decoding);
2. the baseline, pinned the same way: a gRPC server that only decodes each request and acknowledges it.
The sender sends pre-encoded ExportTraceServiceRequests of `--batch` distinct LLM spans (no redelivery:
every call is new to the ledger) with `--concurrency` requests in flight. Prints one JSON object and writes
it to `--out`; the counted calls are checked against the service's /metrics. On a shared machine the
wall-clock rates depend on who else runs on the pinned core; `llm_spans_per_cpu_s` (spans per second of
the service's own CPU time, read from /proc by the sender over the measured window) does not.
Last, `in_process_llm_spans_per_s`: `Pipeline.export` called in the driver, one thread, no network.
`--budgets N` runs both with a budgets file of N budgets over the sent workflows and tenant (daily and
monthly), whose spend `costline serve` keeps up to date with every commit.
`--ledger-rows N` fills the served ledger with N older calls first (a ledger in use for a while: its dedupe
indexes no longer fit the page cache). `--ledger-url postgresql://...` runs both on that PostgreSQL ledger
instead of a SQLite file (the database's own CPU is not in `llm_spans_per_cpu_s`: it is per replica core).
Every run's trace ids are new (random), so a reused database never sees a redelivery.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from costline_processor.budgets import Budgets, load_budgets
from costline_processor.commands.serve import tune_gc
from costline_processor.ledger import LedgerStore, open_ledger, parse_ledger_url
from costline_processor.metrics import CostMetrics, SelfTelemetry
from costline_processor.pipeline import Pipeline
from costline_processor.pricing import Pricer
from processor_workload import BASE_BATCHES, SPAN_SPACING_NS, make_batches, variant, write_budgets

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
# LLM spans per core: SQLite, and per replica core with PostgreSQL on the same machine (the database's own
# CPU not counted), both per second of the service's CPU time.
TARGET_SPANS_PER_CPU_S = {"sqlite": 50_000, "postgresql": 20_000}
ROOT = Path(__file__).resolve().parents[1]


# --- roles run in subprocesses ---------------------------------------------------------------------------


def run_baseline_receiver(port_file: Path) -> None:
    """Decode each request, acknowledge it; nothing else (the floor any Python receiver pays)."""

    def export(raw: bytes, _context: grpc.ServicerContext) -> bytes:
        ExportTraceServiceRequest.FromString(raw)
        return b""

    server = _raw_server(export, workers=18)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    port_file.write_text(str(port))
    server.wait_for_termination()


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system, all threads) a process has used so far; None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def run_sender(  # noqa: PLR0917 - the subprocess's command-line arguments
    target: str, seconds: float, batch: int, concurrency: int, result_file: Path, watch_pid: int
) -> None:
    warmup_s = 2.0
    batches = make_batches(BASE_BATCHES, batch)
    lock = threading.Lock()
    acked: list[float] = []  # ack time of each batch
    refused = 0
    cursor = iter(range(BASE_BATCHES * 0xFFFF))
    start = time.monotonic()
    stop_at = start + warmup_s + seconds

    def worker() -> None:
        nonlocal refused
        with grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 64 << 20)]) as channel:
            call = channel.unary_unary(EXPORT)
            while time.monotonic() < stop_at:
                with lock:
                    index = next(cursor)
                payload = variant(batches[index % BASE_BATCHES], 1 + index // BASE_BATCHES)
                try:
                    call(payload, timeout=60)
                except grpc.RpcError:
                    with lock:
                        refused += 1
                    continue
                with lock:
                    acked.append(time.monotonic())

    with ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(worker) for _ in range(concurrency)]
        time.sleep(max(0.0, start + warmup_s - time.monotonic()))
        cpu_start = cpu_seconds(watch_pid)
        for future in futures:
            future.result()
    cpu_end = cpu_seconds(watch_pid)
    window = [t for t in acked if t >= start + warmup_s]
    result = {
        "acked_batches": len(acked),
        "measured_batches": len(window),
        "refused": refused,
        "seconds": seconds,
    }
    result["spans_per_s"] = len(window) * batch / seconds
    if cpu_start is not None and cpu_end is not None and cpu_end > cpu_start:
        # The receiver's own CPU time: its throughput on a core of its own, whatever else shares the machine.
        result["cpu_seconds"] = cpu_end - cpu_start
        result["spans_per_cpu_s"] = len(window) * batch / (cpu_end - cpu_start)
    result_file.write_text(json.dumps(result))


def _raw_server(handler: object, workers: int) -> grpc.Server:
    server = grpc.server(ThreadPoolExecutor(workers), options=[("grpc.max_receive_message_length", 64 << 20)])
    method = grpc.unary_unary_rpc_method_handler(handler)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Export": method}),))
    return server


# --- driver ----------------------------------------------------------------------------------------------


def _pinned(core: int, command: list[str]) -> tuple[list[str], bool]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core), *command], True
    return command, False


def _sender(target: str, args: argparse.Namespace, workdir: Path, watch_pid: int) -> dict[str, float]:
    result_file = workdir / f"sender-{time.monotonic_ns()}.json"
    command = [
        sys.executable, __file__, "--role=sender", f"--target={target}", f"--seconds={args.seconds}",
        f"--batch={args.batch}", f"--concurrency={args.concurrency}", f"--result={result_file}",
        f"--watch-pid={watch_pid}",
    ]  # fmt: skip
    subprocess.run(_pinned(1, command)[0], check=True, timeout=args.seconds + 300)
    result: dict[str, float] = json.loads(result_file.read_text())
    return result


def _wait_for(path: Path, timeout_s: float = 60.0) -> str:
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and path.read_text()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never written")
        time.sleep(0.05)
    return path.read_text()


def measure_baseline(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    port_file = workdir / "baseline.port"
    command, _ = _pinned(0, [sys.executable, __file__, "--role=baseline", f"--result={port_file}"])
    receiver = subprocess.Popen(command)
    try:
        return _sender(f"127.0.0.1:{_wait_for(port_file)}", args, workdir, receiver.pid)
    finally:
        receiver.terminate()
        receiver.wait(timeout=30)


def measure_costline(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, float], float, bool]:
    """Returns the sender's result, the calls counted by the service, and whether it was pinned."""
    sink = _raw_server(lambda _raw, _context: b"", workers=4)
    sink_port = sink.add_insecure_port("127.0.0.1:0")
    sink.start()
    log_path = workdir / "serve.log"
    command, pinned = _pinned(0, [
        str(Path(sys.executable).with_name("costline")), "serve", "--grpc-port=0", "--http-port=0",
        "--metrics-port=0", f"--ledger-url={args.ledger_url or workdir / 'ledger.sqlite3'}",
        "--service-instance-id=bench-serve",
        f"--traces-endpoint=http://127.0.0.1:{sink_port}", "--max-message-bytes=67108864",
        *([f"--budgets={args.budgets_file}"] if args.budgets_file else []),
    ])  # fmt: skip
    with log_path.open("wb") as log:
        serve = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        ready = _wait_for_ready(log_path)
        metrics_url = f"http://127.0.0.1:{ready['metrics']}/metrics"
        with urllib.request.urlopen(metrics_url, timeout=30) as reply:
            before = _requests_total(reply.read().decode())  # a reused ledger: this replica's earlier runs
        sender = _sender(f"127.0.0.1:{ready['grpc']}", args, workdir, serve.pid)
        with urllib.request.urlopen(metrics_url, timeout=30) as reply:
            counted = _requests_total(reply.read().decode()) - before
    finally:
        serve.terminate()
        serve.wait(timeout=60)
        sink.stop(0)
    return sender, counted, pinned


def _wait_for_ready(log_path: Path, timeout_s: float = 60.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if "costline serve ready:" in line:
                fields = dict(part.split("=", 1) for part in line.split("ready:", 1)[1].split())
                return {name: int(value.rsplit(":", 1)[1]) for name, value in fields.items()}
        time.sleep(0.05)
    raise TimeoutError(log_path.read_text(errors="replace"))


def _requests_total(text: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "llm_requests_total"
    )


class _SerializingSink:
    """Stands in for the gRPC forwarder: sends nothing (the pipeline serialises the request for it)."""

    def forward(self, payload: bytes, span_count: int) -> None:
        pass

    def close(self) -> None:
        pass


def _pipeline(ledger: LedgerStore, budgets: Budgets) -> Pipeline:
    """The parts `costline serve` builds, forwarding to `_SerializingSink`."""
    telemetry = SelfTelemetry()
    return Pipeline(
        pricer=Pricer.load(None), ledger=ledger, metrics=CostMetrics(telemetry=telemetry, budgets=budgets),
        telemetry=telemetry, forwarder=_SerializingSink(), max_inflight=1,
    )  # fmt: skip


def measure_in_process(batches: int, spans_per_batch: int, ledger_url: str, budgets: Path | None) -> float:
    """LLM spans/s of `Pipeline.export` in this process: one thread, the parts `costline serve` builds."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    base = make_batches(BASE_BATCHES, spans_per_batch)
    payloads = [variant(base[i % BASE_BATCHES], 1 + i // BASE_BATCHES) for i in range(batches)]
    with open_ledger(ledger_url, read_only=False, replica_id="bench-in-process") as ledger:
        pipeline = _pipeline(ledger, load_budgets(budgets) if budgets else Budgets())
        tune_gc()
        warmup = 4
        for raw in payloads[:warmup]:
            pipeline.export(ExportTraceServiceRequest.FromString(raw), raw)
        start = time.perf_counter()
        for raw in payloads[warmup:]:  # decoded here as the receiver does
            pipeline.export(ExportTraceServiceRequest.FromString(raw), raw)
        elapsed = time.perf_counter() - start
    return (batches - warmup) * spans_per_batch / elapsed


def prefill(rows: int, spans_per_batch: int, ledger_url: str) -> float:
    """Fill the ledger with `rows` older calls (a ledger in use for a while), in-process; returns seconds.

    Their start times end a minute before the run's: time-first keys land below the run's, as old rows do.
    """
    batches = -(-rows // spans_per_batch)
    start_ns = time.time_ns() - batches * spans_per_batch * SPAN_SPACING_NS - 60 * 10**9
    base = make_batches(BASE_BATCHES, spans_per_batch, start_ns)
    began = time.monotonic()
    with open_ledger(ledger_url, read_only=False, replica_id="bench-prefill") as ledger:
        pipeline = _pipeline(ledger, Budgets())
        for i in range(batches):
            raw = variant(base[i % BASE_BATCHES], 1 + i // BASE_BATCHES)
            pipeline.export(ExportTraceServiceRequest.FromString(raw), raw)
    return time.monotonic() - began


def _rounded(value: float | None) -> int | None:
    return round(value) if value is not None else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "processor.json")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--in-process-batches", type=int, default=64)
    parser.add_argument("--budgets", type=int, default=0, help="run with a budgets file of N budgets")
    parser.add_argument("--ledger-url", default=None, help="a postgresql:// ledger (default: SQLite files)")
    parser.add_argument(
        "--ledger-rows", type=int, default=0, help="fill the served ledger with N older calls first"
    )
    parser.add_argument("--role", choices=("driver", "sender", "baseline"), default="driver")
    parser.add_argument("--target", default="")
    parser.add_argument("--result", type=Path, default=None)
    parser.add_argument("--watch-pid", type=int, default=0)
    args = parser.parse_args()
    if args.role == "sender":
        run_sender(args.target, args.seconds, args.batch, args.concurrency, args.result, args.watch_pid)
        return
    if args.role == "baseline":
        run_baseline_receiver(args.result)
        return
    with tempfile.TemporaryDirectory(prefix="costline-bench-") as tmp:
        workdir = Path(tmp)
        args.budgets_file = write_budgets(args.budgets, workdir / "budgets.yaml")
        baseline = measure_baseline(args, workdir)
        if args.ledger_rows:
            served_ledger = args.ledger_url or str(workdir / "ledger.sqlite3")
            print(f"filling the ledger with {args.ledger_rows:,} calls ...", file=sys.stderr, flush=True)
            print(f"  {prefill(args.ledger_rows, args.batch, served_ledger):.0f} s", file=sys.stderr)
        costline, counted, pinned = measure_costline(args, workdir)
        in_process_ledger = args.ledger_url or str(workdir / "in-process.sqlite3")
        in_process = measure_in_process(
            args.in_process_batches, args.batch, in_process_ledger, args.budgets_file
        )
    backend = "PostgreSQL, synchronous_commit=on" if args.ledger_url else "SQLite synchronous=FULL"
    target = TARGET_SPANS_PER_CPU_S["postgresql" if args.ledger_url else "sqlite"]
    report = {
        "benchmark": f"costline serve: sustained LLM spans/s on one core, ledger on ({backend})",
        "ledger": str(parse_ledger_url(args.ledger_url)) if args.ledger_url else "sqlite",
        "llm_spans_per_s": round(costline["spans_per_s"]),
        "baseline_decode_ack_spans_per_s": round(baseline["spans_per_s"]),
        "share_of_baseline": round(costline["spans_per_s"] / baseline["spans_per_s"], 3),
        # Per second of the service's own CPU time: the one-core rate when the core is not shared.
        "llm_spans_per_cpu_s": _rounded(costline.get("spans_per_cpu_s")),
        "baseline_decode_ack_spans_per_cpu_s": _rounded(baseline.get("spans_per_cpu_s")),
        # Pipeline.export in the driver, one thread on the same core, no gRPC: what the network adds
        "in_process_llm_spans_per_s": round(in_process),
        "target_spans_per_cpu_s": target,
        "meets_target": costline.get("spans_per_cpu_s", 0.0) >= target,
        "refused_batches": costline["refused"],
        "calls_counted_by_service": counted,
        "calls_acked": costline["acked_batches"] * args.batch,
        "counted_exactly": counted == costline["acked_batches"] * args.batch,
        "batch_spans": args.batch,
        "concurrency": args.concurrency,
        "budgets": args.budgets,
        "ledger_rows_before": args.ledger_rows,
        "seconds": args.seconds,
        "pinned_to_one_core": pinned,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "load_average_at_end": os.getloadavg()[0],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
