"""Extract all seven streams from a sandbox in its own process; print records/s, requests/s, peak memory.

Each extraction runs in a fresh child process (the sandbox in another), so the peak memory printed
is the pipeline's own: the child's VmHWM, not its `ru_maxrss`, which Linux makes at least the peak
of this process (that built the dataset) at the moment it started the child. With the vendors'
QPS limits on, the wall time should approach the busiest vendor's requests divided by its QPS,
since every vendor and knowledge base runs at once; the table prints that bound next to it.

    python benchmarks/extract_streams.py [--scale 100] [--qps off|on|both]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

SEED = 7
UNLIMITED_QPS = 1_000_000.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox(scale: float, qps: bool) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "kb_pipeline.sandbox", "--port", str(port), "--seed", str(SEED)]
    command += ["--scale", str(scale)] + ([] if qps else ["--no-qps"])
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/_sandbox/", timeout=1).raise_for_status()
            return server, url
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the sandbox did not start")


def peak_since_exec_mib() -> float:
    """This process's peak RSS as the kernel keeps it since exec (VmHWM)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def measure(config_file: Path, qps: bool) -> dict:
    """One extraction into the config's (empty) warehouse; runs in its own process (see main)."""
    from kb_pipeline.config import load_config
    from kb_pipeline.extract import extract
    from kb_pipeline.sandbox import DEFAULT_QPS
    from kb_pipeline.warehouse import Warehouse

    config = load_config(config_file)
    started = time.perf_counter()
    with Warehouse(config.data_dir) as warehouse:
        report = extract(config, warehouse, run_id="bench")
    wall = time.perf_counter() - started
    requests = Counter()
    for stream in report.streams:
        requests[stream.source] += stream.requests
    records = sum(s.records for s in report.streams)
    bound = max(requests[source] / DEFAULT_QPS[source] for source in requests) if qps else None
    return {
        "wall_s": wall,
        "records": records,
        "requests": sum(requests.values()),
        "records_per_s": records / wall,
        "requests_per_s": sum(requests.values()) / wall,
        "throttled": sum(s.throttled for s in report.streams),
        "peak_rss_mib": peak_since_exec_mib(),
        "qps_bound_s": bound,
        "errors": [e for s in report.streams for e in s.errors],
        "streams": {
            s.stream: {"records": s.records, "requests": s.requests, "s": round(s.duration_s, 1)}
            for s in report.streams
        },
    }


def run(scale: float, qps: bool) -> dict:
    """Start the sandbox, write a config for it, and measure one extraction in a child process."""
    from kb_pipeline.demo import export_sandbox_environment, write_sandbox_config
    from kb_pipeline.sandbox import Dataset

    server, url = start_sandbox(scale, qps)
    try:
        dataset = Dataset.generate(SEED, scale)  # same seed and scale: the ids the server holds
        export_sandbox_environment()
        with tempfile.TemporaryDirectory() as data_dir:
            # limits on: the client keeps to each vendor's default QPS; off: no client limit either
            config = write_sandbox_config(url, dataset, Path(data_dir), qps=None if qps else UNLIMITED_QPS)
            del dataset
            child = [sys.executable, __file__, "--measure", str(config), "--qps", "on" if qps else "off"]
            output = subprocess.run(child, check=True, capture_output=True, text=True).stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
    return json.loads(output)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=100.0, help="100 ≈ 100,000 documents and 10,000 jobs")
    parser.add_argument("--qps", choices=("off", "on", "both"), default="both")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.qps == "on")))
        return
    for mode in ("off", "on") if args.qps == "both" else (args.qps,):
        result = run(args.scale, mode == "on")
        bound = f", bound by QPS ≈ {result['qps_bound_s']:.0f} s" if result["qps_bound_s"] else ""
        print(
            f"scale {args.scale:g}, QPS limits {mode}: {result['records']:,} records, {result['requests']:,} "
            f"requests in {result['wall_s']:.1f} s{bound}: {result['records_per_s']:,.0f} records/s, "
            f"{result['requests_per_s']:,.0f} requests/s, throttled {result['throttled']}, "
            f"peak memory {result['peak_rss_mib']:,.0f} MiB"
        )
        for name, figures in result["streams"].items():
            print(
                f"    {name:<24} {figures['records']:>8,} records {figures['requests']:>6,} requests {figures['s']:>6} s"
            )
        for error in result["errors"]:
            print(f"    error: {error}")


if __name__ == "__main__":
    main()
