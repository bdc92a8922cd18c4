-- Question: How does each knowledge base's chunk count grow, day by day?
-- Grain: one row per source, knowledge base and UTC day on which its chunk count was observed or changed.
-- Method: where a knowledge base has chunk snapshots (chunk_counts rows whose pipeline is not
--   'job_delta', e.g. VikingDB point_num), chunk_count is the day's last snapshot summed over the
--   knowledge base's pipelines and chunk_delta the change since the previous snapshot day (NULL on the
--   first). Otherwise succeeded jobs that report chunk counts (PAI) give chunk_delta =
--   add_chunk_count - delete_chunk_count per finished_at day, and chunk_count is its running total.
--   Deleted jobs and deleted knowledge bases are left out.
CREATE OR REPLACE VIEW chunk_growth_daily AS
WITH deleted_kbs AS (
    SELECT source, kb_id
    FROM knowledge_bases
    WHERE deleted_at IS NOT NULL
),

snapshots AS (
    SELECT
        source,
        kb_id,
        observed_at,
        CAST(timezone('UTC', observed_at) AS DATE) AS day,
        CAST(sum(chunk_count) AS BIGINT) AS chunk_count
    FROM chunk_counts
    WHERE pipeline IS DISTINCT FROM 'job_delta'
    GROUP BY source, kb_id, observed_at
),

snapshot_days AS (
    SELECT source, kb_id, day, arg_max(chunk_count, observed_at) AS chunk_count
    FROM snapshots
    GROUP BY source, kb_id, day
),

snapshot_growth AS (
    SELECT
        source,
        kb_id,
        day,
        'snapshot' AS method,
        chunk_count,
        chunk_count - lag(chunk_count) OVER (PARTITION BY source, kb_id ORDER BY day) AS chunk_delta
    FROM snapshot_days
),

job_days AS (
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
        AND NOT EXISTS (SELECT 1 FROM snapshots AS s WHERE s.source = j.source AND s.kb_id = j.kb_id)
    GROUP BY j.source, j.kb_id, day
),

job_growth AS (
    SELECT
        source,
        kb_id,
        day,
        'job_delta' AS method,
        CAST(sum(chunk_delta) OVER (PARTITION BY source, kb_id ORDER BY day) AS BIGINT) AS chunk_count,
        chunk_delta
    FROM job_days
),

growth AS (
    SELECT * FROM snapshot_growth
    UNION ALL
    SELECT * FROM job_growth
)

SELECT g.source, g.kb_id, g.day, g.method, g.chunk_count, g.chunk_delta
FROM growth AS g
WHERE NOT EXISTS (SELECT 1 FROM deleted_kbs AS d WHERE d.source = g.source AND d.kb_id = g.kb_id);
