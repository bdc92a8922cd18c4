"""A run killed at any point and run again leaves the warehouse as one uninterrupted run would:
nothing lost, nothing twice. Two runs at once: the second waits, then fails clearly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb_pipeline.sandbox import SandboxServer
from tests.pipeline.conftest import configure, rows, run_engine

RUNNER = Path(__file__).with_name("extract_once.py")
ROOT = Path(__file__).resolve().parents[2]
# columns that depend on when a page was fetched, not on what it held
WHEN = {"first_seen_at", "last_seen_at", "observed_at"}
TABLE_KEYS = {
    "knowledge_bases": "source, kb_id",
    "documents": "source, kb_id, doc_id",
    "document_tags": "source, kb_id, doc_id, tag_key, tag_value",
    "jobs": "source, job_id",
    "job_files": "source, job_id, file_meta_id",
    "job_status_history": "source, job_id, status",
    "chunk_counts": "source, kb_id, pipeline, chunk_count",
}


def snapshot(data_dir: Path) -> dict[str, list[tuple]]:
    """Every table's content, less fetch times; repeated snapshots of the same state count once."""
    tables = {}
    for name, key in TABLE_KEYS.items():
        found = rows(data_dir, f"SELECT * FROM {name} ORDER BY {key}")
        values = [tuple((k, repr(v)) for k, v in row.items() if k not in WHEN) for row in found]
        tables[name] = sorted(set(values)) if name in ("chunk_counts", "job_status_history") else values
    return tables


def extraction(config: Path, run_id: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(RUNNER), str(config), run_id],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def raw_pages(data_dir: Path) -> int:
    return sum(1 for _ in (data_dir / "raw").rglob("*.parquet")) if (data_dir / "raw").exists() else 0


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
    victim = extraction(config, "killed")
    deadline = time.monotonic() + 60
    while raw_pages(tmp_path) < kill_after_pages and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    assert victim.returncode == -signal.SIGKILL, "the run finished before it could be killed"

    rerun = extraction(config, "resumed")
    assert rerun.wait(timeout=120) == 0, rerun.stderr.read().decode()
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
