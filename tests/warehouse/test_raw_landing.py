"""Every page lands raw as Parquet, reads back as the same Page, and rebuilds the same tables."""

from __future__ import annotations

from datetime import timedelta, timezone

import pyarrow.parquet as pq

from kb_pipeline.pages import Page, ScanEnd, TableRows
from kb_pipeline.warehouse import Warehouse, iter_raw_pages
from tests.warehouse.builders import at, chunk_count, document, job, job_file, page, rows_of, tag

SIGNED = (
    "https://knowledgebase-video-boe.tos-cn-beijing.volces.com/USER_VIDEO_TEST/a.zip?X-Tos-Algorithm=TOS4-HMAC-SHA256"
    "&X-Tos-Credential=AKLTM2Y5%2F20251215%2Fcn-beijing%2Ftos%2Frequest&X-Tos-Date=20251215T083624Z"
    "&X-Tos-Expires=900&X-Tos-SignedHeaders=host&X-Tos-Signature=9c6627ebab6138399a437c80e6b4bfc6"
)


def history_of_pages() -> list[tuple[Page, TableRows]]:
    """Pages of several streams: inserts, changes, children, job status changes and a full scan."""
    beijing = timezone(timedelta(hours=8))
    jobs_page = page("pai.jobs", "d-ksicx823d", fetched_at=at(1), records=[{"KnowledgeBaseJobId": "j1"}])
    return [
        (
            page(fetched_at=at(0), cursor={"marker": "b"}, records=[{"id": "a"}, {"id": "b"}]),
            {"documents": [document("a"), document("b")], "document_tags": [tag("a", "k", "v1")]},
        ),
        (jobs_page, {"jobs": [job("j1", "running", 5.0)], "job_files": [job_file("j1", "f1")]}),
        (
            page("vikingdb.collections", "", fetched_at=at(2), records=[{"collection_name": "c"}]),
            {"chunk_counts": [chunk_count("c", at(2), 10)]},
        ),
        (
            page(fetched_at=at(3).astimezone(beijing), cursor={"marker": "c"}, records=[{"id": "c"}]),
            {
                "documents": [document("c"), document("bad", status="?")],
                "document_tags": [tag("c", "k", "v")],
            },
        ),
        (
            page("pai.jobs", "d-ksicx823d", fetched_at=at(4), records=[{"KnowledgeBaseJobId": "j1"}]),
            {"jobs": [job("j1", "succeeded", 100.0)], "job_files": []},
        ),
        (
            page(
                fetched_at=at(6),
                records=[{"id": "a"}],
                scan_end=ScanEnd("documents", at(5), "kb_id", "kb-1"),
                cursor=None,
            ),
            {"documents": [document("a", status="failed")], "document_tags": []},
        ),
        (
            page(fetched_at=at(7), records=[], scan_end=ScanEnd("documents", at(5), "kb_id", "kb-1")),
            {},
        ),
    ]


def normalized(pages: list[tuple[Page, TableRows]]) -> dict[tuple, TableRows]:
    """Stands in for the vendor normalizers: the rows that go with each landed page."""
    return {(p.stream, p.fetched_at, len(p.records)): rows for p, rows in pages}


def all_tables(warehouse: Warehouse) -> dict[str, list[dict]]:
    names = [*warehouse.table_counts(), "_kb.stream_state"]
    return {
        name: [
            {k: v for k, v in row.items() if k not in ("updated_at", "quarantined_at", "page_seq")}
            for row in rows_of(warehouse, name)
        ]
        for name in names
    }


def test_landed_pages_read_back_identical_and_in_fetch_order(warehouse: Warehouse) -> None:
    pages = history_of_pages()
    for p, rows in pages:
        warehouse.load_page(p, rows)
    assert list(warehouse.iter_raw_pages()) == [p for p, _ in pages]
    assert list(iter_raw_pages(warehouse.raw_dir)) == [p for p, _ in pages]


