"""The bookkeeping schema `_kb`: stream cursors, the run log, quarantined rows and the page log.

What a load writes here (cursors, quarantined rows, page log entries) goes in one statement per
table for all its pages, from an Arrow table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson
import pyarrow

from kb_pipeline.normalize import redact_credentials
from kb_pipeline.pages import Page, Record
from kb_pipeline.warehouse.batches import Batch
from kb_pipeline.warehouse.connection import registered
from kb_pipeline.warehouse.times import in_utc

STATE_TABLES = ("_kb.stream_state", "_kb.quarantine", "_kb.pages")
"""Bookkeeping that a rebuild derives again from the raw pages (the run log is kept)."""

_TIMESTAMP = pyarrow.timestamp("us", tz="UTC")
_CURSOR_CONFLICT = """ON CONFLICT (stream, "partition")
    DO UPDATE SET "cursor" = excluded."cursor", updated_at = excluded.updated_at"""

_STREAM_STATE = pyarrow.schema(
    [
        ("stream", pyarrow.string()),
        ("partition", pyarrow.string()),
        ("cursor", pyarrow.string()),
        ("updated_at", _TIMESTAMP),
    ]
)
_PAGES = pyarrow.schema(
    [
        ("seq", pyarrow.int64()),
        ("run_id", pyarrow.string()),
        ("source", pyarrow.string()),
        ("stream", pyarrow.string()),
        ("partition", pyarrow.string()),
        ("fetched_at", _TIMESTAMP),
        ("record_count", pyarrow.int64()),
        ("raw_path", pyarrow.string()),
        ("loaded_at", _TIMESTAMP),
        ("stats", pyarrow.string()),
    ]
)
_QUARANTINE = pyarrow.schema(
    [
        ("source", pyarrow.string()),
        ("stream", pyarrow.string()),
        ("table_name", pyarrow.string()),
        ("row_key", pyarrow.string()),
        ("reason", pyarrow.string()),
        ("raw", pyarrow.string()),
        ("run_id", pyarrow.string()),
        ("page_seq", pyarrow.int64()),
        ("quarantined_at", _TIMESTAMP),
    ]
)


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _lenient_json(value: Any) -> str:
    """JSON text of a row that may hold values JSON has no type for (kept as their repr)."""
    return orjson.dumps(value, default=repr).decode()


def _insert(
    con: duckdb.DuckDBPyConnection,
    target: str,
    entries: list[dict[str, Any]],
    schema: pyarrow.Schema,
    json_columns: tuple[str, ...],
    conflict: str = "",
) -> None:
    """Append `entries` (the target's columns in order; `json_columns` as JSON text) in one statement."""
    if not entries:
        return
    columns = ", ".join(f'"{name}"::JSON' if name in json_columns else f'"{name}"' for name in schema.names)
    with registered(con, "_bookkeeping", pyarrow.Table.from_pylist(entries, schema=schema)):
        con.execute(f"INSERT INTO {target} SELECT {columns} FROM _bookkeeping {conflict}").fetchall()


def get_cursors(con: duckdb.DuckDBPyConnection, stream: str) -> dict[str, dict[str, Any]]:
    """Every partition's saved cursor of `stream`, by partition."""
    rows = con.execute(
        'SELECT "partition", "cursor" FROM _kb.stream_state WHERE stream = ? AND "cursor" IS NOT NULL',
        [stream],
    ).fetchall()
    return {partition: orjson.loads(cursor) for partition, cursor in rows}


def set_cursors(con: duckdb.DuckDBPyConnection, cursors: list[tuple[str, str, Record]]) -> None:
    """Store the cursor of each (stream, partition, cursor); each pair given at most once."""
    now = datetime.now(UTC)
    entries = [
        {"stream": stream, "partition": partition, "cursor": _json(cursor), "updated_at": now}
        for stream, partition, cursor in cursors
    ]
    _insert(con, "_kb.stream_state", entries, _STREAM_STATE, ("cursor",), _CURSOR_CONFLICT)


def start_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    con.execute(
        """INSERT INTO _kb.runs VALUES (?, ?, NULL, 'running', NULL)
           ON CONFLICT (run_id) DO UPDATE SET started_at = excluded.started_at, finished_at = NULL,
               status = 'running', summary = NULL""",
        [run_id, datetime.now(UTC)],
    ).fetchall()


def finish_run(
    con: duckdb.DuckDBPyConnection, run_id: str, status: str, summary: dict[str, Any] | None
) -> None:
    updated = con.execute(
        "UPDATE _kb.runs SET finished_at = ?, status = ?, summary = ?::JSON WHERE run_id = ?",
        [datetime.now(UTC), status, _json(summary), run_id],
    ).fetchall()[0][0]
    if not updated:
        raise KeyError(f"run {run_id!r} was never started in this warehouse (start_run first)")


def last_page_seq(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT coalesce(max(seq), 0) FROM _kb.pages").fetchall()[0][0]


def log_pages(
    con: duckdb.DuckDBPyConnection,
    pages: list[Page],
    seqs: list[int],
    raw_paths: list[str | None],
    stats: list[dict[str, Any]],
) -> None:
    """One `_kb.pages` entry per page of a load, with the page's figures."""
    now = datetime.now(UTC)
    entries = [
        {
            "seq": seq,
            "run_id": page.run_id,
            "source": page.source,
            "stream": page.stream,
            "partition": page.partition,
            "fetched_at": in_utc(page.fetched_at),
            "record_count": len(page.records),
            "raw_path": raw_path,
            "loaded_at": now,
            "stats": _json(figures),
        }
        for page, seq, raw_path, figures in zip(pages, seqs, raw_paths, stats, strict=True)
    ]
    _insert(con, "_kb.pages", entries, _PAGES, ("stats",))


def quarantine(
    con: duckdb.DuckDBPyConnection, pages: list[Page], seqs: list[int], batches: list[Batch]
) -> None:
    """Keep each rejected row with its reasons, its page, and the row as the normalizer gave it."""
    now = datetime.now(UTC)
    entries = [
        {
            "source": pages[batch.pages[index]].source,
            "stream": pages[batch.pages[index]].stream,
            "table_name": batch.table.name,
            "row_key": _lenient_json({column: batch.rows[index].get(column) for column in batch.table.key}),
            "reason": "; ".join(reasons),
            "raw": _lenient_json(redact_credentials(batch.rows[index])),
            "run_id": pages[batch.pages[index]].run_id,
            "page_seq": seqs[batch.pages[index]],
            "quarantined_at": now,
        }
        for batch in batches
        for index, reasons in sorted(batch.rejected.items())
    ]
    _insert(con, "_kb.quarantine", entries, _QUARANTINE, ("row_key", "raw"))
