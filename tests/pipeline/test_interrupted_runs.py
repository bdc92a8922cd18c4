"""Ctrl-C or SIGTERM stops `kb-pipeline run` within 5 s wherever it is: before the first commit (the
vendors slow to answer), mid-stream, or publishing. It says so in one line, exits 130 or 143,
releases the warehouse, publishes nothing, and the next run converges to an uninterrupted run's
tables. A second Ctrl-C exits at once. Real processes, signals, sandbox, DuckDB and Dagster."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kb_pipeline.sandbox import VENDORS, SandboxServer
from kb_pipeline.warehouse import Warehouse
from tests.pipeline.conftest import configure, extraction, raw_pages, run_engine, snapshot

pytestmark = pytest.mark.slow

KB_PIPELINE = str(Path(sys.executable).with_name("kb-pipeline"))
EXIT_WITHIN_S = 5.0
SLOW_ANSWER_S = 15.0
"""How long the sandbox takes to answer in the case before the first commit (> a progress period)."""


class Run:
    """`kb-pipeline run` in a subprocess, its output lines collected as they come."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen(
            [KB_PIPELINE, "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_until(self, ready: Callable[[], bool], timeout_s: float = 300) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            assert self.process.poll() is None, "\n".join(["the run ended first:", *self.lines])
            assert time.monotonic() < deadline, "\n".join(["never got there:", *self.lines])
            time.sleep(0.01)

    def stop(self, signum: int) -> float:
        """Send `signum`; seconds until the process exited."""
        sent = time.monotonic()
        self.process.send_signal(signum)
        self.process.wait(timeout=60)
        took = time.monotonic() - sent
        self.reader.join(timeout=10)
        return took


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    """The vendors with their request limits on, so a run takes long enough to be stopped midway."""
    with SandboxServer(seed=9, scale=1.0, qps="default") as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def reference(server: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    data_dir = tmp_path_factory.mktemp("uninterrupted")
    assert run_engine(configure(server, data_dir, qianfan={"page_size": 20})).ok
    return snapshot(data_dir)


def slow_vendors(server: SandboxServer) -> None:
    for vendor in VENDORS:
        server.control.add_fault(vendor, "slow", count=1000, delay=SLOW_ANSWER_S)


def before_the_first_commit(run: Run, data_dir: Path) -> None:
    """Every vendor answers late: wait for the first progress line (off a terminal, every 10 s)."""
    run.wait_until(lambda: any(line.startswith("extracting (") for line in run.lines))
    assert raw_pages(data_dir) == 0


def mid_stream(run: Run, data_dir: Path) -> None:
    run.wait_until(lambda: raw_pages(data_dir) >= 12)


def publishing(run: Run, data_dir: Path) -> None:
    """The per-stream table is printed once every stream is loaded, just before publishing starts."""
    run.wait_until(lambda: any(line.startswith("stream ") for line in run.lines))


POINTS = {
    "before the first commit": before_the_first_commit,
    "mid-stream": mid_stream,
    "publishing": publishing,
}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("point", list(POINTS))
def test_a_signal_stops_the_run_cleanly_and_the_next_run_converges(
    server: SandboxServer, reference, tmp_path: Path, point: str, signum: signal.Signals
) -> None:
    config = configure(server, tmp_path, qianfan={"page_size": 20})
    if point == "before the first commit":
        slow_vendors(server)
    try:
        run = Run(config)
        POINTS[point](run, tmp_path)
        took = run.stop(signum)
    finally:
        server.control.clear_faults()

    output = "\n".join(run.lines)
    print(f"{point}, {signum.name}: exit {run.process.returncode} {took:.2f} s after the signal")
    assert run.process.returncode == 128 + signum, output
    assert took < EXIT_WITHIN_S, output
    said = [line for line in run.lines if line.startswith(f"interrupted ({signum.name})")]
    assert len(said) == 1 and "next run resumes" in said[0], output
    assert "Traceback" not in output and "warehouse:" not in output
    assert not (tmp_path / "report.html").exists()
    if point != "publishing":
        assert not (tmp_path / "feeds").exists()
    with Warehouse(tmp_path, lock_timeout_s=0):  # the write lock was released
        pass

    rerun = extraction(config, "resumed")
    assert rerun.wait(timeout=300) == 0, rerun.stderr.read().decode()
    assert snapshot(tmp_path) == reference


def test_a_second_ctrl_c_exits_at_once(server: SandboxServer, tmp_path: Path) -> None:
    config = configure(server, tmp_path, qianfan={"page_size": 20})
    slow_vendors(server)  # the first Ctrl-C cannot finish before the second comes
    try:
        run = Run(config)
        run.wait_until(lambda: (tmp_path / "warehouse.duckdb").exists())
        run.process.send_signal(signal.SIGINT)
        time.sleep(0.1)
        took = run.stop(signal.SIGINT)
    finally:
        server.control.clear_faults()

    assert run.process.returncode == 130
    assert took < 1.0
    assert len([line for line in run.lines if line.startswith("interrupted (SIGINT)")]) == 1
