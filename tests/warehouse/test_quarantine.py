"""A row that fails validation is set aside with its reason and record; the rest of the page loads."""

from __future__ import annotations

import json

from kb_pipeline.warehouse import TableStats, Warehouse
from tests.warehouse.builders import at, document, job, page, rows_of, tag


def quarantined(warehouse: Warehouse) -> list[dict]:
    return [
        row | {"row_key": json.loads(row["row_key"]), "raw": json.loads(row["raw"])}
        for row in rows_of(warehouse, "_kb.quarantine", "table_name, row_key")
    ]


def test_bad_rows_are_quarantined_with_reason_and_record_while_the_rest_load(warehouse: Warehouse) -> None:
    rows = [
        document("ok-1"),
        document("bad-status", status="indexing"),
        document("bad-count", word_count=-5),
        document("bad-type", word_count="80618"),
        document("bad-source", source="baidu"),
        document(None),
        document("ok-2"),
    ]
    stats = warehouse.load_page(page(fetched_at=at(0), run_id="run-q"), {"documents": rows})

    assert stats.tables["documents"] == TableStats(received=7, inserted=2, quarantined=5)
    assert [row["doc_id"] for row in rows_of(warehouse, "documents")] == ["ok-1", "ok-2"]
    entries = {entry["row_key"]["doc_id"]: entry for entry in quarantined(warehouse)}
    assert set(entries) == {"bad-status", "bad-count", "bad-type", "bad-source", None}
    assert "status" in entries["bad-status"]["reason"] and "indexing" in entries["bad-status"]["reason"]
    assert "word_count" in entries["bad-count"]["reason"] and "-5" in entries["bad-count"]["reason"]
    assert "expected an integer" in entries["bad-type"]["reason"]
    assert "source" in entries["bad-source"]["reason"] and "baidu" in entries["bad-source"]["reason"]
    assert "doc_id" in entries[None]["reason"] and "null" in entries[None]["reason"]
    bad_status = entries["bad-status"]
    assert bad_status["raw"]["raw"] == {
        "id": "bad-status",
        "displayStatus": "available",
        "meta": {"fileSize": 760872},
    }
    assert (bad_status["table_name"], bad_status["stream"], bad_status["source"], bad_status["run_id"]) == (
        "documents",
        "qianfan.documents",
        "qianfan",
        "run-q",
    )


def test_one_row_with_several_faults_gets_one_entry_naming_each(warehouse: Warehouse) -> None:
    warehouse.load_page(
        page(), {"documents": [document("d", status="nope", file_size_bytes=-1, enabled="yes")]}
    )
    (entry,) = quarantined(warehouse)
    for column in ("status", "file_size_bytes", "enabled"):
        assert column in entry["reason"]


def test_duplicate_keys_in_a_page_keep_the_last_row(warehouse: Warehouse) -> None:
    stats = warehouse.load_page(
        page(), {"documents": [document("d", name="first"), document("e"), document("d", name="last")]}
    )
    assert stats.tables["documents"] == TableStats(received=3, inserted=2, quarantined=1)
    assert {row["doc_id"]: row["name"] for row in rows_of(warehouse, "documents")} == {
        "d": "last",
        "e": "e.pdf",
    }
    (entry,) = quarantined(warehouse)
    assert "duplicate key" in entry["reason"] and entry["raw"]["name"] == "first"


def test_jobs_rules_progress_and_status(warehouse: Warehouse) -> None:
    stats = warehouse.load_page(
        page("pai.jobs", "d-ksicx823d"),
        {
            "jobs": [
                job("ok"),
                job("over", progress=140.0),
                job("odd", status_raw="Weird") | {"status": "weird"},
            ]
        },
    )
    assert stats.tables["jobs"].quarantined == 2
    assert [row["job_id"] for row in rows_of(warehouse, "jobs")] == ["ok"]
    assert [row["job_id"] for row in rows_of(warehouse, "job_status_history")] == ["ok"]


def test_children_of_a_quarantined_parent_are_quarantined_and_old_children_kept(warehouse: Warehouse) -> None:
    warehouse.load_page(
        page(fetched_at=at(0)), {"documents": [document("d")], "document_tags": [tag("d", "k", "old")]}
    )
    stats = warehouse.load_page(
        page(fetched_at=at(1)),
        {"documents": [document("d", status="bogus")], "document_tags": [tag("d", "k", "new")]},
    )
    assert stats.tables["document_tags"].quarantined == 1
    assert [row["tag_value"] for row in rows_of(warehouse, "document_tags")] == ["old"]
    assert rows_of(warehouse, "documents")[0]["last_seen_at"] == at(0)
    reasons = {entry["table_name"]: entry["reason"] for entry in quarantined(warehouse)}
    assert reasons["document_tags"] == "its documents row was quarantined"


def test_credentials_never_reach_the_quarantine(warehouse: Warehouse) -> None:
    signed = "https://bucket.tos-cn-beijing.volces.com/a.zip?X-Tos-Expires=900&X-Tos-Signature=deadbeef"
    warehouse.load_page(page(), {"documents": [document("d", status="bogus", url=signed)]})
    text = warehouse.query("SELECT raw::VARCHAR AS raw FROM _kb.quarantine").to_pylist()[0]["raw"]
    assert "deadbeef" not in text and "X-Tos-Expires=900" in text
