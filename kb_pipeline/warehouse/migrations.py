"""Versioned schema migrations, applied in order when the warehouse is opened for writing.

Each migration is frozen SQL: once released it never changes, so a file created by any earlier
version upgrades by running the migrations it lacks, each in its own transaction together with
its row in `_kb.schema_migrations`. A change to the table contract (`tables.py`) is a new
migration appended here (for instance ``ALTER TABLE ... ADD COLUMN``); a test checks that the
migrated schema equals the contract.

The contract's tables carry no PRIMARY KEY and no index (migration 2 removes those the first
version created): a DuckDB index is an ART held in memory in proportion to its table, so a run's
memory grew with the tenant. The merge keeps each key unique through joins (`merge`), and the
`<table>_unique_key` checks verify it. The small bookkeeping tables of `_kb` keep their keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from kb_pipeline.warehouse.errors import WarehouseSchemaError


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS _kb;
CREATE TABLE IF NOT EXISTS _kb.schema_migrations (
    version INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
);
"""

INITIAL = """
CREATE TABLE knowledge_bases (
    source VARCHAR NOT NULL,
    kb_id VARCHAR NOT NULL,
    name VARCHAR,
    description VARCHAR,
    scope_type VARCHAR,
    scope_id VARCHAR,
    scene_type VARCHAR,
    state VARCHAR,
    visibility VARCHAR,
    file_count BIGINT,
    size_bytes BIGINT,
    member_count BIGINT,
    creator VARCHAR,
    created_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ,
    last_activity_at TIMESTAMPTZ,
    first_seen_at TIMESTAMPTZ,
    last_seen_at TIMESTAMPTZ,
    deleted_at TIMESTAMPTZ,
    raw JSON,
    PRIMARY KEY (source, kb_id)
);
CREATE INDEX knowledge_bases_lookup ON knowledge_bases (kb_id);

CREATE TABLE documents (
    source VARCHAR NOT NULL,
    kb_id VARCHAR NOT NULL,
    doc_id VARCHAR NOT NULL,
    name VARCHAR,
    status_raw VARCHAR,
    status VARCHAR,
    word_count BIGINT,
    enabled BOOLEAN,
    origin VARCHAR,
    file_id VARCHAR,
    mime_type VARCHAR,
    file_size_bytes BIGINT,
    url VARCHAR,
    created_at TIMESTAMPTZ,
    first_seen_at TIMESTAMPTZ,
    last_seen_at TIMESTAMPTZ,
    deleted_at TIMESTAMPTZ,
    raw JSON,
    PRIMARY KEY (source, kb_id, doc_id)
);
CREATE INDEX documents_lookup ON documents (doc_id);

CREATE TABLE document_tags (
    source VARCHAR NOT NULL,
    kb_id VARCHAR NOT NULL,
    doc_id VARCHAR NOT NULL,
    tag_key VARCHAR NOT NULL,
    tag_value VARCHAR NOT NULL,
    PRIMARY KEY (source, kb_id, doc_id, tag_key, tag_value)
);
CREATE INDEX document_tags_lookup ON document_tags (doc_id);

CREATE TABLE jobs (
    source VARCHAR NOT NULL,
    job_id VARCHAR NOT NULL,
    kb_id VARCHAR,
    action VARCHAR,
    status_raw VARCHAR,
    status VARCHAR,
    progress_pct DOUBLE,
    created_at TIMESTAMPTZ,
    modified_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    duration_s DOUBLE,
    max_running_time_s BIGINT,
    error_message VARCHAR,
    total_file_count BIGINT,
    add_chunk_count BIGINT,
    delete_chunk_count BIGINT,
    attachment_url VARCHAR,
    first_seen_at TIMESTAMPTZ,
    last_seen_at TIMESTAMPTZ,
    deleted_at TIMESTAMPTZ,
    raw JSON,
    PRIMARY KEY (source, job_id)
);
CREATE INDEX jobs_lookup ON jobs (job_id);

CREATE TABLE job_files (
    source VARCHAR NOT NULL,
    job_id VARCHAR NOT NULL,
    file_meta_id VARCHAR NOT NULL,
    file_name VARCHAR,
    file_uri VARCHAR,
    action VARCHAR,
    PRIMARY KEY (source, job_id, file_meta_id)
);
CREATE INDEX job_files_lookup ON job_files (job_id);

CREATE TABLE job_status_history (
    source VARCHAR NOT NULL,
    job_id VARCHAR NOT NULL,
    observed_at TIMESTAMPTZ NOT NULL,
    status_raw VARCHAR,
    status VARCHAR,
    progress_pct DOUBLE,
    PRIMARY KEY (source, job_id, observed_at)
);

CREATE TABLE chunk_counts (
    source VARCHAR NOT NULL,
    kb_id VARCHAR NOT NULL,
    pipeline VARCHAR NOT NULL,
    observed_at TIMESTAMPTZ NOT NULL,
    doc_num BIGINT,
    finish_doc_num BIGINT,
    success_doc_num BIGINT,
    chunk_count BIGINT,
    PRIMARY KEY (source, kb_id, pipeline, observed_at)
);

CREATE TABLE _kb.stream_state (
    stream VARCHAR NOT NULL,
    "partition" VARCHAR NOT NULL,
    "cursor" JSON,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (stream, "partition")
);

CREATE TABLE _kb.runs (
    run_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL,
    summary JSON
);

CREATE TABLE _kb.quarantine (
    source VARCHAR NOT NULL,
    stream VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    row_key JSON,
    reason VARCHAR NOT NULL,
    raw JSON,
    run_id VARCHAR,
    page_seq BIGINT,
    quarantined_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE _kb.pages (
    seq BIGINT PRIMARY KEY,
    run_id VARCHAR,
    source VARCHAR NOT NULL,
    stream VARCHAR NOT NULL,
    "partition" VARCHAR NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL,
    record_count BIGINT NOT NULL,
    raw_path VARCHAR,
    loaded_at TIMESTAMPTZ NOT NULL,
    stats JSON
);
"""

