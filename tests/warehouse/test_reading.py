"""Protects the SQL door: a query may read the warehouse and nothing else. Every known way out
(writing or reading a file, attaching another database, loading an extension, switching the
guards back on, writing a table) is tried twice: through `read_query`, and straight on a locked
connection, so that each of the two guards holds on its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kb_pipeline.warehouse import Warehouse
from kb_pipeline.warehouse.reading import QueryRefused, lock_down, read_query
from tests.empty_warehouse import insert_rows, open_empty_warehouse

ROWS = [{"source": "qianfan", "kb_id": f"kb-{n}", "name": f"Knowledge base {n}"} for n in range(3)]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("reading") / "data"
    with open_empty_warehouse(directory) as warehouse:
        insert_rows(warehouse.connection, "knowledge_bases", ROWS)
    return directory


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory beside the warehouse holding a CSV and a Parquet file anyone could read."""
    directory = tmp_path_factory.mktemp("outside")
    (directory / "secret.csv").write_text("token\nsecret-value\n", encoding="utf-8")
    pq.write_table(pa.table({"token": ["secret-value"]}), directory / "secret.parquet")
    duckdb.connect(str(directory / "other.duckdb")).close()
    return directory


FILES = "file system operations are disabled"
EXTENSIONS = "Loading external extensions is disabled"
LOCKED = "the configuration has been locked"
READ_ONLY = "attached in read-only mode"
ESCAPES = {
    "copy to a file": ("COPY (SELECT * FROM knowledge_bases) TO '{out}/copied.csv'", FILES),
    "copy after a query": (
        "SELECT 1; COPY knowledge_bases TO '{out}/copied.parquet' (FORMAT parquet)",
        FILES,
    ),
    "export database": ("EXPORT DATABASE '{out}/exported'", FILES),
    "read_csv": ("SELECT * FROM read_csv('{out}/secret.csv')", FILES),
    "read_parquet": ("SELECT * FROM read_parquet('{out}/secret.parquet')", FILES),
    "a file named as a table": ("SELECT * FROM '{out}/secret.csv'", FILES),
    "read_text": ("SELECT content FROM read_text('{out}/secret.csv')", FILES),
    "glob": ("SELECT * FROM glob('{out}/*')", FILES),
    "attach": ("ATTACH '{out}/other.duckdb' AS other", FILES),
    "install": ("INSTALL httpfs", FILES),
    "load": ("LOAD httpfs", EXTENSIONS),
    "re-enable external access": ("SET enable_external_access = true", LOCKED),
    "unlock the configuration": ("SET lock_configuration = false", LOCKED),
    "re-enable autoloading": ("SET autoload_known_extensions = true", LOCKED),
    "insert": ("INSERT INTO knowledge_bases (source, kb_id) VALUES ('qianfan', 'kb-new')", READ_ONLY),
    "update": ("UPDATE knowledge_bases SET name = 'changed'", READ_ONLY),
    "delete": ("DELETE FROM knowledge_bases", READ_ONLY),
    "create table": ("CREATE TABLE copied AS SELECT * FROM knowledge_bases", READ_ONLY),
    "drop table": ("DROP TABLE knowledge_bases", READ_ONLY),
}
"""Each way out, and why DuckDB itself refuses it on a locked connection."""
FILES_OUTSIDE = {"secret.csv", "secret.parquet", "other.duckdb"}


def _unchanged(data_dir: Path, outside: Path) -> None:
    assert {path.name for path in outside.iterdir()} == FILES_OUTSIDE
    with Warehouse.reader(data_dir) as warehouse:
        rows = warehouse.query("SELECT source, kb_id, name FROM knowledge_bases ORDER BY kb_id").to_pylist()
    assert rows == ROWS


@pytest.mark.parametrize("escape", ESCAPES)
def test_the_door_refuses_every_escape(data_dir: Path, outside: Path, escape: str) -> None:
    sql = ESCAPES[escape][0].format(out=outside)
    with pytest.raises((QueryRefused, duckdb.Error)) as refused, read_query(data_dir, sql) as (_, cursor):
        cursor.fetchall()
    assert "secret-value" not in str(refused.value)
    _unchanged(data_dir, outside)


@pytest.fixture
def locked(data_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with Warehouse.reader(data_dir) as warehouse:
        lock_down(warehouse.connection)
        yield warehouse.connection


@pytest.mark.parametrize("escape", ESCAPES)
def test_a_locked_connection_refuses_every_escape_on_its_own(
    locked: duckdb.DuckDBPyConnection, data_dir: Path, outside: Path, escape: str
) -> None:
    with pytest.raises(duckdb.Error, match=ESCAPES[escape][1]):
        locked.execute(ESCAPES[escape][0].format(out=outside)).fetchall()
    assert {path.name for path in outside.iterdir()} == FILES_OUTSIDE
    assert locked.execute("SELECT count(*) FROM knowledge_bases").fetchall() == [(len(ROWS),)]


def test_statements_other_than_queries_are_refused_by_name(data_dir: Path) -> None:
    with (
        pytest.raises(QueryRefused, match="a COPY statement is refused"),
        read_query(data_dir, "COPY kbs TO 'x'"),
    ):
        pass
    with (
        pytest.raises(QueryRefused, match="never other files"),
        read_query(data_dir, "FROM read_csv('x.csv')"),
    ):
        pass


@pytest.mark.parametrize(
    "query",
    [
        "SELECT count(*) FROM knowledge_bases",
        "WITH kbs AS (SELECT * FROM knowledge_bases) SELECT count(*) FROM kbs",
        "FROM knowledge_bases SELECT count(*)",
        "SUMMARIZE knowledge_bases",
        "DESCRIBE knowledge_bases",
        "SHOW TABLES",
        "EXPLAIN SELECT * FROM knowledge_bases",
        "PRAGMA table_info('knowledge_bases')",
        "SELECT count(*) FROM _kb.stream_state",
    ],
)
def test_every_kind_of_query_still_reads(data_dir: Path, query: str) -> None:
    with read_query(data_dir, query) as (columns, cursor):
        assert columns and cursor.fetchall()
