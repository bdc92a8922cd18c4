-- Question: When was each source's data last extracted, per table?
-- Grain: one row per source and table (knowledge_bases, documents, jobs, chunk_counts) that holds
--   rows of that source or is fed by one of its streams.
-- Method: last_seen_at is the latest last_seen_at of the table's rows (observed_at for chunk_counts),
--   deleted rows included; live_rows counts rows not deleted (all rows of chunk_counts).
--   cursor_updated_at is the latest _kb.stream_state update of the streams feeding that table, as
--   _kb.streams (written from the registry of sources with the marts) maps each stream to its source
--   and tables; last_extracted_at is the later of the two and hours_since_extraction its age now.
CREATE OR REPLACE VIEW extraction_freshness AS
WITH table_observations AS (
    SELECT
        source,
        'knowledge_bases' AS table_name,
        count(*) FILTER (WHERE deleted_at IS NULL) AS live_rows,
        max(last_seen_at) AS last_seen_at
    FROM knowledge_bases
    GROUP BY source
    UNION ALL
    SELECT
        source,
        'documents' AS table_name,
        count(*) FILTER (WHERE deleted_at IS NULL) AS live_rows,
        max(last_seen_at) AS last_seen_at
    FROM documents
    GROUP BY source
    UNION ALL
    SELECT
        source,
        'jobs' AS table_name,
        count(*) FILTER (WHERE deleted_at IS NULL) AS live_rows,
        max(last_seen_at) AS last_seen_at
    FROM jobs
    GROUP BY source
    UNION ALL
    SELECT
        source,
        'chunk_counts' AS table_name,
        count(*) AS live_rows,
        max(observed_at) AS last_seen_at
    FROM chunk_counts
    GROUP BY source
),

stream_updates AS (
    SELECT
        st.source,
        st.table_name,
        s.stream,
        s.updated_at
    FROM _kb.stream_state AS s
    INNER JOIN _kb.streams AS st ON s.stream = st.stream
    WHERE st.table_name IN ('knowledge_bases', 'documents', 'jobs', 'chunk_counts')
),

stream_freshness AS (
    SELECT
        source,
        table_name,
        string_agg(DISTINCT stream, ', ' ORDER BY stream) AS streams,
        max(updated_at) AS cursor_updated_at
    FROM stream_updates
    GROUP BY source, table_name
),

freshness AS (
    SELECT
        coalesce(o.source, f.source) AS source,
        coalesce(o.table_name, f.table_name) AS table_name,
        o.live_rows,
        o.last_seen_at,
        f.streams,
        f.cursor_updated_at,
        greatest(o.last_seen_at, f.cursor_updated_at) AS last_extracted_at
    FROM table_observations AS o
    FULL OUTER JOIN stream_freshness AS f ON o.source = f.source AND o.table_name = f.table_name
)

SELECT
    source,
    table_name,
    live_rows,
    last_seen_at,
    streams,
    cursor_updated_at,
    last_extracted_at,
    epoch(current_timestamp - last_extracted_at) / 3600.0 AS hours_since_extraction
FROM freshness;
