"""A run killed at any point and run again leaves the warehouse as one uninterrupted run would:
nothing lost, nothing twice. Two runs at once: the second waits, then fails clearly."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from kb_pipeline.sandbox import SandboxServer
from tests.pipeline.conftest import configure, extraction, kill_then_resume, raw_pages, run_engine, snapshot


@pytest.fixture(scope="module")
def server():
    with SandboxServer(seed=9, scale=1.0, qps=None) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def reference(server, tmp_path_factory) -> dict[str, list[tuple]]:
    data_dir = tmp_path_factory.mktemp("uninterrupted")
    assert run_engine(configure(server, data_dir, qianfan={"page_size": 20})).ok
    return snapshot(data_dir)


@pytest.mark.parametrize("kill_after_pages", [1, 12, 45])
def test_a_killed_run_resumes_to_the_same_tables(
    server, reference, tmp_path: Path, kill_after_pages: int
) -> None:
    config = configure(server, tmp_path, qianfan={"page_size": 20})
    kill_then_resume(config, tmp_path, kill_after_pages)
    assert snapshot(tmp_path) == reference


def test_a_second_writer_waits_then_fails_clearly_and_corrupts_nothing(
    server, reference, tmp_path: Path
) -> None:
    config = configure(server, tmp_path, qianfan={"page_size": 20})
    first = extraction(config, "first")
    while raw_pages(tmp_path) < 1 and first.poll() is None:
        time.sleep(0.005)
    from kb_pipeline.warehouse import Warehouse, WarehouseBusyError

    with pytest.raises(WarehouseBusyError) as raised:
        Warehouse(tmp_path, lock_timeout_s=0.5, poll_interval_s=0.1)
    assert "warehouse.duckdb" in str(raised.value)
    assert first.wait(timeout=120) == 0, first.stderr.read().decode()
    assert snapshot(tmp_path) == reference


CHILD_PAGES = {"lingma": {"page_size": 3}, "vikingdb": {"doc_page_size": 20}}
"""Child listings of many pages, so a run can be killed inside one."""


def stream_pages(data_dir: Path, stream: str) -> int:
    landed = data_dir / "raw" / stream
    return sum(1 for _ in landed.rglob("*.parquet")) if landed.exists() else 0


def kill_inside(config: Path, data_dir: Path, stream: str, after_pages: int) -> None:
    """SIGKILL an extraction once `stream` has landed `after_pages` more pages, then run it to the end."""
    landed = stream_pages(data_dir, stream)
    victim = extraction(config, "killed")
    deadline = time.monotonic() + 120
    while (
        stream_pages(data_dir, stream) < landed + after_pages
        and victim.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.005)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    assert victim.returncode == -signal.SIGKILL, f"the run finished before {stream} could be killed"
    rerun = extraction(config, "resumed")
    assert rerun.wait(timeout=300) == 0, rerun.stderr.read().decode()


@pytest.fixture(scope="module")
def child_reference(server, tmp_path_factory) -> dict[str, list[tuple]]:
    data_dir = tmp_path_factory.mktemp("uninterrupted-children")
    assert run_engine(configure(server, data_dir, qianfan={"page_size": 20}, **CHILD_PAGES)).ok
    return snapshot(data_dir)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stream", "after_pages"), [("lingma.documents", 5), ("vikingdb.documents", 7), ("pai.chunk_counts", 2)]
)
def test_a_run_killed_inside_a_child_listing_resumes_to_the_same_tables(
    server, child_reference, tmp_path: Path, stream: str, after_pages: int
) -> None:
    config = configure(server, tmp_path, qianfan={"page_size": 20}, **CHILD_PAGES)
    kill_inside(config, tmp_path, stream, after_pages)
    assert stream_pages(tmp_path, stream) > after_pages, "the resumed run went on with the stream"
    assert snapshot(tmp_path) == child_reference