UNKEYED = (
    ("knowledge_bases", ("source", "kb_id"), "knowledge_bases_lookup"),
    ("documents", ("source", "kb_id", "doc_id"), "documents_lookup"),
    ("document_tags", ("source", "kb_id", "doc_id", "tag_key", "tag_value"), "document_tags_lookup"),
    ("jobs", ("source", "job_id"), "jobs_lookup"),
    ("job_files", ("source", "job_id", "file_meta_id"), "job_files_lookup"),
    ("job_status_history", ("source", "job_id", "observed_at"), None),
    ("chunk_counts", ("source", "kb_id", "pipeline", "observed_at"), None),
)
"""The tables version 1 keyed, their key columns (kept NOT NULL) and their lookup index."""


def _unkeyed(table: str, key: tuple[str, ...], index: str | None) -> str:
    """Rebuild `table` with its rows, columns and order, without its PRIMARY KEY and index."""
    copy = f"_{table}_unkeyed"
    not_null = "".join(f'ALTER TABLE {table} ALTER COLUMN "{column}" SET NOT NULL;\n' for column in key)
    dropped = f"DROP INDEX {index};\n" if index else ""
    return (
        f"{dropped}CREATE TABLE {copy} AS SELECT * FROM {table};\n"
        f"DROP TABLE {table};\nALTER TABLE {copy} RENAME TO {table};\n{not_null}"
    )


DOCUMENT_DETAILS = """
ALTER TABLE documents ADD COLUMN chunk_count BIGINT;
ALTER TABLE documents ADD COLUMN path VARCHAR;
ALTER TABLE documents ADD COLUMN updated_at TIMESTAMPTZ;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tables of the contract; stream state, run log, quarantine, page log", INITIAL),
    Migration(
        2,
        "contract tables without PRIMARY KEY or index: the merge keeps keys unique, checks verify it",
        "".join(_unkeyed(*spec) for spec in UNKEYED),
    ),
    Migration(
        3, "documents: chunk_count, path and updated_at (Lingma and VikingDB documents)", DOCUMENT_DETAILS
    ),
)


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest migration applied to this file (0 for a new, empty file)."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = '_kb' AND table_name = 'schema_migrations'"
    ).fetchall()[0][0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM _kb.schema_migrations").fetchall()[0][0]


def migrate(
    con: duckdb.DuckDBPyConnection, migrations: tuple[Migration, ...] = MIGRATIONS, *, label: str = ""
) -> list[int]:
    """Apply the migrations this file lacks, each atomically; returns the versions applied."""
    latest = migrations[-1].version
    current = schema_version(con)
    if current > latest:
        raise WarehouseSchemaError(
            f"warehouse {label} has schema version {current}, newer than this kb-pipeline knows ({latest}); "
            "upgrade kb-pipeline before writing to it"
        )
    applied = []
    for migration in migrations:
        if migration.version <= current:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(BOOTSTRAP)
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO _kb.schema_migrations VALUES (?, ?, ?)",
                [migration.version, migration.name, datetime.now(UTC)],
            )
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        applied.append(migration.version)
    return applied
