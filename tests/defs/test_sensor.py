"""The `follow_running_jobs` sensor against a real warehouse file: it asks for the streams of the
sources that still have running jobs, skips when there are none, and skips (instead of waiting or
failing) while another process holds the writer."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from kb_pipeline.defs.automation import follow_running_jobs
from kb_pipeline.warehouse import Warehouse
from tests.defs.graph_runs import resources_for

HOLD_WRITER = """
import sys, time
from kb_pipeline.warehouse import Warehouse
with Warehouse(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(30)
"""


def config_for(data_dir: Path) -> Path:
    path = data_dir.parent / "config.yaml"
    path.write_text(
        f"data_dir: {data_dir}\n"
        "sources:\n  qianfan:\n    endpoint: http://127.0.0.1:9\n    credentials: {api_key: '${KB_TEST_KEY}'}\n",
        encoding="utf-8",
    )
    return path


def add_jobs(data_dir: Path, jobs: list[tuple[str, str, str]]) -> None:
    """(source, job_id, status) rows in the jobs table, through the warehouse's own writer."""
    now = datetime.now(UTC)
    with Warehouse(data_dir) as warehouse:
        for source, job_id, status in jobs:
            warehouse.query(
                "INSERT INTO jobs (source, job_id, status, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?)",
                [source, job_id, status, now, now],
            )


def tick(data_dir: Path) -> dg.RunRequest | dg.SkipReason:
    resources = resources_for(config_for(data_dir))
    with (
        dg.DagsterInstance.ephemeral() as instance,
        dg.build_sensor_context(
            instance=instance, sensor_name="follow_running_jobs", resources=resources
        ) as context,
    ):
        return follow_running_jobs(context)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KB_TEST_KEY", "unused")
    return tmp_path / "data"


def test_requests_the_streams_of_sources_with_running_jobs(data_dir: Path) -> None:
    add_jobs(
        data_dir,
        [
            ("pai_langstudio", "job-1", "running"),
            ("pai_langstudio", "job-2", "succeeded"),
            ("vikingdb", "t-1", "failed"),
        ],
    )
    request = tick(data_dir)
    assert isinstance(request, dg.RunRequest)
    assert request.asset_selection == [dg.AssetKey(["pai", "jobs"])]


def test_skips_when_nothing_is_running(data_dir: Path) -> None:
    add_jobs(data_dir, [("vikingdb", "t-1", "succeeded")])
    assert isinstance(tick(data_dir), dg.SkipReason)


def test_skips_while_another_process_writes(data_dir: Path) -> None:
    add_jobs(data_dir, [("vikingdb", "t-1", "running")])
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITER, str(data_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        result = tick(data_dir)
    finally:
        holder.kill()
        holder.wait()
    assert isinstance(result, dg.SkipReason)
    assert "warehouse" in result.skip_message
