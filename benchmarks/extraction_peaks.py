"""What the extraction's memory is made of at its peaks, and what DuckDB's checkpoints add.

The extraction alone (no Dagster) runs in this process against the sandbox in its own process
(QPS limits off); the configuration is built in a short-lived child, so the dataset behind it is
not counted. A thread samples every 5 ms:

- the process's resident memory, file-backed (code) and anonymous;
- DuckDB's own allocator: DuckDB links a jemalloc of its own, outside glibc's heap, whose figures
  are read through the `duckdb_je_mallctl` it exports (allocated: in use; resident: pages held);
- glibc's heap (`mallinfo2`, in use and free): Python's large objects, Arrow's buffers (pyarrow
  uses the system allocator) and DuckDB's C++ objects;
- the writer thread's innermost frames of this package;
- the size of DuckDB's write-ahead log, which a checkpoint empties.

It prints the composition at the highest sample, the highest DuckDB allocation and resident
memory while each checkpoint ran (since the log last grew) against the highest at any other
time, and glibc's heap in use before and after the warehouse closes, which shows what DuckDB
kept for the session.

    python benchmarks/extraction_peaks.py [--scale 20] [--checkpoint-threshold 16MB]
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from extract_streams import start_sandbox
from run_memory import MIB, apart, hiwater, write_config

SAMPLE_S = 0.005


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in [
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        ]
    ]


_libc = ctypes.CDLL("libc.so.6")
_libc.mallinfo2.restype = _MallInfo2


class DuckDBAllocator:
    """Statistics of the jemalloc linked into DuckDB's extension module."""

    def __init__(self) -> None:
        import _duckdb

        self._lib = ctypes.CDLL(_duckdb.__file__)

    def _read(self, name: str) -> int:
        value, size = ctypes.c_size_t(0), ctypes.c_size_t(ctypes.sizeof(ctypes.c_size_t))
        self._lib.duckdb_je_mallctl(name.encode(), ctypes.byref(value), ctypes.byref(size), None, 0)
        return value.value

    def allocated_and_resident(self) -> tuple[float, float]:
        epoch, size = ctypes.c_uint64(1), ctypes.c_size_t(8)
        self._lib.duckdb_je_mallctl(b"epoch", ctypes.byref(epoch), ctypes.byref(size), ctypes.byref(epoch), 8)
        return self._read("stats.allocated") / MIB, self._read("stats.resident") / MIB


@dataclass
class Sample:
    at_s: float
    rss: float
    anon: float
    file: float
    glibc_used: float
    glibc_free: float
    duck_allocated: float
    duck_resident: float
    writer: str = ""


def _status() -> dict[str, float]:
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "RssAnon", "RssFile")}


def _writer_frames() -> str:
    frames = sys._current_frames()
    for thread in threading.enumerate():
        if thread.name.startswith("warehouse-writer") and thread.ident in frames:
            ours = [f for f in traceback.extract_stack(frames[thread.ident]) if "kb_pipeline" in f.filename]
            return " < ".join(f"{f.name}:{f.lineno}" for f in reversed(ours[-3:]))
    return ""


