"""The SQL that merges one page's accepted rows into a table, by the table's merge kind.

Every statement reads the page from an Arrow table registered as ``_incoming`` (no row-by-row
INSERTs). Lookups of stored rows go through an ``IN (...)`` list on the table's lookup column,
which DuckDB answers from that column's index, so a page costs the same whatever the table's size.

- current: classify each row (new / payload changed / unchanged) against what is stored, then
  upsert by key, keeping first_seen_at; last_seen_at becomes the page's fetch time and a row
  seen again loses its deleted_at.
- children: every stored child of each parent in the page is replaced by the page's children.
- history: append, skipping keys already stored (re-loading a page changes nothing).
- status history (derived): a tracked row that is new, or whose tracked columns changed, appends
  one observation, before the tracked table is upserted.
- scan end: rows of a fully listed scope not seen since the scan began get deleted_at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

import duckdb
import pyarrow
import pyarrow.compute

from kb_pipeline.pages import ScanEnd
from kb_pipeline.warehouse.stats import TableStats
from kb_pipeline.warehouse.tables import TABLES, Table

INCOMING = "_incoming"
PARENTS = "_parents"


@dataclass(frozen=True, slots=True)
class StatusHistory:
    """A history table the warehouse derives from changes of some columns of a current table."""

    tracked: str
    history: str
    columns: tuple[str, ...]
    observed_column: str


STATUS_HISTORIES = (
    StatusHistory(
        tracked="jobs",
        history="job_status_history",
        columns=("status_raw", "status", "progress_pct"),
        observed_column="observed_at",
    ),
)


def lookup_column(table: Table) -> str:
    """The key column whose single-column index serves a page's lookups (the most selective one)."""
    return (table.parent_key or table.key)[-1]


def parent_table(table: Table) -> Table:
    """The current table whose key is a child table's parent key."""
    return next(t for t in TABLES.values() if t.merge == "current" and t.key == table.parent_key)


def _q(name: str) -> str:
    return f'"{name}"'


def _columns(names: list[str] | tuple[str, ...], prefix: str = "") -> str:
    return ", ".join(prefix + _q(name) for name in names)


