"""A writer killed after a commit leaves its WAL; the next writer's commits must survive a reopen.

DuckDB 2.0 replays that WAL on open without checkpointing it, and a session whose killed
predecessor inserted rows may close without checkpointing either: its commits then sit in the
same WAL behind the killed session's, and replaying both drops some of its column updates.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from kb_pipeline.pages import Record
from kb_pipeline.warehouse import Warehouse
from tests.warehouse.builders import at, job, page

ROOT = Path(__file__).resolve().parents[2]

KILLED_WRITER = """
import os, signal, sys
from kb_pipeline.pages import Record
from kb_pipeline.warehouse import Warehouse
from tests.warehouse.builders import at, document, job, page

warehouse = Warehouse(sys.argv[1])
warehouse.load_pages([
    (page(fetched_at=at(1)), {"documents": [document("a")]}),
    (
        page("pai.jobs", "d-1", fetched_at=at(1)),
        {"jobs": [job("pai-0", "succeeded", 100.0, attachment_url="https://pai/0"), job("pai-new")]},
    ),
])
os.kill(os.getpid(), signal.SIGKILL)
"""
"""Commits an insert into one table and an upsert into jobs (attachment_url included), then dies."""


def task(task_id: str, finished: bool) -> Record:
    url = f"https://tos/{task_id}.zip" if finished else None
    status = "succeeded" if finished else "running"
    return job(
        task_id, status, 100.0 if finished else 10.0, source="vikingdb", kb_id=None, attachment_url=url
    )


def kill_a_writer_after_its_commit(data_dir: Path) -> None:
    victim = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(data_dir)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        check=False,
    )
    assert victim.returncode == -signal.SIGKILL, victim.stderr.decode()


def test_commits_after_a_killed_writer_survive_the_next_open(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    tasks = [f"task-{i}" for i in range(4)]
    with Warehouse(data_dir) as warehouse:
        warehouse.load_page(
            page("pai.jobs", "d-1", fetched_at=at(0)),
            {"jobs": [job("pai-0", attachment_url="https://pai/0")]},
        )
        warehouse.load_page(
            page("vikingdb.tasks", "", fetched_at=at(0)), {"jobs": [task(t, finished=False) for t in tasks]}
        )
    kill_a_writer_after_its_commit(data_dir)

    with Warehouse(data_dir) as warehouse:
        assert not warehouse.wal_path.exists(), "the killed writer's WAL is checkpointed on open"
        warehouse.load_page(
            page("vikingdb.tasks", "", fetched_at=at(2)),
            {"jobs": [task(t, finished=t != tasks[-1]) for t in tasks]},
        )

    with Warehouse.reader(data_dir) as warehouse:
        stored = warehouse.query(
            "SELECT job_id, status, attachment_url FROM jobs WHERE source = 'vikingdb' ORDER BY job_id"
        ).to_pylist()
        killed = warehouse.query("SELECT job_id FROM jobs WHERE source = 'pai_langstudio' ORDER BY job_id")
    assert stored == [
        {"job_id": t, "status": "running", "attachment_url": None}
        if t == tasks[-1]
        else {"job_id": t, "status": "succeeded", "attachment_url": f"https://tos/{t}.zip"}
        for t in tasks
    ]
    assert killed.column("job_id").to_pylist() == ["pai-0", "pai-new"], "the killed writer's commit is kept"