def test_same_fetch_time_keeps_load_order_and_odd_partitions_stay_inside_raw(tmp_path) -> None:
    odd = [
        page(partition=name, fetched_at=at(0), records=[{"n": i}])
        for i, name in enumerate(["..", "a/b", "", "é x"])
    ]
    with Warehouse(tmp_path) as warehouse:
        for p in odd:
            warehouse.load_page(p, {})
        assert list(warehouse.iter_raw_pages()) == odd
        files = list(warehouse.raw_dir.rglob("*.parquet"))
        assert len(files) == 4
        assert all(
            warehouse.raw_dir in f.parents and f.parent.parent.parent == warehouse.raw_dir for f in files
        )
    with Warehouse(tmp_path) as reopened:
        reopened.load_page(odd[0], {})
        assert list(reopened.iter_raw_pages()) == [*odd, odd[0]]


def test_raw_files_hold_one_row_per_record_with_fetch_metadata_and_no_credentials(
    warehouse: Warehouse,
) -> None:
    landed = page(
        "vikingdb.tasks",
        "",
        fetched_at=at(0),
        run_id="run-7",
        cursor={"task_ids": ["t1"]},
        records=[{"data": {"status": "success", "attachment_link": SIGNED}}, {"data": {"status": "running"}}],
    )
    stats = warehouse.load_page(landed, {})
    table = pq.read_table(stats.raw_path)
    assert table.num_rows == 2
    first = table.to_pylist()[0]
    assert (first["run_id"], first["stream"], first["source"], first["partition"]) == (
        "run-7",
        "vikingdb.tasks",
        "vikingdb",
        "",
    )
    assert (
        first["fetched_at"] == at(0)
        and first["cursor"] == '{"task_ids":["t1"]}'
        and first["seq"] == stats.seq
    )
    assert stats.raw_path.name.startswith("20260105T080000000000Z-run-7-")
    text = stats.raw_path.read_bytes()
    assert b"X-Tos-Signature" not in text and b"AKLTM2Y5" not in text
    (record,) = [r for r in next(warehouse.iter_raw_pages()).records if "attachment_link" in r["data"]]
    assert record["data"]["attachment_link"].endswith("X-Tos-Expires=900&X-Tos-SignedHeaders=host")
    assert not [p for p in warehouse.raw_dir.rglob("*") if p.name.startswith(".")]


def test_rebuild_from_raw_gives_the_same_tables_in_a_fresh_warehouse(tmp_path) -> None:
    pages = history_of_pages()
    with Warehouse(tmp_path / "original") as original:
        for p, rows in pages:
            original.load_page(p, rows)
        expected = all_tables(original)
    rows_for = normalized(pages)
    replay = [
        (p, rows_for[(p.stream, p.fetched_at, len(p.records))])
        for p in iter_raw_pages(tmp_path / "original" / "raw")
    ]
    with Warehouse(tmp_path / "rebuilt") as rebuilt:
        totals = rebuilt.rebuild(replay, land_raw=True)
        assert totals.pages == len(pages) and totals.quarantined == 1
        assert all_tables(rebuilt) == expected
        assert list(rebuilt.iter_raw_pages()) == [p for p, _ in pages]


def test_rebuild_in_place_resets_then_reloads(tmp_path) -> None:
    pages = history_of_pages()
    rows_for = normalized(pages)
    with Warehouse(tmp_path) as warehouse:
        for p, rows in pages:
            warehouse.load_page(p, rows)
        expected = all_tables(warehouse)
        warehouse.load_page(page(fetched_at=at(9)), {"documents": [document("stray")]})
        (tmp_path / "raw" / "qianfan.documents" / "kb-1").joinpath(
            sorted(p.name for p in (tmp_path / "raw" / "qianfan.documents" / "kb-1").iterdir())[-1]
        ).unlink()
        raw_files = sorted(warehouse.raw_dir.rglob("*.parquet"))
        warehouse.rebuild(
            (p, rows_for[(p.stream, p.fetched_at, len(p.records))]) for p in warehouse.iter_raw_pages()
        )
        assert all_tables(warehouse) == expected
        assert sorted(warehouse.raw_dir.rglob("*.parquet")) == raw_files
