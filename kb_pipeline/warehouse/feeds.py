"""Parquet feeds for BI tools: every table and view of the `main` schema, one file each.

Each feed is written by DuckDB's COPY (streaming, memory bounded) to a temporary file in the
feeds directory and renamed over the old one, so a BI tool never reads half a file. Times stay
TIMESTAMPTZ, stored in Parquet as UTC instants.

A feed whose rows have not changed since its file was written is left alone: each file carries a
fingerprint of what it holds in its Parquet key-value metadata (see `fingerprint`: for the large
current tables, their seen times; for the rest, an order-free hash of every row). So an hourly run
with little change rewrites the few feeds that changed and reads little of the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from kb_pipeline.warehouse.connection import with_memory_to_grow
from kb_pipeline.warehouse.tables import BOOKKEEPING, TABLES

ROW_GROUP_ROWS = 16_384
ROW_GROUP_BYTES = "2MB"
"""Most rows, and most bytes, per Parquet row group: COPY holds a row group per thread in memory
before writing it, so DuckDB's default (122,880 rows, with `raw` JSON over 100 MB) would make the
export's memory grow with the table's row width rather than stay within DuckDB's memory limit.
DuckDB applies the byte bound only when the copy need not keep the rows' order (see `_unordered`).
At 4 MB the 400,000 documents did not fit in the 32 MB limit (BENCHMARKS.md, "Memory of a whole run")."""


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


FINGERPRINT_KEY = "kb_pipeline.fingerprint"


@dataclass(frozen=True, slots=True)
class Feed:
    path: Path
    rewritten: bool
    """False when the file already held exactly these rows and was left as it was."""


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


SEEN_TIME_TABLES = tuple(name for name, table in TABLES.items() if table.merge == "current")
"""The tables whose fingerprint is their seen times (see `fingerprint`)."""


def _relation(name: str) -> str:
    return 'main."{}"'.format(name.replace('"', '""'))


def mark_reloaded(con: duckdb.DuckDBPyConnection) -> None:
    """Note on each seen-time table that its rows were written again with the times they had (a
    rebuild), which their seen times alone would not show to `fingerprint`."""
    note = _sql_literal(f"rebuilt from raw pages at {datetime.now(UTC).isoformat()}")
    for name in SEEN_TIME_TABLES:
        con.execute(f"COMMENT ON TABLE {_relation(name)} IS {note}").fetchall()


def fingerprint(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """What relation `name` holds, in a few bytes: equal fingerprints, equal feeds.

    The merge moves first_seen_at, last_seen_at or deleted_at of every row it writes in a current
    table to the time of the page that brought it, later than any time already stored; so the
    table's row count and latest such times stand for its rows, read from three columns instead of
    hashing every value of every row (400,000 documents: 0.01 s instead of about 1 s). A rebuild
    writes rows again with the times they had, so it leaves a note on each table it rewrote (the
    table's comment, `mark_reloaded`), which counts too. Other relations (history and child tables, marts) are
    hashed whole.
    """
    relation = _relation(name)
    columns = con.execute(f"DESCRIBE {relation}").fetchall()
    if name in SEEN_TIME_TABLES and {column[0] for column in columns} >= set(BOOKKEEPING):
        content = con.execute(
            f"SELECT count(*), max(first_seen_at), max(last_seen_at), max(deleted_at), "
            f"(SELECT comment FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?) "
            f"FROM {relation}",
            [name],
        ).fetchone()
    else:
        content = con.execute(f"SELECT count(*), bit_xor(hash(r)) FROM {relation} r").fetchone()
    summary = json.dumps([[list(column[:2]) for column in columns], [str(value) for value in content]])
    return hashlib.sha256(summary.encode()).hexdigest()


def written_fingerprint(con: duckdb.DuckDBPyConnection, path: Path) -> str | None:
    """The fingerprint a feed file was written with; None for a missing, unreadable or older file."""
    if not path.is_file():
        return None
    try:
        found = con.execute(
            "SELECT value FROM parquet_kv_metadata(?) WHERE key = ?", [str(path), FINGERPRINT_KEY.encode()]
        ).fetchone()
    except duckdb.Error:
        return None
    return found[0].decode() if found else None


@contextmanager
def _unordered(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Let DuckDB write rows in any order meanwhile: each thread then writes its own row groups
    instead of buffering them to restore the table's order, which a feed does not promise (its
    fingerprint is order-free), and which a small memory limit cannot hold for the widest tables."""
    con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        con.execute("RESET preserve_insertion_order")


def export(con: duckdb.DuckDBPyConnection, feeds_dir: Path, names: list[str] | None = None) -> list[Feed]:
    """Bring `feeds/<name>.parquet` up to date for each name (default: all), rewriting only those
    whose rows changed."""
    available = feed_names(con)
    chosen = available if names is None else names
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        raise ValueError(
            f"no table or view named {', '.join(unknown)}; feeds exist for: {', '.join(available)}"
        )
    feeds_dir.mkdir(parents=True, exist_ok=True)
    return [
        with_memory_to_grow(con, lambda name=name: _bring_up_to_date(con, feeds_dir, name), f"feed {name}")
        for name in chosen
    ]


def _bring_up_to_date(con: duckdb.DuckDBPyConnection, feeds_dir: Path, name: str) -> Feed:
    """One feed: left alone if its fingerprint still holds, else copied to a temporary file that
    replaces it (so trying again after a failed copy starts from the same state)."""
    target = feeds_dir / f"{name}.parquet"
    current = fingerprint(con, name)
    if written_fingerprint(con, target) == current:
        return Feed(target, rewritten=False)
    temporary = feeds_dir / f".{name}.parquet.tmp"
    with _unordered(con):
        con.execute(
            f"COPY (SELECT * FROM {_relation(name)}) TO {_sql_literal(str(temporary))} (FORMAT parquet, "
            f"COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS}, "
            f"ROW_GROUP_SIZE_BYTES {_sql_literal(ROW_GROUP_BYTES)}, "
            f"KV_METADATA {{{_sql_literal(FINGERPRINT_KEY)}: {_sql_literal(current)}}})"
        ).fetchall()
    os.replace(temporary, target)
    return Feed(target, rewritten=True)
