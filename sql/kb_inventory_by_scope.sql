-- Question: How many knowledge bases, documents, bytes and chunks does each workspace, organization or project hold?
-- Grain: one row per source and scope (scope_type, scope_id) with at least one live knowledge base.
-- Method: sums of kb_inventory; a NULL figure of one knowledge base is left out of its scope's sum.
CREATE OR REPLACE VIEW kb_inventory_by_scope AS
SELECT
    source,
    scope_type,
    scope_id,
    count(*) AS knowledge_bases,
    CAST(sum(documents) AS BIGINT) AS documents,
    CAST(sum(bytes) AS BIGINT) AS bytes,
    CAST(sum(chunks) AS BIGINT) AS chunks,
    max(last_activity_at) AS last_activity_at
FROM kb_inventory
GROUP BY source, scope_type, scope_id;
