"""A real, empty warehouse with every mart view created on it; each test inserts the rows it
reasons about.

The session time zone is set away from UTC so that a mart which dates by the session's zone
instead of UTC gives itself away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import duckdb
import pytest

from kb_pipeline.marts import create_marts
from tests.empty_warehouse import Rows, insert_rows, open_empty_warehouse


def fetch(con: duckdb.DuckDBPyConnection, view: str) -> Rows:
    cursor = con.execute(f"SELECT * FROM {view}")
    columns = [description[0] for description in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture
def warehouse(tmp_path) -> Iterator[duckdb.DuckDBPyConnection]:
    with open_empty_warehouse(tmp_path) as opened:
        con = opened.connection
        con.execute("SET TimeZone = 'Asia/Shanghai'")
        create_marts(con)
        yield con


@pytest.fixture
def insert(warehouse: duckdb.DuckDBPyConnection) -> Callable[[str, Rows], None]:
    return lambda table, rows: insert_rows(warehouse, table, rows)


@pytest.fixture
def query(warehouse: duckdb.DuckDBPyConnection) -> Callable[[str], Rows]:
    return lambda view: fetch(warehouse, view)
