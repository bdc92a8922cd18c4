"""A real DuckDB warehouse file holding the contract's tables (from tables.py) and the `_kb` run log,
with every mart view created on it; each test inserts the rows it reasons about.

The session time zone is set away from UTC so that a mart which dates by the session's zone
instead of UTC gives itself away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import pandas as pd
import pytest

from kb_pipeline.marts import create_marts
from kb_pipeline.warehouse.tables import TABLES

Rows = list[dict[str, Any]]


def create_warehouse_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The warehouse's tables as tables.py defines them, plus `_kb.runs` and `_kb.stream_state`."""
    for table in TABLES.values():
        columns = ", ".join(f'"{name}" {sql_type}' for name, sql_type in table.columns.items())
        con.execute(f"CREATE TABLE {table.name} ({columns}, PRIMARY KEY ({', '.join(table.key)}))")
    con.execute("CREATE SCHEMA _kb")
    con.execute(
        "CREATE TABLE _kb.runs (run_id VARCHAR PRIMARY KEY, started_at TIMESTAMPTZ,"
        " finished_at TIMESTAMPTZ, status VARCHAR, summary JSON)"
    )
    con.execute(
        'CREATE TABLE _kb.stream_state (stream VARCHAR, "partition" VARCHAR, cursor JSON,'
        ' updated_at TIMESTAMPTZ, PRIMARY KEY (stream, "partition"))'
    )


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: Rows) -> None:
    """Insert dict rows by column name; columns a row leaves out are NULL."""
    if rows:
        con.register("batch", pd.DataFrame.from_records(rows))
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM batch")
        con.unregister("batch")


def fetch(con: duckdb.DuckDBPyConnection, view: str) -> Rows:
    cursor = con.execute(f"SELECT * FROM {view}")
    columns = [description[0] for description in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture
def warehouse(tmp_path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    create_warehouse_tables(con)
    create_marts(con)
    yield con
    con.close()


@pytest.fixture
def insert(warehouse: duckdb.DuckDBPyConnection) -> Callable[[str, Rows], None]:
    return lambda table, rows: insert_rows(warehouse, table, rows)


@pytest.fixture
def query(warehouse: duckdb.DuckDBPyConnection) -> Callable[[str], Rows]:
    return lambda view: fetch(warehouse, view)
