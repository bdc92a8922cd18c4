"""Parquet feeds are complete, atomic and typed; read-only access answers ad-hoc SQL."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kb_pipeline.warehouse import Warehouse, WarehouseNotFoundError, read_only_query, table_counts
from kb_pipeline.warehouse.feeds import FINGERPRINT_KEY, export
from kb_pipeline.warehouse.tables import TABLES
from tests.warehouse.builders import at, document, job, page


def load_some(warehouse: Warehouse) -> None:
    warehouse.load_page(page(fetched_at=at(0)), {"documents": [document("a"), document("b", status="x")]})
    warehouse.load_page(page("pai.jobs", "d-ksicx823d", fetched_at=at(1)), {"jobs": [job("j1")]})


def test_every_table_and_view_becomes_a_readable_feed(warehouse: Warehouse) -> None:
    load_some(warehouse)
    warehouse.connection.execute(
        "CREATE VIEW live_documents AS SELECT * FROM documents WHERE deleted_at IS NULL"
    )
    paths = [feed.path for feed in warehouse.export_feeds()]
    assert sorted(path.stem for path in paths) == sorted([*TABLES, "live_documents"])
    assert sorted(warehouse.feeds_dir.iterdir()) == sorted(paths)  # no temporary files left behind
    documents = pq.read_table(warehouse.feeds_dir / "documents.parquet")
    assert documents.num_rows == 1
    assert documents.schema.field("last_seen_at").type == pa.timestamp("us", tz="UTC")
    assert documents.column("last_seen_at").to_pylist() == [at(0)]
    assert documents.schema.field("word_count").type == pa.int64()
    assert pq.read_table(warehouse.feeds_dir / "live_documents.parquet").num_rows == 1
    assert pq.read_table(warehouse.feeds_dir / "job_status_history.parquet").num_rows == 1


def test_a_feed_is_replaced_whole(warehouse: Warehouse) -> None:
    load_some(warehouse)
    (feed,) = warehouse.export_feeds(["documents"])
    before = feed.path.stat().st_ino
    warehouse.load_page(page(fetched_at=at(2)), {"documents": [document("c")]})
    (again,) = warehouse.export_feeds(["documents"])
    assert again.rewritten
    assert feed.path.stat().st_ino != before  # a new file renamed over the old, never rewritten in place
    assert pq.read_table(feed.path).num_rows == 2


def test_only_the_feeds_whose_rows_changed_are_rewritten(warehouse: Warehouse) -> None:
    load_some(warehouse)
    first = {feed.path.stem: feed for feed in warehouse.export_feeds(["documents", "jobs"])}
    assert all(feed.rewritten for feed in first.values())
    inodes = {name: feed.path.stat().st_ino for name, feed in first.items()}

    unchanged = {feed.path.stem: feed.rewritten for feed in warehouse.export_feeds(["documents", "jobs"])}
    assert unchanged == {"documents": False, "jobs": False}
    assert {name: first[name].path.stat().st_ino for name in first} == inodes

    # one value of one row changes, the row count does not
    warehouse.load_page(page(fetched_at=at(2)), {"documents": [document("a", word_count=7)]})
    changed = {feed.path.stem: feed.rewritten for feed in warehouse.export_feeds(["documents", "jobs"])}
    assert changed == {"documents": True, "jobs": False}
    assert pq.read_table(first["documents"].path).column("word_count").to_pylist() == [7]


def test_a_table_without_seen_times_is_compared_value_by_value(warehouse: Warehouse) -> None:
    load_some(warehouse)
    (first,) = warehouse.export_feeds(["job_status_history"])
    warehouse.connection.execute("UPDATE job_status_history SET status_raw = status_raw || '!'")
    (again,) = warehouse.export_feeds(["job_status_history"])
    assert first.rewritten and again.rewritten
    assert pq.read_table(again.path).column("status_raw").to_pylist()[0].endswith("!")


def test_a_rebuild_rewrites_the_feeds_of_the_tables_it_reloaded(warehouse: Warehouse) -> None:
    """Rows come back with the seen times they had; a changed normalizer may still have changed them."""
    load_some(warehouse)
    warehouse.export_feeds(["documents", "job_status_history"])
    renamed = [
        (
            stored,
            {"documents": [{**document("a"), "name": "renamed.pdf"}]}
            if stored.stream == "qianfan.documents"
            else {"jobs": [job("j1")]},
        )
        for stored in warehouse.iter_raw_pages()
    ]
    warehouse.rebuild(renamed)
    feeds = {feed.path.stem: feed for feed in warehouse.export_feeds(["documents", "job_status_history"])}
    assert feeds["documents"].rewritten and not feeds["job_status_history"].rewritten
    assert pq.read_table(feeds["documents"].path).column("name").to_pylist() == ["renamed.pdf"]


def test_a_feed_without_a_fingerprint_or_with_other_columns_is_rewritten(warehouse: Warehouse) -> None:
    load_some(warehouse)
    warehouse.connection.execute("CREATE VIEW document_names AS SELECT doc_id FROM documents")
    (feed,) = warehouse.export_feeds(["document_names"])
    rows = pq.read_table(feed.path).replace_schema_metadata(None)
    pq.write_table(rows, feed.path)  # same rows, written by another tool
    assert [f.rewritten for f in warehouse.export_feeds(["document_names"])] == [True]

    # same rows and values under another column name
    warehouse.connection.execute(
        "CREATE OR REPLACE VIEW document_names AS SELECT doc_id AS id FROM documents"
    )
    assert [f.rewritten for f in warehouse.export_feeds(["document_names"])] == [True]
    assert pq.read_table(feed.path).column_names == ["id"]


def test_a_feed_far_wider_than_duckdbs_memory_is_written(tmp_path: Path) -> None:
    """100 MB of rows through a 16 MB limit: kept in order, the copy would run out of memory."""
    with duckdb.connect(str(tmp_path / "wide.duckdb"), config={"memory_limit": "16MB"}) as con:
        con.execute(
            "CREATE TABLE documents AS SELECT i AS id, repeat(md5(i::VARCHAR), 30) AS raw FROM range(100000) r(i)"
        )
        con.execute("CHECKPOINT")  # the rows on disk, not pinned in memory by the insert
        (feed,) = export(con, tmp_path / "feeds")
        assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchone() == (True,)
    written = pq.ParquetFile(feed.path)
    assert written.metadata.num_rows == 100_000
    assert FINGERPRINT_KEY.encode() in written.metadata.metadata
    assert written.metadata.row_group(0).total_byte_size <= 8 * 2**20


def test_unknown_feed_names_are_refused(warehouse: Warehouse) -> None:
    with pytest.raises(ValueError, match="no table or view named nope"):
        warehouse.export_feeds(["documents", "nope"])


def test_readers_query_count_and_export_but_cannot_load(tmp_path) -> None:
    with Warehouse(tmp_path) as writer:
        load_some(writer)
    assert table_counts(tmp_path)["documents"] == 1
    assert table_counts(tmp_path)["_kb.quarantine"] == 1
    result = read_only_query(tmp_path, "SELECT doc_id, status FROM documents")
    assert result.to_pylist() == [{"doc_id": "a", "status": "available"}]
    with Warehouse.reader(tmp_path) as reader, Warehouse.reader(tmp_path) as second_reader:
        assert reader.query("SELECT count(*) AS n FROM jobs").to_pylist() == [{"n": 1}]
        assert second_reader.get_cursors("pai.jobs").get("d-ksicx823d") is None
        assert [feed.path.stem for feed in reader.export_feeds(["jobs"])] == ["jobs"]
        with pytest.raises(PermissionError, match="read-only"):
            reader.load_page(page(), {})
        with pytest.raises(Exception, match="read-only"):
            reader.query("DELETE FROM documents")


def test_reading_a_missing_warehouse_says_so(tmp_path) -> None:
    with pytest.raises(WarehouseNotFoundError, match="no warehouse at"):
        read_only_query(tmp_path / "nothing", "SELECT 1")
