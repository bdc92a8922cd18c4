"""A second process that finds the warehouse locked waits, then fails with a clear message."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb_pipeline.warehouse import Warehouse, WarehouseBusyError, read_only_query

HOLDER = """
import sys
from kb_pipeline.warehouse import Warehouse
with Warehouse(sys.argv[1]):
    print("holding", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def holder(tmp_path) -> Iterator[subprocess.Popen]:
    """Another process holding the warehouse open for writing until its stdin is closed."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "holding"
    yield process
    if process.poll() is None:
        process.stdin.close()
        process.wait(timeout=30)


def release(process: subprocess.Popen) -> None:
    process.stdin.close()
    process.wait(timeout=30)


def test_a_second_writer_waits_then_fails_naming_the_file_and_holder(tmp_path: Path, holder) -> None:
    started = time.monotonic()
    with pytest.raises(WarehouseBusyError) as raised:
        Warehouse(tmp_path, lock_timeout_s=1.0, poll_interval_s=0.1)
    assert time.monotonic() - started >= 1.0
    message = str(raised.value)
    assert str(tmp_path / "warehouse.duckdb") in message
    assert "another run is writing it" in message and f"PID {holder.pid}" in message
    with pytest.raises(WarehouseBusyError):
        read_only_query(tmp_path, "SELECT 1")


def test_a_waiting_writer_opens_once_the_holder_is_done(tmp_path: Path, holder) -> None:
    threading.Timer(0.5, release, [holder]).start()
    started = time.monotonic()
    with Warehouse(tmp_path, lock_timeout_s=30.0, poll_interval_s=0.1) as warehouse:
        assert time.monotonic() - started >= 0.4
        assert warehouse.schema_version() >= 1
