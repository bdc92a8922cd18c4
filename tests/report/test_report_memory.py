"""Protects the report's memory from the tenant's size: the page is aggregated by DuckDB, so the
Python memory it takes to build it is the same for a hundred documents as for two hundred
thousand (a whole table fetched into Python would add tens of MiB)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import duckdb

from kb_pipeline.report import build_report
from kb_pipeline.warehouse.connection import with_memory_to_grow

TENANT = """
INSERT INTO knowledge_bases (source, kb_id, name, scope_type, scope_id, file_count, size_bytes, created_at)
SELECT CASE WHEN i % 2 = 0 THEN 'qianfan' ELSE 'lingma' END, 'kb-' || i, 'Knowledge base number ' || i,
    'workspace', 'ws-' || (i % 7), i % 500, i * 1000, TIMESTAMPTZ '2025-01-01' + to_minutes(i)
FROM range($kbs) AS t(i);

INSERT INTO documents (source, kb_id, doc_id, name, status, mime_type, file_size_bytes, created_at, raw)
SELECT 'qianfan', 'kb-' || (2 * (i % ($kbs // 2))), 'doc-' || i, 'A document with a long name ' || i,
    ['queued', 'processing', 'available', 'failed', 'disabled'][1 + i % 5], 'application/pdf', 1000 + i,
    TIMESTAMPTZ '2025-01-01' + to_minutes(i), '{"id": "doc-' || i || '", "padding": "' || repeat('x', 200) || '"}'
FROM range($documents) AS t(i);

INSERT INTO jobs (source, job_id, kb_id, status, created_at, finished_at, duration_s, add_chunk_count,
    delete_chunk_count)
SELECT 'pai_langstudio', 'job-' || i, 'pai-' || (i % 300), ['succeeded', 'failed', 'running'][1 + i % 3],
    TIMESTAMPTZ '2025-01-01' + to_minutes(i * 7), TIMESTAMPTZ '2025-01-01' + to_minutes(i * 7 + 5), 300,
    40, 5
FROM range($jobs) AS t(i);

INSERT INTO chunk_counts (source, kb_id, pipeline, observed_at, doc_num, chunk_count)
SELECT 'vikingdb', 'coll-' || (i % 200), 'default', TIMESTAMPTZ '2025-06-01' + to_hours(i), i, i * 10
FROM range($jobs // 10) AS t(i);

INSERT INTO _kb.runs
SELECT 'run-' || i, TIMESTAMPTZ '2025-06-01' + to_hours(i), TIMESTAMPTZ '2025-06-01' + to_hours(i) + to_minutes(5),
    'succeeded', '{"qianfan.documents": {"records": 100, "errors": []}}'
FROM range($jobs // 100) AS t(i);

INSERT INTO _kb.pages (seq, run_id, source, stream, "partition", fetched_at, record_count, loaded_at)
SELECT i, 'run-' || (i % ($jobs // 100)), 'qianfan', 'qianfan.documents', 'kb-' || (i % 50),
    TIMESTAMPTZ '2025-06-01' + to_minutes(i), 100, TIMESTAMPTZ '2025-06-01' + to_minutes(i)
FROM range($documents // 100) AS t(i);
"""


def _peak_building_report(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    tracemalloc.start()
    try:
        with_memory_to_grow(con, lambda: build_report(con, path), "the report")  # as the asset does
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _tenant(
    con: duckdb.DuckDBPyConnection, *, kbs: int, documents: int, jobs: int
) -> duckdb.DuckDBPyConnection:
    sql = TENANT.replace("$kbs", str(kbs)).replace("$documents", str(documents)).replace("$jobs", str(jobs))
    con.execute(sql)
    return con


def test_building_the_report_takes_the_same_memory_for_a_tenant_2000_times_larger(
    warehouse_factory, tmp_path: Path
) -> None:
    small = _tenant(warehouse_factory({}), kbs=20, documents=100, jobs=100)
    large = _tenant(warehouse_factory({}), kbs=20_000, documents=200_000, jobs=20_000)
    build_report(small, tmp_path / "warm-up.html")  # imports and plotly's one-time caches

    small_peak = _peak_building_report(small, tmp_path / "small.html")
    large_peak = _peak_building_report(large, tmp_path / "large.html")

    assert large.execute("SELECT count(*) FROM documents").fetchone() == (200_000,)
    assert large_peak < small_peak * 1.25 + 2**20, (small_peak, large_peak)
