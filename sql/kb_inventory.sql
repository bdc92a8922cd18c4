-- Question: What does each knowledge base hold (documents, bytes, chunks) and when was it last active?
-- Grain: one row per live knowledge base (source, kb_id), with its scope (scope_type, scope_id).
-- Method: documents counts the live rows of the documents table for a source that lists documents
--   (Qianfan, Lingma, VikingDB); for other sources (PAI) it is the knowledge base's file_count, else
--   the doc_num of its latest chunk snapshot; documents_basis names which one. bytes is size_bytes
--   (Lingma), else the sum of its live documents' file_size_bytes (Qianfan). chunks is the latest
--   chunk_count of chunk_growth_daily (VikingDB and PAI snapshots, else PAI's job-delta estimate),
--   else the sum of its live documents' chunk_count.
--   last_activity_at is the latest of the knowledge base's created/updated/last-activity times, its
--   live documents' created_at and its live jobs' created/modified/finished times.
CREATE OR REPLACE VIEW kb_inventory AS
WITH document_sources AS (
    SELECT DISTINCT source
    FROM documents
),

live_documents AS (
    SELECT
        source,
        kb_id,
        count(*) AS documents,
        CAST(sum(file_size_bytes) AS BIGINT) AS bytes,
        CAST(sum(chunk_count) AS BIGINT) AS chunks,
        max(created_at) AS last_document_at
    FROM documents
    WHERE deleted_at IS NULL
    GROUP BY source, kb_id
),

snapshot_doc_nums AS (
    SELECT source, kb_id, observed_at, max(doc_num) AS doc_num
    FROM chunk_counts
    WHERE pipeline IS DISTINCT FROM 'job_delta'
    GROUP BY source, kb_id, observed_at
),

latest_doc_nums AS (
    SELECT source, kb_id, arg_max(doc_num, observed_at) AS doc_num
    FROM snapshot_doc_nums
    GROUP BY source, kb_id
),

latest_chunks AS (
    SELECT source, kb_id, arg_max(chunk_count, day) AS chunks
    FROM chunk_growth_daily
    GROUP BY source, kb_id
),

job_activity AS (
    SELECT source, kb_id, max(greatest(created_at, modified_at, finished_at)) AS last_job_at
    FROM jobs
    WHERE deleted_at IS NULL
    GROUP BY source, kb_id
),

inventory AS (
    SELECT
        k.source,
        k.scope_type,
        k.scope_id,
        k.kb_id,
        k.name AS kb_name,
        k.state,
        CASE
            WHEN ds.source IS NOT NULL THEN 'documents'
            WHEN k.file_count IS NOT NULL THEN 'file_count'
            WHEN n.doc_num IS NOT NULL THEN 'doc_num'
        END AS documents_basis,
        CASE documents_basis
            WHEN 'documents' THEN coalesce(d.documents, 0)
            WHEN 'file_count' THEN k.file_count
            WHEN 'doc_num' THEN n.doc_num
        END AS documents,
        coalesce(k.size_bytes, d.bytes) AS bytes,
        coalesce(c.chunks, d.chunks) AS chunks,
        k.created_at,
        greatest(k.created_at, k.updated_at, k.last_activity_at, d.last_document_at, j.last_job_at)
            AS last_activity_at
    FROM knowledge_bases AS k
    LEFT JOIN document_sources AS ds ON k.source = ds.source
    LEFT JOIN live_documents AS d ON k.source = d.source AND k.kb_id = d.kb_id
    LEFT JOIN latest_doc_nums AS n ON k.source = n.source AND k.kb_id = n.kb_id
    LEFT JOIN latest_chunks AS c ON k.source = c.source AND k.kb_id = c.kb_id
    LEFT JOIN job_activity AS j ON k.source = j.source AND k.kb_id = j.kb_id
    WHERE k.deleted_at IS NULL
)

SELECT
    source,
    scope_type,
    scope_id,
    kb_id,
    kb_name,
    state,
    documents,
    documents_basis,
    bytes,
    chunks,
    created_at,
    last_activity_at
FROM inventory;
