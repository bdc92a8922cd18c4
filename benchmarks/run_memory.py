"""Peak memory and wall time of a whole `kb-pipeline run` as the tenant grows; prints one line per scale.

For each scale the sandbox serves in its own process (QPS limits off, so the pipeline's own work
sets the pace), and `kb-pipeline run` starts afresh in another, against an empty warehouse and an
empty Dagster instance, with a configuration built from the sandbox's own dataset. While the run
works, the resident memory of its whole process tree is sampled; afterwards the run's Dagster
event log says when each phase began and ended, so the peak is also given per phase:

    imports     process start to the extraction step's start (Python, Dagster, the definitions)
    extraction  the extraction step, up to its first stream materialization
    checks      the rest of the extraction step: the asset checks of every stream
    marts       the mart views;  feeds: the Parquet feeds;  report: the HTML report
    summary     after the last step: the table counts the command prints

The kernel's peak of the run process is printed too (`ru_maxrss` from `wait4`, and VmHWM read at
each sample): it catches a spike shorter than a sample. Linux counts in a child's `ru_maxrss` the peak of the memory it had
before exec, that is, this process's own peak at the moment it started the run; so everything
large (the dataset behind the configuration, the event log read afterwards) is done in short-lived
helper processes, and this one's own peak is printed beside the run's to show it stays below.

The default scales give about 8,000, 114,000 and 400,000 rows of `documents` (Qianfan's documents,
Lingma's files and VikingDB's documents together; VikingDB's grow with the square root of the scale).

    python benchmarks/run_memory.py [--scales 0.5 20 100] [--interval 0.02]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import psutil
from extract_streams import SEED, UNLIMITED_QPS, start_sandbox

MIB = 1024 * 1024
PROJECT_INSTANCE = Path(__file__).resolve().parents[1] / "dagster_home" / "dagster.yaml"
STEPS = {"extract_streams": "extraction", "create_marts": "marts", "feeds": "feeds", "report": "report"}
PHASES = ("imports", "extraction", "checks", "marts", "feeds", "report", "summary")


@dataclass
class TreeSampler:
    """Samples the summed RSS of a process and all its descendants until it exits.

    A child forked but not yet running its own program (same command line as its parent, as
    `subprocess` leaves it for a moment before exec) shares its parent's pages, and its RSS is
    the parent's: it is left out, or one sample would count the parent's memory twice.
    """

    pid: int
    interval: float
    samples: list[tuple[float, int]] = field(default_factory=list)
    root_hwm: int = 0
    """The kernel's peak RSS of the root process's own memory (VmHWM) at the last sample."""

    def run(self) -> None:
        root = psutil.Process(self.pid)
        while True:
            try:
                tree = [root, *root.children(recursive=True)]
                rss = 0
                for process in tree:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        if process is root or not _forked_only(process):
                            rss += process.memory_info().rss
            except psutil.NoSuchProcess:
                return
            if root.status() == psutil.STATUS_ZOMBIE:
                return
            self.samples.append((time.time(), rss))
            with contextlib.suppress(OSError, StopIteration):
                self.root_hwm = max(self.root_hwm, hiwater(self.pid))
            time.sleep(self.interval)

    def peak(self, start: float = 0.0, end: float = float("inf")) -> int:
        return max((rss for at, rss in self.samples if start <= at <= end), default=0)


def _forked_only(process: psutil.Process) -> bool:
    """True for a child that has not exec'd yet: it runs its parent's command line."""
    parent = process.parent()
    return parent is not None and process.cmdline() == parent.cmdline()


def hiwater(pid: int | str) -> int:
    """A process's peak RSS in bytes as the kernel keeps it (VmHWM), since its last exec."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def apart(function: Callable[..., Any], *args: Any) -> Any:
    """`function(*args)` in a fresh short-lived interpreter, so its memory never counts as ours."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def write_config(url: str, scale: float, data_dir: Path) -> tuple[Path, dict[str, str]]:
    """The sandbox's configuration for `scale` (built from the dataset the server holds), and the
    environment its credential references name."""
    from kb_pipeline.demo import SANDBOX_ENVIRONMENT, write_sandbox_config
    from kb_pipeline.sandbox import Dataset

    dataset = Dataset.generate(SEED, scale)  # same seed and scale: the ids the server holds
    return write_sandbox_config(url, dataset, data_dir, qps=UNLIMITED_QPS), dict(SANDBOX_ENVIRONMENT)


def phase_windows(dagster_home: Path, started: float, ended: float) -> dict[str, tuple[float, float]]:
    """(start, end) wall-clock times of each phase, read from the run's Dagster event log."""
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    steps: dict[str, list[float]] = {}
    first_materialization = None
    with dg.DagsterInstance.get() as instance:
        for run in instance.get_runs():
            for entry in instance.all_logs(run.run_id):
                event = entry.dagster_event
                if event is None or entry.step_key not in STEPS:
                    continue
                kind = event.event_type_value
                if kind in ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE"):
                    steps.setdefault(STEPS[entry.step_key], []).append(entry.timestamp)
                elif kind == "ASSET_MATERIALIZATION" and entry.step_key == "extract_streams":
                    first_materialization = min(first_materialization or entry.timestamp, entry.timestamp)
    windows = {phase: (min(times), max(times)) for phase, times in steps.items()}
    extraction_start, extraction_end = windows["extraction"]
    if first_materialization is not None:
        windows["extraction"] = (extraction_start, first_materialization)
        windows["checks"] = (first_materialization, extraction_end)
    windows["imports"] = (started, extraction_start)
    windows["summary"] = (max(end for _, end in windows.values()), ended)
    return windows


