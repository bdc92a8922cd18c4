"""The bookkeeping schema `_kb`: stream cursors, the run log, quarantined rows and the page log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson
import pyarrow

from kb_pipeline.normalize import redact_credentials
from kb_pipeline.pages import Page, Record
from kb_pipeline.warehouse.batches import Batch

STATE_TABLES = ("_kb.stream_state", "_kb.quarantine", "_kb.pages")
"""Bookkeeping that a rebuild derives again from the raw pages (the run log is kept)."""


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _lenient_json(value: Any) -> str:
    """JSON text of a row that may hold values JSON has no type for (kept as their repr)."""
    return orjson.dumps(value, default=repr).decode()


def get_cursor(con: duckdb.DuckDBPyConnection, stream: str, partition: str) -> dict[str, Any] | None:
    rows = con.execute(
        'SELECT "cursor" FROM _kb.stream_state WHERE stream = ? AND "partition" = ?', [stream, partition]
    ).fetchall()
    return orjson.loads(rows[0][0]) if rows and rows[0][0] is not None else None


def set_cursor(con: duckdb.DuckDBPyConnection, stream: str, partition: str, cursor: Record | None) -> None:
    """Store the cursor of (stream, partition); None forgets it."""
    if cursor is None:
        con.execute(
            'DELETE FROM _kb.stream_state WHERE stream = ? AND "partition" = ?', [stream, partition]
        ).fetchall()
        return
    con.execute(
        """INSERT INTO _kb.stream_state VALUES (?, ?, ?::JSON, ?)
           ON CONFLICT (stream, "partition") DO UPDATE SET "cursor" = excluded."cursor", updated_at = excluded.updated_at""",
        [stream, partition, _json(cursor), datetime.now(UTC)],
    ).fetchall()


def clear_cursors(con: duckdb.DuckDBPyConnection, stream: str) -> int:
    return con.execute("DELETE FROM _kb.stream_state WHERE stream = ?", [stream]).fetchall()[0][0]


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


def log_page(
    con: duckdb.DuckDBPyConnection, page: Page, seq: int, raw_path: str | None, stats: dict[str, Any]
) -> None:
    con.execute(
        "INSERT INTO _kb.pages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?::JSON)",
        [
            seq,
            page.run_id,
            page.source,
            page.stream,
            page.partition,
            page.fetched_at,
            len(page.records),
            raw_path,
            datetime.now(UTC),
            _json(stats),
        ],
    ).fetchall()


_QUARANTINE_SCHEMA = pyarrow.schema(
    [
        ("source", pyarrow.string()),
        ("stream", pyarrow.string()),
        ("table_name", pyarrow.string()),
        ("row_key", pyarrow.string()),
        ("reason", pyarrow.string()),
        ("raw", pyarrow.string()),
        ("run_id", pyarrow.string()),
        ("page_seq", pyarrow.int64()),
        ("quarantined_at", pyarrow.timestamp("us", tz="UTC")),
    ]
)


def quarantine(con: duckdb.DuckDBPyConnection, page: Page, seq: int, batches: list[Batch]) -> None:
    """Keep each rejected row with its reasons and the row as the normalizer gave it."""
    now = datetime.now(UTC)
    entries = [
        {
            "source": page.source,
            "stream": page.stream,
            "table_name": batch.table.name,
            "row_key": _lenient_json({column: batch.rows[index].get(column) for column in batch.table.key}),
            "reason": "; ".join(reasons),
            "raw": _lenient_json(redact_credentials(batch.rows[index])),
            "run_id": page.run_id,
            "page_seq": seq,
            "quarantined_at": now,
        }
        for batch in batches
        for index, reasons in sorted(batch.rejected.items())
    ]
    if not entries:
        return
    con.register("_quarantined", pyarrow.Table.from_pylist(entries, schema=_QUARANTINE_SCHEMA))
    try:
        con.execute(
            """INSERT INTO _kb.quarantine SELECT source, stream, table_name, row_key::JSON, reason, raw::JSON,
                   run_id, page_seq, quarantined_at FROM _quarantined"""
        ).fetchall()
    finally:
        con.unregister("_quarantined")
