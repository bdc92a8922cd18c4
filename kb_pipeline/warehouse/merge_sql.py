"""The SQL that merges a load's accepted rows into a table, by the table's merge kind.

Every statement reads its rows from an Arrow table registered as ``_incoming`` (no row-by-row
INSERTs) that carries, besides the payload, each row's page position (`PAGE_COLUMN`) and fetch
time (`SEEN`), so every figure goes back to the page it belongs to. For upserts, replacements and
appends the caller has already chosen the one row per key that is written.

The tables carry no PRIMARY KEY or other index: DuckDB's ART indexes cost memory in proportion
to the table, which a run's fixed memory limit cannot hold on a large tenant (BENCHMARKS.md,
"Memory of a whole run"). Stored rows are found by hash joins instead, built on the load's rows
and probed by one scan of the table's key columns (the wide columns of the rows found are read
afterwards, by rowid);
where a statement would otherwise read whole tables (the status history's window, the children's
delete), the table's lookup column restricts it first (see `_stored`). Key uniqueness is kept by
the merge, and the `<table>_unique_key` checks verify it.

- current: classify each row (new / payload changed / unchanged) against what is stored, then
  update the stored keys and insert the others (an anti-join), keeping first_seen_at;
  last_seen_at becomes the row's fetch time and a row seen again loses its deleted_at.
- children: every stored child of each parent named is replaced by the incoming children.
- history: append, skipping keys already stored (an anti-join; re-loading a page changes nothing).
- status history (derived): each sighting of a tracked row that is new, or whose tracked columns
  differ from the sighting before it (stored, or on an earlier page of the load), appends one
  observation, before the tracked table is upserted.
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
from kb_pipeline.warehouse.arrow_types import PAGE_COLUMN
from kb_pipeline.warehouse.connection import registered
from kb_pipeline.warehouse.stats import TableStats, per_page
from kb_pipeline.warehouse.tables import TABLES, Table

INCOMING = "_incoming"
PARENTS = "_parents"
OBSERVED = "_observed"
SEEN = "_seen"
"""The fetch time of a row's page."""
FIRST_SEEN = "_first_seen"
"""The fetch time of the first page of the load that had the row's key."""

CONSTANT_LOOKUP_LIMIT = 200
"""Up to this many keys, stored rows are restricted by an ``IN`` list of constants (a filter
DuckDB applies inside the scan, whose planning cost grows with every key); past it, by a semi-join
of the lookup column with the incoming keys."""


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
    """The key column that restricts a load's lookups first (the most selective one)."""
    return (table.parent_key or table.key)[-1]


def _q(name: str) -> str:
    return f'"{name}"'


def _columns(names: list[str] | tuple[str, ...], prefix: str = "") -> str:
    return ", ".join(prefix + _q(name) for name in names)