def documents_loaded(data_dir: Path) -> int:
    import duckdb

    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        return con.execute("SELECT count(*) FROM documents").fetchall()[0][0]


def measure(scale: float, interval: float) -> dict:
    """One `kb-pipeline run` at `scale` in a fresh process; its peaks, wall time and documents."""
    server, url = start_sandbox(scale, qps=False)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            data_dir, home = Path(workdir) / "data", Path(workdir) / "dagster_home"
            home.mkdir()
            shutil.copy(PROJECT_INSTANCE, home)  # the instance settings a cron run uses
            config, credentials = apart(write_config, url, scale, data_dir)
            command = [str(Path(sys.executable).parent / "kb-pipeline"), "run", "--config", str(config)]
            environment = {**credentials, **os.environ, "DAGSTER_HOME": str(home)}
            own_peak = hiwater("self") / MIB
            started = time.time()
            log = (Path(workdir) / "run.log").open("w+")
            child = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
            sampler = TreeSampler(child.pid, interval)
            watcher = threading.Thread(target=sampler.run, daemon=True)
            watcher.start()
            _, status, usage = os.wait4(child.pid, 0)
            ended = time.time()
            watcher.join()
            child.returncode = os.waitstatus_to_exitcode(status)
            log.seek(0)
            output = log.read()
            log.close()
            if child.returncode not in (0, 1):
                raise SystemExit(f"kb-pipeline run failed ({child.returncode}):\n{output}")
            lines = output.splitlines()
            start = next((i for i, line in enumerate(lines) if line.startswith("failed:")), len(lines))
            failures = [line for line in lines[start:] if line.strip() and not line.startswith("checks:")]
            windows = apart(phase_windows, home, started, ended)
            documents = apart(documents_loaded, data_dir)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "scale": scale,
        "documents": documents,
        "wall_s": ended - started,
        "peak_tree_mib": sampler.peak() / MIB,
        "peak_process_mib": usage.ru_maxrss * 1024 / MIB,
        "peak_benchmark_mib": own_peak,
        "peak_process_hwm_mib": sampler.root_hwm / MIB,
        "phases_mib": {phase: sampler.peak(*windows[phase]) / MIB for phase in PHASES if phase in windows},
        "failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", type=float, nargs="+", default=[0.5, 20.0, 100.0])
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between RSS samples")
    args = parser.parse_args()
    print(
        f"{'scale':>6} {'documents':>10} {'wall s':>8} {'peak tree MiB':>14} {'peak process MiB':>17}"
        f" {'VmHWM MiB':>10} {'benchmark MiB':>14}"
    )
    results = []
    for scale in args.scales:
        r = measure(scale, args.interval)
        results.append(r)
        print(
            f"{r['scale']:>6g} {r['documents']:>10,} {r['wall_s']:>8.1f} {r['peak_tree_mib']:>14.0f} "
            f"{r['peak_process_mib']:>17.0f} {r['peak_process_hwm_mib']:>10.0f} {r['peak_benchmark_mib']:>14.0f}",
            flush=True,
        )
        for line in r["failures"]:
            print(f"    {line}", flush=True)
    print("peak MiB per phase: " + " ".join(f"{phase:>10}" for phase in PHASES))
    for r in results:
        cells = " ".join(f"{r['phases_mib'].get(phase, 0):>10.0f}" for phase in PHASES)
        print(f"{'scale ' + format(r['scale'], 'g'):>19}: {cells}")
    if len(results) > 1:
        peak = [max(r["peak_tree_mib"], r["peak_process_mib"]) for r in results]
        print(f"largest / smallest peak: {peak[-1] / peak[0]:.2f}")


if __name__ == "__main__":
    main()
