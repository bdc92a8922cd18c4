"""A real, empty warehouse (the migrations' own schema) for tests that insert the rows they reason about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from kb_pipeline.warehouse import Warehouse

Rows = list[dict[str, Any]]


def open_empty_warehouse(directory: Path) -> Warehouse:
    """A new warehouse in `directory`, open for writing: every contract table, `_kb` included."""
    return Warehouse(directory)


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: Rows) -> None:
    """Insert dict rows by column name; columns a row leaves out are NULL."""
    if rows:
        con.register("batch", pd.DataFrame.from_records(rows))
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM batch")
        con.unregister("batch")
