"""Parquet feeds are complete, atomic and typed; read-only access answers ad-hoc SQL."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kb_pipeline.warehouse import Warehouse, WarehouseNotFoundError, read_only_query, table_counts
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
    paths = warehouse.export_feeds()
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
    (path,) = warehouse.export_feeds(["documents"])
    before = path.stat().st_ino
    warehouse.load_page(page(fetched_at=at(2)), {"documents": [document("c")]})
    warehouse.export_feeds(["documents"])
    assert path.stat().st_ino != before  # a new file renamed over the old, never rewritten in place
    assert pq.read_table(path).num_rows == 2


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
        assert second_reader.get_cursor("pai.jobs", "d-ksicx823d") is None
        assert len(reader.export_feeds(["jobs"])) == 1
        with pytest.raises(PermissionError, match="read-only"):
            reader.load_page(page(), {})
        with pytest.raises(Exception, match="read-only"):
            reader.query("DELETE FROM documents")


def test_reading_a_missing_warehouse_says_so(tmp_path) -> None:
    with pytest.raises(WarehouseNotFoundError, match="no warehouse at"):
        read_only_query(tmp_path / "nothing", "SELECT 1")
