-- Question: How does each knowledge base's chunk count grow by its indexing jobs' own account?
-- Grain: one row per source, knowledge base and UTC day on which a succeeded job that reports
--   chunk counts finished.
-- Method: chunk_delta = add_chunk_count - delete_chunk_count of the day's succeeded jobs (PAI),
--   chunk_count its running total: an estimate, kept beside the snapshots of chunk_growth_daily to
--   compare with them and to cover the days before the first snapshot. Deleted jobs and deleted
--   knowledge bases are left out.
CREATE OR REPLACE VIEW chunk_growth_from_jobs AS
WITH job_days AS (
    SELECT
        j.source,
        j.kb_id,
        CAST(timezone('UTC', j.finished_at) AS DATE) AS day,
        CAST(sum(coalesce(j.add_chunk_count, 0) - coalesce(j.delete_chunk_count, 0)) AS BIGINT) AS chunk_delta
    FROM jobs AS j
    WHERE
        j.status = 'succeeded'
        AND j.deleted_at IS NULL
        AND j.finished_at IS NOT NULL
        AND (j.add_chunk_count IS NOT NULL OR j.delete_chunk_count IS NOT NULL)
        AND NOT EXISTS (
            SELECT 1
            FROM knowledge_bases AS k
            WHERE k.source = j.source AND k.kb_id = j.kb_id AND k.deleted_at IS NOT NULL
        )
    GROUP BY j.source, j.kb_id, day
)

SELECT
    source,
    kb_id,
    day,
    CAST(sum(chunk_delta) OVER (PARTITION BY source, kb_id ORDER BY day) AS BIGINT) AS chunk_count,
    chunk_delta
FROM job_days;
