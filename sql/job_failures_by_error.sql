-- Question: Which errors make indexing jobs fail, how often, and when were they last seen?
-- Grain: one row per source and error_message among live failed jobs.
-- Method: a failed job's time is finished_at, else modified_at, else created_at; an empty or missing
--   error_message counts as '(no error message)'.
CREATE OR REPLACE VIEW job_failures_by_error AS
WITH failed_jobs AS (
    SELECT
        source,
        kb_id,
        coalesce(nullif(trim(error_message), ''), '(no error message)') AS error_message,
        coalesce(finished_at, modified_at, created_at) AS failed_at
    FROM jobs
    WHERE deleted_at IS NULL AND status = 'failed'
)

SELECT
    source,
    error_message,
    count(*) AS failed_jobs,
    count(DISTINCT kb_id) AS knowledge_bases,
    min(failed_at) AS first_seen_at,
    max(failed_at) AS last_seen_at
FROM failed_jobs
GROUP BY source, error_message;
