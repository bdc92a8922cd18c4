-- Question: How many indexing jobs ran each day, how many succeeded, and how long did they take?
-- Grain: one row per source and UTC day of created_at with at least one live job.
-- Method: success_rate = succeeded / (succeeded + failed), NULL while none has finished;
--   p50/p95_duration_s are continuous quantiles of duration_s over the day's finished (succeeded or
--   failed) jobs. Deleted jobs are left out.
CREATE OR REPLACE VIEW job_health_daily AS
WITH live_jobs AS (
    SELECT *
    FROM jobs
    WHERE deleted_at IS NULL AND created_at IS NOT NULL
),

daily AS (
    SELECT
        source,
        CAST(timezone('UTC', created_at) AS DATE) AS day,
        count(*) AS runs,
        count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
        count(*) FILTER (WHERE status = 'failed') AS failed,
        count(*) FILTER (WHERE status = 'running') AS running,
        quantile_cont(duration_s, 0.5) FILTER (WHERE status IN ('succeeded', 'failed')) AS p50_duration_s,
        quantile_cont(duration_s, 0.95) FILTER (WHERE status IN ('succeeded', 'failed')) AS p95_duration_s
    FROM live_jobs
    GROUP BY source, day
)

SELECT
    source,
    day,
    runs,
    succeeded,
    failed,
    running,
    succeeded / nullif(succeeded + failed, 0) AS success_rate,
    p50_duration_s,
    p95_duration_s
FROM daily;
