"""Protects chunk_growth_daily: VikingDB-style snapshots give the day's last count summed over
pipelines, PAI job deltas cumulate per finished day, in UTC, without deleted jobs or knowledge bases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest


def at(day: int, hour: float) -> datetime:
    return datetime(2025, 3, day, tzinfo=UTC) + timedelta(hours=hour)


def snapshot(kb_id: str, when: datetime, pipeline: str, chunks: int, doc_num: int = 1) -> dict:
    return {
        "source": "vikingdb",
        "kb_id": kb_id,
        "pipeline": pipeline,
        "observed_at": when,
        "chunk_count": chunks,
        "doc_num": doc_num,
    }


def pai_job(
    job_id: str, status: str, finished: datetime | None, added: int | None, deleted: int | None, **extra
) -> dict:
    return {
        "source": "pai_langstudio",
        "job_id": job_id,
        "kb_id": "kb-pai",
        "status": status,
        "created_at": at(1, 0),
        "finished_at": finished,
        "add_chunk_count": added,
        "delete_chunk_count": deleted,
    } | extra


@pytest.fixture
def growth(insert, query) -> dict[tuple[str, date], dict]:
    insert(
        "knowledge_bases",
        [
            {"source": "vikingdb", "kb_id": "coll-live"},
            {"source": "vikingdb", "kb_id": "coll-gone", "deleted_at": at(5, 0)},
            {"source": "pai_langstudio", "kb_id": "kb-pai"},
        ],
    )
    snapshots = {  # (day, hour): {pipeline: chunks}
        (1, 8): {"p1": 10, "p2": 5},
        (1, 20): {"p1": 12, "p2": 6},
        (2, 9): {"p1": 20, "p2": 6},
        (2, 23.5): {"p1": 25, "p2": 6},  # 07:30 on day 3 in Asia/Shanghai, still day 2 in UTC
        (4, 1): {"p1": 15, "p2": 6},
    }
    insert(
        "chunk_counts",
        [
            snapshot("coll-live", at(day, hour), pipeline, chunks)
            for (day, hour), pipelines in snapshots.items()
            for pipeline, chunks in pipelines.items()
        ]
        + [snapshot("coll-gone", at(1, 8), "p1", 999)]
        + [
            {
                "source": "pai_langstudio",
                "kb_id": "kb-pai",
                "pipeline": "job_delta",
                "observed_at": at(1, 9),
                "chunk_count": 12345,
            }
        ],
    )
    insert(
        "jobs",
        [
            pai_job("a", "succeeded", at(1, 3), 100, 0),
            pai_job("b", "succeeded", at(1, 23), 20, 5),
            pai_job("c", "failed", at(1, 4), 50, None),
            pai_job("d", "succeeded", at(3, 2), None, 30),
            pai_job("e", "succeeded", at(3, 3), 7, 0, deleted_at=at(4, 0)),
            pai_job("f", "running", None, 9, 0),
            pai_job("g", "succeeded", at(2, 1), None, None),
            {
                "source": "vikingdb",
                "job_id": "t1",
                "kb_id": "coll-live",
                "status": "succeeded",
                "finished_at": at(2, 0),
                "add_chunk_count": 70,
            },
        ],
    )
    return {(row["kb_id"], row["day"]): row for row in query("chunk_growth_daily")}


def test_snapshots_give_the_days_last_count_summed_over_pipelines(growth) -> None:
    viking = {
        day: (row["chunk_count"], row["chunk_delta"], row["method"])
        for (kb_id, day), row in growth.items()
        if kb_id == "coll-live"
    }
    assert viking == {
        date(2025, 3, 1): (18, None, "snapshot"),
        date(2025, 3, 2): (31, 13, "snapshot"),
        date(2025, 3, 4): (21, -10, "snapshot"),
    }


def test_job_deltas_cumulate_per_finished_day(growth) -> None:
    pai = {
        day: (row["chunk_count"], row["chunk_delta"], row["method"])
        for (kb_id, day), row in growth.items()
        if kb_id == "kb-pai"
    }
    assert pai == {
        date(2025, 3, 1): (115, 115, "job_delta"),
        date(2025, 3, 3): (85, -30, "job_delta"),
    }


def test_deleted_knowledge_bases_are_left_out(growth) -> None:
    assert {kb_id for kb_id, _ in growth} == {"coll-live", "kb-pai"}
