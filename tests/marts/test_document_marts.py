"""Protects the document marts (status funnel, stuck documents, parse failures by mime type) against
figures recomputed here in plain Python from the rows inserted, deleted rows and deleted knowledge
bases included in the data and left out of the answers.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from kb_pipeline.warehouse.tables import DOCUMENT_STATUSES

NOW = datetime.now(UTC)
LIVE_KBS = [("qianfan", "kb-a"), ("qianfan", "kb-b"), ("vikingdb", "coll-1")]
DELETED_KB = ("qianfan", "kb-gone")
MIME_TYPES = ["application/pdf", "text/plain", "text/markdown", None]


def random_documents(seed: int = 7, count: int = 240) -> list[dict]:
    """Documents spread over live and deleted knowledge bases; created on the half hour so that none
    sits within minutes of the 24-hour stuck threshold."""
    rng = random.Random(seed)
    documents = []
    for n in range(count):
        source, kb_id = rng.choice([*LIVE_KBS, DELETED_KB])
        documents.append(
            {
                "source": source,
                "kb_id": kb_id,
                "doc_id": f"doc-{n}",
                "name": f"file-{n}",
                "status": rng.choice(DOCUMENT_STATUSES),
                "status_raw": "raw",
                "mime_type": rng.choice(MIME_TYPES),
                "file_size_bytes": rng.randrange(1, 10_000),
                "created_at": NOW - timedelta(hours=rng.randrange(0, 72) + 0.5),
                "last_seen_at": NOW,
                "deleted_at": NOW if rng.random() < 0.15 else None,
            }
        )
    return documents


def knowledge_bases() -> list[dict]:
    rows = [{"source": s, "kb_id": k, "name": f"name of {k}", "last_seen_at": NOW} for s, k in LIVE_KBS]
    source, kb_id = DELETED_KB
    return [*rows, {"source": source, "kb_id": kb_id, "name": "gone", "deleted_at": NOW}]


def live(documents: list[dict]) -> list[dict]:
    return [d for d in documents if d["deleted_at"] is None and (d["source"], d["kb_id"]) != DELETED_KB]


@pytest.fixture
def documents(insert) -> list[dict]:
    never_failing = {
        "source": "qianfan",
        "kb_id": "kb-a",
        "doc_id": "png",
        "status": "available",
        "mime_type": "image/png",
        "created_at": NOW,
        "deleted_at": None,
    }
    rows = [*random_documents(), never_failing]
    insert("knowledge_bases", knowledge_bases())
    insert("documents", rows)
    return rows


def test_funnel_counts_live_documents_per_status(documents, query) -> None:
    expected: dict[tuple[str, str], Counter] = {}
    for d in live(documents):
        expected.setdefault((d["source"], d["kb_id"]), Counter())[d["status"]] += 1

    funnel = {(row["source"], row["kb_id"]): row for row in query("document_status_funnel")}

    assert funnel.keys() == expected.keys()
    assert DELETED_KB not in funnel
    for key, counts in expected.items():
        row = funnel[key]
        assert {status: row[status] for status in DOCUMENT_STATUSES} == {
            s: counts[s] for s in DOCUMENT_STATUSES
        }
        assert row["total"] == sum(counts.values())
        assert row["kb_name"] == f"name of {key[1]}"


def test_parse_failures_per_mime_type_with_their_share(documents, query) -> None:
    totals: Counter = Counter()
    failed: Counter = Counter()
    for d in live(documents):
        key = (d["source"], d["mime_type"] or "unknown")
        totals[key] += 1
        failed[key] += d["status"] == "failed"

    rows = {(row["source"], row["mime_type"]): row for row in query("parse_failures_by_mime_type")}

    assert rows.keys() == {key for key in totals if failed[key]}
    assert ("qianfan", "image/png") not in rows
    for key, row in rows.items():
        assert (row["failed_documents"], row["documents"]) == (failed[key], totals[key])
        assert row["failed_share"] == pytest.approx(failed[key] / totals[key])


def test_stuck_documents_are_the_live_queued_or_processing_ones_older_than_a_day(documents, query) -> None:
    checked_at = datetime.now(UTC)
    expected = {
        d["doc_id"]: (checked_at - d["created_at"]).total_seconds() / 3600
        for d in live(documents)
        if d["status"] in ("queued", "processing") and checked_at - d["created_at"] > timedelta(hours=24)
    }

    stuck = {row["doc_id"]: row for row in query("documents_stuck")}

    assert stuck.keys() == expected.keys()
    assert expected  # the random data holds some
    for doc_id, age_hours in expected.items():
        assert stuck[doc_id]["age_hours"] == pytest.approx(age_hours, abs=0.05)
        assert stuck[doc_id]["age"] == pytest.approx(timedelta(hours=age_hours), abs=timedelta(minutes=3))


def test_stuck_threshold_edges(insert, query) -> None:
    def document(doc_id: str, status: str, age: timedelta, **extra) -> dict:
        return {
            "source": "qianfan",
            "kb_id": "kb-a",
            "doc_id": doc_id,
            "status": status,
            "created_at": NOW - age,
        } | extra

    day = timedelta(hours=24)
    minutes = timedelta(minutes=5)
    insert("knowledge_bases", knowledge_bases())
    insert(
        "documents",
        [
            document("queued-just-over", "queued", day + minutes),
            document("processing-just-over", "processing", day + minutes),
            document("queued-just-under", "queued", day - minutes),
            document("processing-just-under", "processing", day - minutes),
            document("available-old", "available", 3 * day),
            document("failed-old", "failed", 3 * day),
            document("queued-old-deleted", "queued", 3 * day, deleted_at=NOW),
            document("queued-old-no-created-at", "queued", day, created_at=None),
            {**document("queued-old-in-deleted-kb", "queued", 3 * day), "kb_id": DELETED_KB[1]},
        ],
    )

    assert {row["doc_id"] for row in query("documents_stuck")} == {"queued-just-over", "processing-just-over"}
