-- Question: Where do each knowledge base's documents stand in processing (queued, processing, available, failed, disabled)?
-- Grain: one row per source and knowledge base with at least one live document.
-- Method: counts of live documents (deleted_at NULL, knowledge base not deleted) per normalized
--   status; total counts every live document.
CREATE OR REPLACE VIEW document_status_funnel AS
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
)

SELECT
    d.source,
    d.kb_id,
    any_value(k.name) AS kb_name,
    count(*) FILTER (WHERE d.status = 'queued') AS queued,
    count(*) FILTER (WHERE d.status = 'processing') AS processing,
    count(*) FILTER (WHERE d.status = 'available') AS available,
    count(*) FILTER (WHERE d.status = 'failed') AS failed,
    count(*) FILTER (WHERE d.status = 'disabled') AS disabled,
    count(*) AS total
FROM live_documents AS d
LEFT JOIN knowledge_bases AS k ON d.source = k.source AND d.kb_id = k.kb_id
GROUP BY d.source, d.kb_id;
