"""Extract all seven streams from a sandbox in its own process; print records/s, requests/s, peak memory.

Each configuration runs in a fresh child process so its peak memory is its own. With the vendors'
QPS limits on, the wall time should approach the busiest vendor's requests divided by its QPS,
since every vendor and knowledge base runs at once; the table prints that bound next to it.

    python benchmarks/extract_streams.py [--scale 100] [--qps off|on|both]
"""

from __future__ import annotations

import argparse
import json
import resource
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


def measure(scale: float, qps: bool) -> dict:
    """One extraction into a fresh warehouse; runs in its own process (see main)."""
    from kb_pipeline.config import parse_config
    from kb_pipeline.demo import export_sandbox_environment, sandbox_config
    from kb_pipeline.extract import extract
    from kb_pipeline.sandbox import Dataset
    from kb_pipeline.sandbox.settings import DEFAULT_QPS
    from kb_pipeline.warehouse import Warehouse

    server, url = start_sandbox(scale, qps)
    try:
        dataset = Dataset.generate(SEED, scale)  # same seed and scale: the server's records
        export_sandbox_environment()
        with tempfile.TemporaryDirectory() as data_dir:
            # limits on: the client keeps to each vendor's default QPS; off: no client limit either
            document = sandbox_config(url, dataset, Path(data_dir), qps=None if qps else UNLIMITED_QPS)
            config = parse_config(document, Path(data_dir) / "bench.yaml")
            started = time.perf_counter()
            with Warehouse(data_dir) as warehouse:
                report = extract(config, warehouse, run_id="bench")
            wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    requests = Counter()
    for stream in report.streams:
        requests[stream.source] += stream.requests
    records = sum(s.records for s in report.streams)
    bound = max(requests[source] / DEFAULT_QPS[source] for source in requests) if qps else None
    return {
        "scale": scale,
        "qps": qps,
        "wall_s": wall,
        "records": records,
        "requests": sum(requests.values()),
        "records_per_s": records / wall,
        "requests_per_s": sum(requests.values()) / wall,
        "throttled": sum(s.throttled for s in report.streams),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "qps_bound_s": bound,
        "errors": [e for s in report.streams for e in s.errors],
        "streams": {
            s.stream: {"records": s.records, "requests": s.requests, "s": round(s.duration_s, 1)}
            for s in report.streams
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=100.0, help="100 ≈ 100,000 documents and 10,000 jobs")
    parser.add_argument("--qps", choices=("off", "on", "both"), default="both")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.scale, args.qps == "on")))
        return
    for mode in ("off", "on") if args.qps == "both" else (args.qps,):
        child = [sys.executable, __file__, "--child", "--scale", str(args.scale), "--qps", mode]
        result = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout)
        bound = f", bound by QPS ≈ {result['qps_bound_s']:.0f} s" if result["qps_bound_s"] else ""
        print(
            f"QPS limits {mode}: {result['records']:,} records, {result['requests']:,} requests in "
            f"{result['wall_s']:.1f} s{bound}: {result['records_per_s']:,.0f} records/s, "
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
