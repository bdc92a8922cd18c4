"""Merge semantics per table kind: current state, children, history, derived job status history."""

from __future__ import annotations

from kb_pipeline.pages import ScanEnd
from kb_pipeline.warehouse import TableStats, Warehouse
from kb_pipeline.warehouse.tables import TABLES
from tests.warehouse.builders import (
    at,
    chunk_count,
    document,
    job,
    job_file,
    knowledge_base,
    page,
    rows_of,
    tag,
)


def test_current_rows_are_inserted_updated_or_unchanged_and_keep_first_seen(warehouse: Warehouse) -> None:
    first = warehouse.load_page(page(fetched_at=at(0)), {"documents": [document("a"), document("b")]})
    assert first.tables["documents"] == TableStats(received=2, inserted=2)

    again = warehouse.load_page(
        page(fetched_at=at(10)),
        {"documents": [document("a"), document("b", status="failed", status_raw="error"), document("c")]},
    )
    assert again.tables["documents"] == TableStats(received=3, inserted=1, updated=1, unchanged=1)

    stored = {row["doc_id"]: row for row in rows_of(warehouse, "documents")}
    assert stored["a"]["first_seen_at"] == at(0) and stored["a"]["last_seen_at"] == at(10)
    assert stored["b"]["first_seen_at"] == at(0) and stored["b"]["status"] == "failed"
    assert stored["c"]["first_seen_at"] == at(10)
    assert all(row["deleted_at"] is None for row in stored.values())


def test_a_change_in_raw_alone_counts_as_an_update(warehouse: Warehouse) -> None:
    warehouse.load_page(page(fetched_at=at(0)), {"documents": [document("a")]})
    changed = document("a", raw={"id": "a", "displayStatus": "available", "newField": 1})
    stats = warehouse.load_page(page(fetched_at=at(1)), {"documents": [changed]})
    assert stats.tables["documents"].updated == 1
    assert '"newField":1' in rows_of(warehouse, "documents")[0]["raw"]


def test_scan_end_marks_unseen_rows_deleted_within_its_scope_only(warehouse: Warehouse) -> None:
    warehouse.load_page(page(fetched_at=at(0)), {"documents": [document("a"), document("b")]})
    warehouse.load_page(
        page(partition="kb-2", fetched_at=at(0)), {"documents": [document("x", kb_id="kb-2")]}
    )
    lingma_kb = {
        "source": "lingma",
        "kb_id": "a",
        "name": "same id, other vendor",
        "raw": {},
    }
    warehouse.load_page(
        page("lingma.knowledge_bases", "org-1", fetched_at=at(0)), {"knowledge_bases": [lingma_kb]}
    )

    scan = ScanEnd("documents", scan_started_at=at(5), partition_column="kb_id", partition="kb-1")
    stats = warehouse.load_page(page(fetched_at=at(6), scan_end=scan), {"documents": [document("a")]})

    assert stats.tables["documents"].deleted == 1
    deleted = {row["doc_id"]: row["deleted_at"] for row in rows_of(warehouse, "documents")}
    assert deleted == {"a": None, "b": at(6), "x": None}
    assert rows_of(warehouse, "knowledge_bases")[0]["deleted_at"] is None


def test_a_deleted_row_that_comes_back_is_restored_and_counted_as_updated(warehouse: Warehouse) -> None:
    warehouse.load_page(page(fetched_at=at(0)), {"documents": [document("a"), document("b")]})
    warehouse.load_page(
        page(fetched_at=at(2), scan_end=ScanEnd("documents", at(1), "kb_id", "kb-1")),
        {"documents": [document("a")]},
    )
    back = warehouse.load_page(page(fetched_at=at(3)), {"documents": [document("b")]})
    assert back.tables["documents"] == TableStats(received=1, updated=1)
    assert [row["deleted_at"] for row in rows_of(warehouse, "documents", "doc_id")] == [None, None]
    again = warehouse.load_page(
        page(fetched_at=at(4), scan_end=ScanEnd("documents", at(3), "kb_id", "kb-1")), {}
    )
    assert again.tables["documents"].deleted == 1
    assert [row["deleted_at"] for row in rows_of(warehouse, "documents", "doc_id")] == [at(4), None]


def test_a_scan_end_keeps_the_first_deletion_time(warehouse: Warehouse) -> None:
    warehouse.load_page(page(fetched_at=at(0)), {"documents": [document("a"), document("b")]})
    for minute in (2, 4):
        warehouse.load_page(
            page(fetched_at=at(minute), scan_end=ScanEnd("documents", at(minute - 1), "kb_id", "kb-1")),
            {"documents": [document("a")]},
        )
    assert rows_of(warehouse, "documents", "doc_id")[1]["deleted_at"] == at(2)


def test_children_of_each_parent_in_the_page_are_replaced(warehouse: Warehouse) -> None:
    warehouse.load_page(
        page(fetched_at=at(0)),
        {
            "documents": [document("a"), document("b"), document("c")],
            "document_tags": [
                tag("a", "topic", "x"),
                tag("a", "topic", "y"),
                tag("b", "lang", "zh"),
                tag("c", "k", "v"),
            ],
        },
    )
    stats = warehouse.load_page(
        page(fetched_at=at(1)),
        {"documents": [document("a"), document("b")], "document_tags": [tag("a", "topic", "z")]},
    )
    assert stats.tables["document_tags"] == TableStats(received=1, inserted=1, removed=3)
    remaining = [
        (row["doc_id"], row["tag_key"], row["tag_value"]) for row in rows_of(warehouse, "document_tags")
    ]
    assert remaining == [("a", "topic", "z"), ("c", "k", "v")]


