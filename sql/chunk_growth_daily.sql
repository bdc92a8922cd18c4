-- Question: How does each knowledge base's chunk count grow, day by day?
-- Grain: one row per source, knowledge base and UTC day on which its chunk count was observed or changed.
-- Method: where a knowledge base has chunk snapshots (chunk_counts rows whose pipeline is not
--   'job_delta': VikingDB point_num per pipeline, PAI TotalCount), method 'snapshot': chunk_count is
--   the day's last snapshot summed over the knowledge base's pipelines and chunk_delta the change
--   since the previous snapshot day (NULL on the first). Otherwise, method 'job_delta': the estimate
--   of chunk_growth_from_jobs (succeeded jobs' added minus deleted chunks per finished_at day, and its
--   running total). Deleted knowledge bases are left out.
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

job_growth AS (
    SELECT j.source, j.kb_id, j.day, 'job_delta' AS method, j.chunk_count, j.chunk_delta
    FROM chunk_growth_from_jobs AS j
    WHERE NOT EXISTS (SELECT 1 FROM snapshots AS s WHERE s.source = j.source AND s.kb_id = j.kb_id)
),

growth AS (
    SELECT * FROM snapshot_growth
    UNION ALL
    SELECT * FROM job_growth
)

SELECT g.source, g.kb_id, g.day, g.method, g.chunk_count, g.chunk_delta
FROM growth AS g
WHERE NOT EXISTS (SELECT 1 FROM deleted_kbs AS d WHERE d.source = g.source AND d.kb_id = g.kb_id);
