-- Question: Which file types fail to parse, and how often compared with all documents of that type?
-- Grain: one row per source and mime_type with at least one failed live document.
-- Method: failed_share = failed live documents / all live documents of that source and mime_type;
--   a missing mime_type counts as 'unknown'; documents of deleted knowledge bases are left out.
CREATE OR REPLACE VIEW parse_failures_by_mime_type AS
WITH live_documents AS (
    SELECT d.*
    FROM documents AS d
    WHERE
        d.deleted_at IS NULL
        AND NOT EXISTS (
            SELECT 1
            FROM knowledge_bases AS k
            WHERE k.source = d.source AND k.kb_id = d.kb_id AND k.deleted_at IS NOT NULL
        )
),

by_mime_type AS (
    SELECT
        source,
        coalesce(mime_type, 'unknown') AS mime_type,
        count(*) FILTER (WHERE status = 'failed') AS failed_documents,
        count(*) AS documents
    FROM live_documents
    GROUP BY source, coalesce(mime_type, 'unknown')
)

SELECT
    source,
    mime_type,
    failed_documents,
    documents,
    failed_documents / documents AS failed_share
FROM by_mime_type
WHERE failed_documents > 0;
