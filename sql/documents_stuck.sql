-- Question: Which documents have waited too long in queued or processing?
-- Grain: one row per live document whose status is queued or processing and whose created_at is
--   more than params.stuck_after (24 hours) before now.
-- Method: age is measured from created_at to now; documents of deleted knowledge bases are left out.
CREATE OR REPLACE VIEW documents_stuck AS
WITH params AS (
    SELECT
        INTERVAL 24 HOUR AS stuck_after,
        current_timestamp AS as_of
),

live_documents AS (
    SELECT d.*
    FROM documents AS d
    WHERE
        d.deleted_at IS NULL
        AND NOT EXISTS (
            SELECT 1
            FROM knowledge_bases AS k
            WHERE k.source = d.source AND k.kb_id = d.kb_id AND k.deleted_at IS NOT NULL
        )
)

SELECT
    d.source,
    d.kb_id,
    d.doc_id,
    d.name,
    d.status,
    d.status_raw,
    d.created_at,
    d.last_seen_at,
    p.as_of - d.created_at AS age,
    epoch(p.as_of - d.created_at) / 3600.0 AS age_hours
FROM live_documents AS d
CROSS JOIN params AS p
WHERE
    d.status IN ('queued', 'processing')
    AND d.created_at < p.as_of - p.stuck_after;
