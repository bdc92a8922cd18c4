"""Parquet feeds for BI tools: every table and view of the `main` schema, one file each.

Each feed is written by DuckDB's COPY (streaming, memory bounded) to a temporary file in the
feeds directory and renamed over the old one, so a BI tool never reads half a file. Times stay
TIMESTAMPTZ, stored in Parquet as UTC instants.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

ROW_GROUP_ROWS = 16_384
"""Rows per Parquet row group: COPY holds a row group per thread in memory before writing it, so
DuckDB's default (122,880 rows, with `raw` JSON over 100 MB) would make the export's memory grow
with the table's row width rather than stay near DuckDB's memory limit."""


def feed_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables and views of the `main` schema (the contract tables and the analytics marts)."""
    rows = con.execute(
        """SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database()
           UNION
           SELECT view_name FROM duckdb_views()
           WHERE schema_name = 'main' AND database_name = current_database() AND NOT internal
           ORDER BY 1"""
    ).fetchall()
    return [name for (name,) in rows]


def export(con: duckdb.DuckDBPyConnection, feeds_dir: Path, names: list[str] | None = None) -> list[Path]:
    """Write `feeds/<name>.parquet` for each name (default: all); returns the files written."""
    available = feed_names(con)
    chosen = available if names is None else names
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        raise ValueError(
            f"no table or view named {', '.join(unknown)}; feeds exist for: {', '.join(available)}"
        )
    feeds_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in chosen:
        target = feeds_dir / f"{name}.parquet"
        temporary = feeds_dir / f".{name}.parquet.tmp"
        literal = str(temporary).replace("'", "''")
        identifier = name.replace('"', '""')
        con.execute(
            f"""COPY (SELECT * FROM main."{identifier}") TO '{literal}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS})"""
        ).fetchall()
        os.replace(temporary, target)
        written.append(target)
    return written
