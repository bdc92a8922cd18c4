"""The DuckDB file is created and upgraded by versioned migrations, and its tables are the contract."""

from __future__ import annotations

import duckdb
import pytest

from kb_pipeline.warehouse import Warehouse, WarehouseSchemaError
from kb_pipeline.warehouse.migrations import MIGRATIONS, Migration, migrate, schema_version
from kb_pipeline.warehouse.tables import TABLES
from tests.warehouse.builders import page

SPELLED = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}
"""How DuckDB's catalog spells a type of the contract."""


def test_migrated_tables_have_the_contract_columns_and_types_and_non_null_keys(warehouse: Warehouse) -> None:
    con = warehouse.connection
    for table in TABLES.values():
        columns = con.execute(
            "SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
            "WHERE schema_name = 'main' AND table_name = ? ORDER BY column_index",
            [table.name],
        ).fetchall()
        expected = [
            (name, SPELLED.get(sql_type, sql_type), name not in table.key)
            for name, sql_type in table.columns.items()
        ]
        assert columns == expected, table.name


def test_contract_tables_have_no_index_to_hold_in_memory(warehouse: Warehouse) -> None:
    con = warehouse.connection
    names = list(TABLES)
    assert (
        con.execute(
            "SELECT table_name, constraint_type FROM duckdb_constraints() WHERE schema_name = 'main' "
            "AND table_name IN (SELECT unnest(?)) AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')",
            [names],
        ).fetchall()
        == []
    )
    assert con.execute("SELECT index_name FROM duckdb_indexes() WHERE schema_name = 'main'").fetchall() == []


def test_a_first_version_file_loses_its_keys_and_indexes_and_keeps_its_rows(tmp_path) -> None:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    migrate(con, MIGRATIONS[:1])
    con.execute(
        "INSERT INTO documents (source, kb_id, doc_id, name, first_seen_at) "
        "VALUES ('qianfan', 'kb-1', 'b', 'second', '2026-01-02'), ('qianfan', 'kb-1', 'a', 'first', '2026-01-01')"
    )
    con.execute("INSERT INTO document_tags VALUES ('qianfan', 'kb-1', 'a', 'k', 'v')")
    con.execute("CREATE VIEW named AS SELECT doc_id, name FROM documents")
    assert con.execute("SELECT count(*) FROM duckdb_indexes()").fetchall() != [(0,)]

    assert migrate(con) == [version for version in (m.version for m in MIGRATIONS) if version > 1]

    assert con.execute("SELECT doc_id, name FROM named").fetchall() == [("b", "second"), ("a", "first")]
    assert con.execute("FROM document_tags").fetchall() == [("qianfan", "kb-1", "a", "k", "v")]
    assert con.execute("SELECT count(*) FROM duckdb_indexes() WHERE schema_name = 'main'").fetchall() == [
        (0,)
    ]
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO documents (source, kb_id, doc_id) VALUES ('qianfan', NULL, 'c')")
    con.close()


def test_bookkeeping_schema_exists(warehouse: Warehouse) -> None:
    tables = {
        name
        for (name,) in warehouse.connection.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = '_kb'"
        ).fetchall()
    }
    assert {"schema_migrations", "stream_state", "runs", "quarantine", "pages"} <= tables


def test_reopening_applies_nothing_and_keeps_data(tmp_path) -> None:
    with Warehouse(tmp_path) as first:
        first.load_page(page("qianfan.documents", "kb-1", cursor={"marker": "m1"}), {})
        assert first.schema_version() == MIGRATIONS[-1].version
    with Warehouse(tmp_path) as again:
        assert again.query("SELECT count(*) AS n FROM _kb.schema_migrations").to_pylist() == [
            {"n": len(MIGRATIONS)}
        ]
        assert again.get_cursors("qianfan.documents").get("kb-1") == {"marker": "m1"}
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    assert migrate(con) == []
    con.close()


def test_an_older_file_is_upgraded_by_the_migrations_it_lacks(tmp_path) -> None:
    with Warehouse(tmp_path) as warehouse:
        warehouse.load_page(page("vikingdb.tasks", "", cursor={"task_ids": ["t1"]}), {})
    newer = (
        *MIGRATIONS,
        Migration(MIGRATIONS[-1].version + 1, "test column", "ALTER TABLE jobs ADD COLUMN x INT"),
    )
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    assert migrate(con, newer) == [newer[-1].version]
    assert schema_version(con) == newer[-1].version
    assert "x" in [name for (name, *_) in con.execute("DESCRIBE jobs").fetchall()]
    assert con.execute('SELECT "cursor" FROM _kb.stream_state').fetchall() == [('{"task_ids":["t1"]}',)]
    con.close()


def test_a_file_newer_than_the_code_is_refused(tmp_path) -> None:
    with Warehouse(tmp_path):
        pass
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("INSERT INTO _kb.schema_migrations VALUES (999, 'from the future', now())")
    con.close()
    with pytest.raises(WarehouseSchemaError, match="999"):
        Warehouse(tmp_path)


def test_a_failed_migration_leaves_the_file_at_its_previous_version(tmp_path) -> None:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    broken = (*MIGRATIONS, Migration(MIGRATIONS[-1].version + 1, "broken", "CREATE TABLE y (a INT); SELEC 1"))
    with pytest.raises(duckdb.ParserException):
        migrate(con, broken)
    assert schema_version(con) == MIGRATIONS[-1].version
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'y'").fetchall() == [(0,)]
    con.close()
