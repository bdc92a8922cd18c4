"""A page commits with its cursor in one transaction: all of it, or (after any failure) none of it."""

from __future__ import annotations

import pytest

from kb_pipeline.pages import ScanEnd
from kb_pipeline.warehouse import Warehouse, state
from tests.warehouse.builders import at, document, page, rows_of, tag

STREAM, KB = "qianfan.documents", "kb-1"


def snapshot(warehouse: Warehouse) -> dict:
    return {
        name: rows_of(warehouse, name)
        for name in ("documents", "document_tags", "_kb.stream_state", "_kb.quarantine", "_kb.pages")
    }


def test_the_cursor_is_saved_with_the_page(warehouse: Warehouse) -> None:
    stats = warehouse.load_page(page(cursor={"marker": "doc-100"}), {"documents": [document("a")]})
    assert stats.cursor_saved
    assert warehouse.get_cursors(STREAM).get(KB) == {"marker": "doc-100"}
    assert warehouse.get_cursors(STREAM).get("kb-2") is None


def test_a_page_without_cursor_leaves_the_saved_one(warehouse: Warehouse) -> None:
    warehouse.load_page(page(cursor={"marker": "m1"}), {})
    stats = warehouse.load_page(page(fetched_at=at(1)), {"documents": [document("a")]})
    assert not stats.cursor_saved
    assert warehouse.get_cursors(STREAM).get(KB) == {"marker": "m1"}


def test_a_failure_mid_transaction_leaves_tables_cursor_and_raw_as_before(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse.load_page(
        page(fetched_at=at(0), cursor={"marker": "m1"}),
        {"documents": [document("a"), document("b")], "document_tags": [tag("a", "k", "v")]},
    )
    before = snapshot(warehouse)
    raw_before = sorted(warehouse.raw_dir.rglob("*"))

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(state, "log_pages", fail)  # the last step, after every merge and the cursor
    with pytest.raises(RuntimeError, match="disk full"):
        warehouse.load_page(
            page(
                fetched_at=at(5), cursor={"marker": "m2"}, scan_end=ScanEnd("documents", at(4), "kb_id", KB)
            ),
            {
                "documents": [document("a", status="failed"), document("c"), document("bad", status="x")],
                "document_tags": [tag("c", "k", "v")],
            },
        )

    assert snapshot(warehouse) == before
    assert warehouse.get_cursors(STREAM).get(KB) == {"marker": "m1"}
    assert sorted(warehouse.raw_dir.rglob("*")) == raw_before
    monkeypatch.undo()
    warehouse.load_page(page(fetched_at=at(6), cursor={"marker": "m2"}), {"documents": [document("c")]})
    assert warehouse.get_cursors(STREAM).get(KB) == {"marker": "m2"}


def test_run_log(warehouse: Warehouse) -> None:
    warehouse.start_run("r1")
    (running,) = rows_of(warehouse, "_kb.runs")
    assert running["status"] == "running" and running["finished_at"] is None
    warehouse.finish_run("r1", "succeeded", {"pages": 3})
    (done,) = rows_of(warehouse, "_kb.runs")
    assert done["status"] == "succeeded" and done["finished_at"] >= done["started_at"]
    assert done["summary"] == '{"pages":3}'
    with pytest.raises(KeyError, match="never started"):
        warehouse.finish_run("r2", "failed")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fetched_at": at(0).replace(tzinfo=None)}, "timezone-aware"),
        ({"source": "baidu"}, "unknown source"),
        ({"scan_end": ScanEnd("document_tags", at(0))}, "not a current-state table"),
        ({"scan_end": ScanEnd("documents", at(0), "folder", "x")}, "needs a column"),
    ],
)
def test_malformed_pages_are_refused_before_anything_is_written(
    warehouse: Warehouse, change: dict, message: str
) -> None:
    arguments = {"fetched_at": at(0)} | change
    with pytest.raises(ValueError, match=message):
        warehouse.load_page(page(**arguments), {"documents": [document("a")]})
    with pytest.raises(ValueError, match="unknown tables"):
        warehouse.load_page(page(), {"docs": [document("a")]})
    assert rows_of(warehouse, "documents") == []
    assert not warehouse.raw_dir.exists()
