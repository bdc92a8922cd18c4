"""A run killed at any point and run again leaves the warehouse as one uninterrupted run would:
nothing lost, nothing twice. Two runs at once: the second waits, then fails clearly."""

from __future__ import annotations

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