class Sampler(threading.Thread):
    """Samples until stopped; keeps the highest sample and each checkpoint's highest figures."""

    def __init__(self, wal: Path, duck: DuckDBAllocator) -> None:
        super().__init__(daemon=True)
        self.wal, self.duck = wal, duck
        self.stopping = threading.Event()
        self.peak: Sample | None = None
        self.checkpoints: list[tuple[float, float]] = []
        self.elsewhere = (0.0, 0.0)
        """The highest DuckDB allocation and RSS seen while the log was not being emptied."""

    def _sample(self, started: float) -> Sample:
        status, heap = _status(), _libc.mallinfo2()
        allocated, resident = self.duck.allocated_and_resident()
        return Sample(
            time.monotonic() - started, status["VmRSS"], status["RssAnon"], status["RssFile"],
            heap.uordblks / MIB, heap.fordblks / MIB, allocated, resident,
        )  # fmt: skip

    def run(self) -> None:
        started, last_wal = time.monotonic(), 0
        since_growth = (0.0, 0.0)
        while not self.stopping.is_set():
            sample = self._sample(started)
            if self.peak is None or sample.rss > self.peak.rss:
                sample.writer = _writer_frames()
                self.peak = sample
            wal = self.wal.stat().st_size if self.wal.exists() else 0
            if wal != last_wal:
                if wal < last_wal:
                    self.checkpoints.append(since_growth)
                else:
                    self.elsewhere = (
                        max(self.elsewhere[0], since_growth[0]),
                        max(self.elsewhere[1], since_growth[1]),
                    )
                since_growth = (0.0, 0.0)
            since_growth = max(since_growth[0], sample.duck_allocated), max(since_growth[1], sample.rss)
            last_wal = wal
            time.sleep(SAMPLE_S)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=20.0)
    parser.add_argument(
        "--checkpoint-threshold", help="DuckDB's checkpoint_threshold for this run (default 16MB)"
    )
    args = parser.parse_args()

    server, url = start_sandbox(args.scale, qps=False)
    try:
        # built in a short-lived interpreter: the dataset behind it is large
        config_file, _ = apart(write_config, url, args.scale, Path(tempfile.mkdtemp(prefix="kb-peaks-")))
        from kb_pipeline.config import load_config
        from kb_pipeline.demo import export_sandbox_environment
        from kb_pipeline.extract import extract
        from kb_pipeline.warehouse import Warehouse

        export_sandbox_environment()
        config = load_config(config_file)
        with Warehouse(config.data_dir) as warehouse:
            if args.checkpoint_threshold:
                warehouse.connection.execute(f"SET checkpoint_threshold = '{args.checkpoint_threshold}'")
            sampler = Sampler(warehouse.wal_path, DuckDBAllocator())
            sampler.start()
            started = time.perf_counter()
            report = extract(config, warehouse, run_id="extraction-peaks")
            wall = time.perf_counter() - started
            sampler.stopping.set()
            sampler.join()
            before_close = _libc.mallinfo2().uordblks / MIB
        after_close = _libc.mallinfo2().uordblks / MIB
    finally:
        server.terminate()

    peak = sampler.peak
    assert peak is not None
    records = sum(stream.records for stream in report.streams)
    print(f"scale {args.scale:g}: {records:,} records in {wall:.1f} s; highest RSS sampled {peak.rss:.0f} MiB "
          f"at {peak.at_s:.1f} s, the kernel's peak (VmHWM) {hiwater('self') / MIB:.0f} MiB")  # fmt: skip
    rest = peak.anon - peak.glibc_used - peak.glibc_free - peak.duck_resident
    print(f"  at the peak: file-backed {peak.file:.0f}, anonymous {peak.anon:.0f} = glibc's heap {peak.glibc_used:.0f} "
          f"in use + {peak.glibc_free:.0f} free, DuckDB's allocator {peak.duck_resident:.0f} resident "
          f"({peak.duck_allocated:.0f} allocated), the rest (Python's object arenas, stacks) {rest:.0f}")  # fmt: skip
    print(f"  the writer was in: {peak.writer or 'no load'}")
    if sampler.checkpoints:
        allocated = [a for a, _ in sampler.checkpoints]
        rss = [r for _, r in sampler.checkpoints]
        print(f"  {len(sampler.checkpoints)} checkpoints: DuckDB's allocator up to {min(allocated):.0f} to "
              f"{max(allocated):.0f} MiB and RSS up to {min(rss):.0f} to {max(rss):.0f} MiB while each ran; "
              f"at other times at most {sampler.elsewhere[0]:.0f} and {sampler.elsewhere[1]:.0f} MiB")  # fmt: skip
    print(
        f"  glibc's heap in use: {before_close:.0f} MiB before the warehouse closed, {after_close:.0f} after"
    )


if __name__ == "__main__":
    main()