def _equal(names: tuple[str, ...], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{_q(n)} = {right}.{_q(n)}" for n in names)


def _in_list(incoming: pyarrow.Table, column: str) -> str:
    values = pyarrow.compute.unique(incoming.column(column)).to_pylist()
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def _incoming_value(table: Table, column: str) -> str:
    cast = "::JSON" if table.columns[column] == "JSON" else ""
    return f"s.{_q(column)}{cast}"


@cache
def _current_sql(name: str) -> tuple[str, str]:
    table = TABLES[name]
    payload = table.payload_columns
    others = [c for c in payload if c not in table.key]
    changed = " OR ".join(f"{_incoming_value(table, c)} IS DISTINCT FROM t.{_q(c)}" for c in others)
    classify = f"""
        SELECT count(*) FILTER (WHERE t._stored IS NULL),
               count(*) FILTER (WHERE t._stored AND ({changed} OR t.deleted_at IS NOT NULL))
        FROM {INCOMING} AS s LEFT JOIN (
            SELECT {_columns(payload)}, deleted_at, true AS _stored
            FROM {_q(name)} WHERE {_q(lookup_column(table))} IN ({{values}})
        ) AS t ON {_equal(table.key, "s", "t")}"""
    upsert = f"""
        INSERT INTO {_q(name)} ({_columns(payload)}, first_seen_at, last_seen_at, deleted_at)
        SELECT {", ".join(_incoming_value(table, c) for c in payload)}, $seen, $seen, NULL
        FROM {INCOMING} AS s
        ON CONFLICT ({_columns(table.key)}) DO UPDATE SET
            {", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in others)},
            last_seen_at = excluded.last_seen_at, deleted_at = NULL"""
    return classify, upsert


def merge_current(
    con: duckdb.DuckDBPyConnection, table: Table, incoming: pyarrow.Table, seen_at: datetime
) -> TableStats:
    """Upsert the page's rows; counts say how many were new, changed and unchanged."""
    classify, upsert = _current_sql(table.name)
    values = _in_list(incoming, lookup_column(table))
    inserted, updated = con.execute(classify.replace("{values}", values)).fetchall()[0]
    con.execute(upsert, {"seen": seen_at}).fetchall()
    return TableStats(inserted=inserted, updated=updated, unchanged=incoming.num_rows - inserted - updated)


@cache
def _status_history_sql(rule: StatusHistory) -> str:
    tracked = TABLES[rule.tracked]
    changed = " OR ".join(f"s.{_q(c)} IS DISTINCT FROM t.{_q(c)}" for c in rule.columns)
    return f"""
        INSERT INTO {_q(rule.history)} ({_columns(tracked.key)}, {_q(rule.observed_column)}, {_columns(rule.columns)})
        SELECT {_columns(tracked.key, "s.")}, $seen, {_columns(rule.columns, "s.")}
        FROM {INCOMING} AS s LEFT JOIN (
            SELECT {_columns(tracked.key)}, {_columns(rule.columns)}, true AS _stored
            FROM {_q(rule.tracked)} WHERE {_q(lookup_column(tracked))} IN ({{values}})
        ) AS t ON {_equal(tracked.key, "s", "t")}
        WHERE t._stored IS NULL OR {changed}
        ON CONFLICT DO NOTHING"""


def derive_status_history(
    con: duckdb.DuckDBPyConnection, rule: StatusHistory, incoming: pyarrow.Table, seen_at: datetime
) -> int:
    """Append an observation for each tracked row that is new or changed; run before its upsert."""
    values = _in_list(incoming, lookup_column(TABLES[rule.tracked]))
    sql = _status_history_sql(rule).replace("{values}", values)
    return con.execute(sql, {"seen": seen_at}).fetchall()[0][0]


@cache
def _children_sql(name: str) -> tuple[str, str]:
    table = TABLES[name]
    target = _q(name)
    delete = f"""
        DELETE FROM {target} USING {PARENTS} AS p
        WHERE {target}.{_q(lookup_column(table))} IN ({{values}}) AND {_equal(table.parent_key, target, "p")}"""
    insert = f"INSERT INTO {target} ({_columns(table.payload_columns)}) SELECT {_columns(table.payload_columns)} FROM {INCOMING}"
    return delete, insert


def replace_children(
    con: duckdb.DuckDBPyConnection, table: Table, incoming: pyarrow.Table, parents: pyarrow.Table
) -> TableStats:
    """Replace all stored children of `parents` (a table of parent keys) by `incoming`."""
    if parents.num_rows == 0:
        return TableStats()
    delete, insert = _children_sql(table.name)
    con.register(PARENTS, parents)
    try:
        removed = con.execute(delete.replace("{values}", _in_list(parents, lookup_column(table)))).fetchall()
    finally:
        con.unregister(PARENTS)
    inserted = con.execute(insert).fetchall()[0][0] if incoming.num_rows else 0
    return TableStats(inserted=inserted, removed=removed[0][0])


def append_history(con: duckdb.DuckDBPyConnection, table: Table, incoming: pyarrow.Table) -> TableStats:
    """Append rows whose key is not stored yet."""
    columns = _columns(table.payload_columns)
    inserted = con.execute(
        f"INSERT INTO {_q(table.name)} ({columns}) SELECT {columns} FROM {INCOMING} ON CONFLICT DO NOTHING"
    ).fetchall()[0][0]
    return TableStats(inserted=inserted, unchanged=incoming.num_rows - inserted)


def mark_deleted(con: duckdb.DuckDBPyConnection, scan_end: ScanEnd, source: str, ended_at: datetime) -> int:
    """Set deleted_at on the scope's rows that the scan did not see; returns how many."""
    scope = ""
    params: dict[str, object] = {"ended": ended_at, "source": source, "started": scan_end.scan_started_at}
    if scan_end.partition_column is not None:
        scope = f" AND {_q(scan_end.partition_column)} = $partition"
        params["partition"] = scan_end.partition
    sql = f"""
        UPDATE {_q(scan_end.table)} SET deleted_at = $ended
        WHERE source = $source AND last_seen_at < $started AND deleted_at IS NULL{scope}"""
    return con.execute(sql, params).fetchall()[0][0]