def _equal(names: tuple[str, ...], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{_q(n)} = {right}.{_q(n)}" for n in names)


def _stored(column: str, rows: pyarrow.Table, view: str) -> str:
    """A predicate on `column` that keeps the stored rows whose value `rows` (registered as `view`) has."""
    values = pyarrow.compute.unique(rows.column(column))
    if len(values) > CONSTANT_LOOKUP_LIMIT:
        return f"{_q(column)} IN (SELECT {_q(column)} FROM {view})"
    listed = ", ".join("'" + value.replace("'", "''") + "'" for value in values.to_pylist())
    return f"{_q(column)} IN ({listed})"


def _incoming_value(table: Table, column: str) -> str:
    cast = "::JSON" if table.columns[column] == "JSON" else ""
    return f"s.{_q(column)}{cast}"


def _pages_of(returned: pyarrow.Table, rows: pyarrow.Table, key: list[str]) -> list[int]:
    """The page position of each returned key, found in `rows` (where each key is unique)."""
    if returned.num_rows == 0:
        return []
    returned = returned.cast(rows.select(key).schema)
    matched = returned.join(rows.select([*key, PAGE_COLUMN]), keys=key, join_type="inner")
    return matched.column(PAGE_COLUMN).to_pylist()


@cache
def _current_sql(name: str) -> tuple[str, str, str]:
    table = TABLES[name]
    payload = table.payload_columns
    others = [c for c in payload if c not in table.key]
    changed = " OR ".join(f"{_incoming_value(table, c)} IS DISTINCT FROM t.{_q(c)}" for c in others)
    # the key columns find the stored rows; only those rows' payload is then read (by rowid)
    classify = f"""
        WITH matched AS MATERIALIZED (
            SELECT t.rowid AS _rowid FROM {INCOMING} AS s JOIN {_q(name)} AS t ON {_equal(table.key, "s", "t")}
        )
        SELECT s.{PAGE_COLUMN}, count(*) FILTER (WHERE t._stored IS NULL),
               count(*) FILTER (WHERE t._stored AND ({changed} OR t.deleted_at IS NOT NULL))
        FROM {INCOMING} AS s LEFT JOIN (
            SELECT {_columns(payload)}, deleted_at, true AS _stored FROM {_q(name)}
            WHERE rowid IN (SELECT _rowid FROM matched)
        ) AS t ON {_equal(table.key, "s", "t")}
        GROUP BY s.{PAGE_COLUMN}"""
    update = f"""
        UPDATE {_q(name)} AS t SET
            {", ".join(f"{_q(c)} = {_incoming_value(table, c)}" for c in others)},
            last_seen_at = s.{SEEN}, deleted_at = NULL
        FROM {INCOMING} AS s
        WHERE {_equal(table.key, "t", "s")}"""
    insert = f"""
        INSERT INTO {_q(name)} ({_columns(payload)}, first_seen_at, last_seen_at, deleted_at)
        SELECT {", ".join(_incoming_value(table, c) for c in payload)}, s.{FIRST_SEEN}, s.{SEEN}, NULL
        FROM {INCOMING} AS s
        WHERE NOT EXISTS (SELECT 1 FROM {_q(name)} AS t WHERE {_equal(table.key, "t", "s")})"""
    return classify, update, insert


def merge_current(
    con: duckdb.DuckDBPyConnection, table: Table, incoming: pyarrow.Table, pages: int
) -> list[TableStats]:
    """Upsert the rows (one per key); per page, how many were new, changed and unchanged.

    `incoming` (registered as ``_incoming``) carries `SEEN` and `FIRST_SEEN` besides the payload.
    """
    classify, update, insert = _current_sql(table.name)
    counts = {page: (new, changed) for page, new, changed in con.execute(classify).fetchall()}
    con.execute(update).fetchall()
    con.execute(insert).fetchall()
    rows = per_page(incoming.column(PAGE_COLUMN).to_pylist(), pages)
    figures = []
    for page in range(pages):
        new, changed = counts.get(page, (0, 0))
        figures.append(TableStats(inserted=new, updated=changed, unchanged=rows[page] - new - changed))
    return figures


@cache
def _status_history_sql(rule: StatusHistory) -> str:
    tracked = TABLES[rule.tracked]
    key = _columns(tracked.key)
    changed = " OR ".join(f"lag({_q(c)}) OVER sightings IS DISTINCT FROM {_q(c)}" for c in rule.columns)
    return f"""
        WITH sighted AS (
            SELECT {key}, -1 AS {PAGE_COLUMN}, NULL::TIMESTAMPTZ AS {SEEN}, {_columns(rule.columns)}
            FROM {_q(rule.tracked)} WHERE {{stored}}
            UNION ALL
            SELECT {key}, {PAGE_COLUMN}, {SEEN}, {_columns(rule.columns)} FROM {INCOMING}
        ), compared AS (
            SELECT *, lag({PAGE_COLUMN}) OVER sightings IS NULL OR {changed} AS _observed
            FROM sighted WINDOW sightings AS (PARTITION BY {key} ORDER BY {PAGE_COLUMN})
        )
        SELECT {key}, {SEEN} AS {_q(rule.observed_column)}, {_columns(rule.columns)}, {PAGE_COLUMN}
        FROM compared WHERE {PAGE_COLUMN} >= 0 AND _observed
        QUALIFY row_number() OVER (PARTITION BY {key}, {SEEN} ORDER BY {PAGE_COLUMN}) = 1"""


def derive_status_history(
    con: duckdb.DuckDBPyConnection, rule: StatusHistory, incoming: pyarrow.Table, pages: int
) -> list[int]:
    """Append an observation per status change; per page, how many. Run before the tracked upsert.

    `incoming` (registered as ``_incoming``) holds every accepted tracked row of the load, with
    `SEEN`: each page's row is compared with the job's sighting before it, as if the pages had
    loaded one by one.
    """
    tracked = TABLES[rule.tracked]
    sql = _status_history_sql(rule).replace("{stored}", _stored(lookup_column(tracked), incoming, INCOMING))
    observed = con.sql(sql).to_arrow_table()
    if observed.num_rows == 0:
        return [0] * pages
    key = [*tracked.key, rule.observed_column]
    with registered(con, OBSERVED, observed):
        inserted = con.sql(_append_sql(TABLES[rule.history], OBSERVED)).to_arrow_table()
    return per_page(_pages_of(inserted, observed, key), pages)


@cache
def _children_sql(name: str) -> tuple[str, str]:
    table = TABLES[name]
    target = _q(name)
    delete = f"""
        DELETE FROM {target} USING {PARENTS} AS p
        WHERE {target}.{{stored}} AND {_equal(table.parent_key, target, "p")}
        RETURNING {_columns(table.parent_key, target + ".")}"""
    insert = f"INSERT INTO {target} ({_columns(table.payload_columns)}) SELECT {_columns(table.payload_columns)} FROM {INCOMING}"
    return delete, insert


def replace_children(
    con: duckdb.DuckDBPyConnection, table: Table, incoming: pyarrow.Table, parents: pyarrow.Table, pages: int
) -> list[TableStats]:
    """Replace all stored children of `parents` by `incoming` (registered as ``_incoming``).

    `parents` holds each parent's key and the page whose children it keeps: rows removed count
    for that page.
    """
    if parents.num_rows == 0:
        return [TableStats()] * pages
    delete, insert = _children_sql(table.name)
    with registered(con, PARENTS, parents):
        sql = delete.replace("{stored}", _stored(lookup_column(table), parents, PARENTS))
        removed = _pages_of(con.sql(sql).to_arrow_table(), parents, list(table.parent_key))
    if incoming.num_rows:
        con.execute(insert).fetchall()
    written = per_page(incoming.column(PAGE_COLUMN).to_pylist(), pages)
    gone = per_page(removed, pages)
    return [TableStats(inserted=written[page], removed=gone[page]) for page in range(pages)]


def _append_sql(table: Table, view: str) -> str:
    """Insert the rows of `view` (one per key) whose key is not stored yet, returning their keys."""
    columns = _columns(table.payload_columns)
    return f"""
        INSERT INTO {_q(table.name)} ({columns}) SELECT {columns} FROM {view} AS s
        WHERE NOT EXISTS (SELECT 1 FROM {_q(table.name)} AS t WHERE {_equal(table.key, "t", "s")})
        RETURNING {_columns(table.key)}"""


def append_history(
    con: duckdb.DuckDBPyConnection, table: Table, incoming: pyarrow.Table, pages: int
) -> list[int]:
    """Append rows whose key is not stored yet (`incoming` registered as ``_incoming``); per page, how many."""
    inserted = con.sql(_append_sql(table, INCOMING)).to_arrow_table()
    return per_page(_pages_of(inserted, incoming, list(table.key)), pages)


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
