-- Question: Which indexing jobs ran (or are still running) longer than their max_running_time_s?
-- Grain: one row per live job with a max_running_time_s above 0 whose run time exceeds it.
-- Method: run_time_s is now - created_at for a running job and duration_s for a finished one;
--   overrun_s = run_time_s - max_running_time_s. A limit of 0 or none means unlimited.
CREATE OR REPLACE VIEW jobs_overrunning AS
WITH params AS (
    SELECT current_timestamp AS as_of
),

limited_jobs AS (
    SELECT
        j.source,
        j.job_id,
        j.kb_id,
        j.action,
        j.status,
        j.created_at,
        j.finished_at,
        j.max_running_time_s,
        CASE
            WHEN j.status = 'running' THEN epoch(p.as_of - j.created_at)
            ELSE j.duration_s
        END AS run_time_s
    FROM jobs AS j
    CROSS JOIN params AS p
    WHERE j.deleted_at IS NULL AND j.max_running_time_s > 0
)

SELECT
    source,
    job_id,
    kb_id,
    action,
    status,
    created_at,
    finished_at,
    max_running_time_s,
    run_time_s,
    run_time_s - max_running_time_s AS overrun_s
FROM limited_jobs
WHERE run_time_s > max_running_time_s;