def test_a_parent_given_without_the_child_table_still_loses_its_children(warehouse: Warehouse) -> None:
    warehouse.load_page(
        page("pai.jobs", "d-ksicx823d", fetched_at=at(0)),
        {"jobs": [job("j1")], "job_files": [job_file("j1", "f1"), job_file("j1", "f2")]},
    )
    warehouse.load_page(page("pai.jobs", "d-ksicx823d", fetched_at=at(1)), {"jobs": [job("j1")]})
    assert rows_of(warehouse, "job_files") == []


def test_history_rows_are_appended_once(warehouse: Warehouse) -> None:
    rows = {"chunk_counts": [chunk_count("kb-1", at(0), 100), chunk_count("kb-2", at(0), 7)]}
    first = warehouse.load_page(page("vikingdb.collections", "", fetched_at=at(0)), rows)
    again = warehouse.load_page(page("vikingdb.collections", "", fetched_at=at(0)), rows)
    later = warehouse.load_page(
        page("vikingdb.collections", "", fetched_at=at(5)),
        {"chunk_counts": [chunk_count("kb-1", at(5), 140)]},
    )
    assert first.tables["chunk_counts"] == TableStats(received=2, inserted=2)
    assert again.tables["chunk_counts"] == TableStats(received=2, unchanged=2)
    assert later.tables["chunk_counts"].inserted == 1
    assert [row["chunk_count"] for row in rows_of(warehouse, "chunk_counts", "kb_id, observed_at")] == [
        100,
        140,
        7,
    ]


def test_job_status_history_is_derived_only_when_the_status_changes(warehouse: Warehouse) -> None:
    def load(minute: float, *jobs: dict) -> TableStats:
        stats = warehouse.load_page(
            page("pai.jobs", "d-ksicx823d", fetched_at=at(minute)), {"jobs": list(jobs)}
        )
        return stats.tables.get("job_status_history", TableStats())

    assert load(0, job("j1", "running", 10.0), job("j2", "running", 0.0)).inserted == 2
    assert load(1, job("j1", "running", 10.0), job("j2", "running", 0.0)).inserted == 0
    assert load(2, job("j1", "running", 55.0), job("j2", "running", 0.0, error_message="slow")).inserted == 1
    assert load(3, job("j1", "succeeded", 100.0)).inserted == 1
    assert load(4, job("j1", "succeeded", 100.0, modified_at=at(4))).inserted == 0

    history = [
        (row["job_id"], row["observed_at"], row["status"], row["progress_pct"])
        for row in rows_of(warehouse, "job_status_history", "job_id, observed_at")
    ]
    assert history == [
        ("j1", at(0), "running", 10.0),
        ("j1", at(2), "running", 55.0),
        ("j1", at(3), "succeeded", 100.0),
        ("j2", at(0), "running", 0.0),
    ]


def test_reloading_a_page_changes_no_table(warehouse: Warehouse) -> None:
    rows = {
        "jobs": [job("j1")],
        "job_files": [job_file("j1", "f1")],
        "chunk_counts": [chunk_count("kb-1", at(0), 3)],
    }
    warehouse.load_page(page("pai.jobs", "d-ksicx823d", fetched_at=at(0)), rows)
    before = {
        name: rows_of(warehouse, name) for name in ("jobs", "job_files", "job_status_history", "chunk_counts")
    }
    stats = warehouse.load_page(page("pai.jobs", "d-ksicx823d", fetched_at=at(0)), rows)
    after = {name: rows_of(warehouse, name) for name in before}
    assert after == before
    assert stats.tables["jobs"] == TableStats(received=1, unchanged=1)


def test_every_key_is_stored_once_however_often_and_in_which_loads_it_comes(warehouse: Warehouse) -> None:
    # no PRIMARY KEY enforces this: the merge's joins must
    documents = [page(fetched_at=at(n)) for n in range(3)]
    tagged = {
        "knowledge_bases": [knowledge_base("kb-1")],
        "documents": [document("a"), document("b")],
        "document_tags": [tag("a", "k", "v"), tag("b", "k", "v")],
    }
    jobs = {
        "jobs": [job("j1"), job("j2", status="succeeded", progress=100.0)],
        "job_files": [job_file("j1", "f1")],
        "chunk_counts": [chunk_count("kb-1", at(0), 3)],
    }
    jobs_page = page("pai.jobs", "d-ksicx823d", fetched_at=at(0))
    for _ in range(2):
        warehouse.load_pages([(p, tagged) for p in documents] + [(jobs_page, jobs), (jobs_page, jobs)])
        warehouse.load_page(documents[0], tagged)

    for name, table in TABLES.items():
        key = ", ".join(table.key)
        counts = warehouse.query(
            f"SELECT count(*) AS n, count(DISTINCT ({key})) AS keys FROM {name}"
        ).to_pylist()
        assert counts[0]["n"] == counts[0]["keys"] > 0, name
