"""Protects extraction_freshness: the latest observation per source and table, deleted rows included,
joined with the latest `_kb.stream_state` checkpoint of the streams that feed the table (as the
registry of sources declares them: `pai.jobs` feeds jobs, not chunk_counts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

NOW = datetime.now(UTC).replace(microsecond=0)


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


@pytest.fixture
def freshness(insert, query) -> dict[tuple[str, str], dict]:
    insert(
        "knowledge_bases",
        [
            {"source": "pai_langstudio", "kb_id": "k1", "last_seen_at": ago(5)},
            {"source": "pai_langstudio", "kb_id": "k2", "last_seen_at": ago(2), "deleted_at": ago(1)},
            {"source": "qianfan", "kb_id": "q1", "last_seen_at": ago(30)},
        ],
    )
    insert("documents", [{"source": "qianfan", "kb_id": "q1", "doc_id": "d1", "last_seen_at": ago(26)}])
    insert(
        "jobs",
        [
            {"source": "pai_langstudio", "job_id": "j1", "last_seen_at": ago(10)},
            {"source": "pai_langstudio", "job_id": "j2", "last_seen_at": ago(8)},
        ],
    )
    insert(
        "chunk_counts",
        [{"source": "vikingdb", "kb_id": "c1", "pipeline": "p", "observed_at": ago(h)} for h in (3, 50)],
    )
    insert(
        "_kb.stream_state",
        [
            {
                "stream": "pai.jobs",
                "partition": "k1",
                "cursor": '{"high_water_mark": 1}',
                "updated_at": ago(4),
            },
            {"stream": "pai.jobs", "partition": "k2", "cursor": "{}", "updated_at": ago(1)},
            {"stream": "qianfan.documents", "partition": "q1", "cursor": "{}", "updated_at": ago(40)},
            {"stream": "lingma.knowledge_bases", "partition": "org-1", "cursor": "{}", "updated_at": ago(6)},
            {"stream": "vikingdb.collections", "partition": "", "cursor": "{}", "updated_at": ago(2)},
            # a stream no source declares any more (left by an older version) names no table
            {"stream": "lingma.members", "partition": "org-1", "cursor": "{}", "updated_at": ago(7)},
        ],
    )
    return {(row["source"], row["table_name"]): row for row in query("extraction_freshness")}


def test_latest_observation_per_source_and_table(freshness) -> None:
    observed = {key: (row["live_rows"], row["last_seen_at"]) for key, row in freshness.items()}
    assert observed == {
        ("pai_langstudio", "knowledge_bases"): (1, ago(2)),
        ("pai_langstudio", "jobs"): (2, ago(8)),
        ("qianfan", "knowledge_bases"): (1, ago(30)),
        ("qianfan", "documents"): (1, ago(26)),
        ("vikingdb", "chunk_counts"): (2, ago(3)),
        ("vikingdb", "knowledge_bases"): (None, None),
        ("lingma", "knowledge_bases"): (None, None),
    }


def test_stream_checkpoints_per_table_with_the_later_time_winning(freshness) -> None:
    checkpoints = {
        key: (row["streams"], row["cursor_updated_at"], row["last_extracted_at"])
        for key, row in freshness.items()
    }
    assert checkpoints == {
        ("pai_langstudio", "knowledge_bases"): (None, None, ago(2)),
        ("pai_langstudio", "jobs"): ("pai.jobs", ago(1), ago(1)),
        ("qianfan", "knowledge_bases"): (None, None, ago(30)),
        ("qianfan", "documents"): ("qianfan.documents", ago(40), ago(26)),
        ("vikingdb", "chunk_counts"): ("vikingdb.collections", ago(2), ago(2)),
        ("vikingdb", "knowledge_bases"): ("vikingdb.collections", ago(2), ago(2)),
        ("lingma", "knowledge_bases"): ("lingma.knowledge_bases", ago(6), ago(6)),
    }


def test_hours_since_extraction(freshness) -> None:
    checked_at = datetime.now(UTC)
    for row in freshness.values():
        expected = (checked_at - row["last_extracted_at"]).total_seconds() / 3600
        assert row["hours_since_extraction"] == pytest.approx(expected, abs=0.02)
    # NOW is fixed when the module is imported, maybe minutes before this test runs: compare times
    assert freshness[("qianfan", "knowledge_bases")]["last_extracted_at"] == ago(30)
