"""What the report's tables show, each aggregated by DuckDB in one query.

Every query here returns a handful of rows per source or stream, or at most `limit` rows: the page
costs the same memory for ten knowledge bases as for a million. Times come from the warehouse as
recorded (vendor times for the data, the pipeline's own clock for runs and pages); only ages
("hours since") are measured against the clock at report time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

STALE_AFTER_HOURS = 26
"""A stream not extracted successfully for this long is flagged (the freshness check's window)."""


@dataclass(frozen=True, slots=True)
class Rows:
    """A small query answer: its column names and rows."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Rows:
    cursor = con.execute(sql, params)
    return Rows([d[0] for d in cursor.description], cursor.fetchall())


HEADLINE = """
WITH inventory AS (
    SELECT source, count(*) AS knowledge_bases, sum(documents) AS documents, sum(bytes) AS bytes,
        sum(chunks) AS chunks
    FROM kb_inventory GROUP BY source
),
job_counts AS (
    SELECT source, count(*) AS jobs, count(*) FILTER (WHERE status = 'running') AS running_jobs,
        count(*) FILTER (WHERE status = 'failed') AS failed_jobs
    FROM jobs WHERE deleted_at IS NULL GROUP BY source
),
quarantined AS (SELECT source, count(*) AS quarantined FROM _kb.quarantine GROUP BY source),
extracted AS (SELECT source, max(fetched_at) AS last_extracted_at FROM _kb.pages GROUP BY source),
sources AS (
    SELECT source FROM inventory UNION SELECT source FROM job_counts UNION SELECT source FROM extracted
)
SELECT s.source, coalesce(i.knowledge_bases, 0) AS knowledge_bases, i.documents, i.bytes, i.chunks,
    coalesce(j.jobs, 0) AS jobs, coalesce(j.running_jobs, 0) AS running_jobs,
    coalesce(j.failed_jobs, 0) AS failed_jobs, coalesce(q.quarantined, 0) AS quarantined,
    e.last_extracted_at
FROM sources AS s
LEFT JOIN inventory AS i USING (source)
LEFT JOIN job_counts AS j USING (source)
LEFT JOIN quarantined AS q USING (source)
LEFT JOIN extracted AS e USING (source)
ORDER BY s.source
"""


def headline(con: duckdb.DuckDBPyConnection) -> Rows:
    """Per source: live knowledge bases, documents, bytes, chunks, jobs (running, failed),
    quarantined rows and when its last page was fetched."""
    return _rows(con, HEADLINE)


STREAMS = """
WITH outcomes AS (
    SELECT r.run_id, r.started_at, r.finished_at, u.stream,
        json_array_length(r.summary, '$."' || u.stream || '".errors') AS errors,
        r.summary ->> ('$."' || u.stream || '".errors[0]') AS first_error,
        CAST(r.summary ->> ('$."' || u.stream || '".records') AS BIGINT) AS records
    FROM _kb.runs AS r, unnest(json_keys(r.summary)) AS u(stream)
    WHERE r.finished_at IS NOT NULL AND json_type(r.summary, '$."' || u.stream || '"') = 'OBJECT'
),
last_outcome AS (
    SELECT stream, arg_max(run_id, finished_at) AS run_id, max(finished_at) AS last_run_at,
        arg_max(errors, finished_at) AS errors, arg_max(first_error, finished_at) AS first_error,
        arg_max(records, finished_at) AS records,
        max(finished_at) FILTER (WHERE errors = 0) AS last_success_at
    FROM outcomes GROUP BY stream
),
pages AS (
    SELECT stream, any_value(source) AS source, max(fetched_at) AS last_page_at
    FROM _kb.pages GROUP BY stream
),
quarantined AS (SELECT stream, run_id, count(*) AS rows FROM _kb.quarantine GROUP BY stream, run_id),
streams AS (SELECT stream FROM last_outcome UNION SELECT stream FROM pages)
SELECT s.stream, p.source,
    CASE
        WHEN o.errors > 0 THEN 'failed'
        WHEN o.stream IS NULL THEN 'unknown'
        WHEN epoch(current_timestamp - o.last_success_at) / 3600 > ? THEN 'stale'
        ELSE 'ok'
    END AS status,
    o.last_run_at, o.records, o.last_success_at,
    epoch(current_timestamp - o.last_success_at) / 3600 AS hours_since_success,
    p.last_page_at, coalesce(q.rows, 0) AS quarantined_last_run, o.first_error
FROM streams AS s
LEFT JOIN last_outcome AS o USING (stream)
LEFT JOIN pages AS p USING (stream)
LEFT JOIN quarantined AS q ON q.stream = s.stream AND q.run_id = o.run_id
ORDER BY CASE status WHEN 'failed' THEN 0 WHEN 'ok' THEN 2 ELSE 1 END, s.stream
"""


def streams(con: duckdb.DuckDBPyConnection) -> Rows:
    """Per stream: the outcome of the last run that ran it ('failed', 'stale', 'ok', or 'unknown'
    when no finished run mentions it), its records and first error, the last success and its age
    in hours, the last page fetched and the rows that run quarantined. Failed and stale first."""
    return _rows(con, STREAMS, [STALE_AFTER_HOURS])


RUNS_WITHOUT_OUTCOMES = """
SELECT run_id, started_at, status, summary ->> '$.error' AS error
FROM _kb.runs
WHERE status <> 'succeeded'
    AND (summary IS NULL OR summary ->> '$.error' IS NOT NULL)
    AND started_at > coalesce((SELECT max(started_at) FROM _kb.runs WHERE status = 'succeeded'), '-infinity')
ORDER BY started_at DESC
LIMIT ?
"""


def runs_without_outcomes(con: duckdb.DuckDBPyConnection, limit: int = 5) -> Rows:
    """Runs since the last successful one that recorded no stream outcome: still running or stopped
    before recording their end, or failed before any stream ran (with `error`). The per-stream
    view cannot show these."""
    return _rows(con, RUNS_WITHOUT_OUTCOMES, [limit])


def inventory_top(con: duckdb.DuckDBPyConnection, limit: int) -> tuple[Rows, int]:
    """The `limit` largest live knowledge bases (by documents, then bytes), and how many there are."""
    (total,) = con.execute("SELECT count(*) FROM kb_inventory").fetchone() or (0,)
    top = _rows(
        con,
        """
        SELECT source, concat_ws(' ', scope_type, scope_id) AS scope, kb_name, kb_id,
            documents, documents_basis, bytes, chunks,
            strftime(timezone('UTC', last_activity_at), '%Y-%m-%d %H:%M') AS last_activity
        FROM kb_inventory
        ORDER BY documents DESC NULLS LAST, bytes DESC NULLS LAST, source, kb_id
        LIMIT ?
        """,
        [limit],
    )
    return top, total


def latest_extraction(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the newest page in the warehouse was fetched (None for an empty warehouse)."""
    (at,) = con.execute("SELECT max(fetched_at) FROM _kb.pages").fetchone() or (None,)
    return at
