"""The ad-hoc SQL door: queries that can read the warehouse and nothing else.

Two guards, either enough on its own. Statements are parsed first and anything but a query
(SELECT and its forms, EXPLAIN, PRAGMA, CALL) is refused with a message saying so. Then the
query runs on a read-only connection whose DuckDB settings forbid every file and extension
(`enable_external_access` off, extensions neither installed nor autoloaded) and are locked, so a
statement cannot switch them back on: COPY, EXPORT, ATTACH, read_csv / read_parquet / read_text
of any path, INSTALL and LOAD all fail, and no write reaches a table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from kb_pipeline.warehouse.errors import WarehouseError
from kb_pipeline.warehouse.warehouse import Warehouse

QUERY_STATEMENTS = {
    duckdb.StatementType.SELECT,
    duckdb.StatementType.EXPLAIN,
    duckdb.StatementType.PRAGMA,
    duckdb.StatementType.CALL,
}
"""Statement kinds that only read (SELECT covers WITH, FROM-first, VALUES, DESCRIBE, SHOW, SUMMARIZE)."""

LOCKED_SETTINGS = (
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET lock_configuration = true",
)
"""Applied in order on every reading connection; the last one makes all settings final."""


class QueryRefused(WarehouseError):
    """The SQL would do something other than read the warehouse."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    """DuckDB's type name, for instance `VARCHAR`, `JSON` or `TIMESTAMP WITH TIME ZONE`."""


def refuse_non_queries(sql: str) -> None:
    """Raise `QueryRefused` unless every statement of `sql` is a query (syntax errors raise duckdb's)."""
    statements = duckdb.extract_statements(sql)
    if not statements:
        raise QueryRefused("no SQL statement given")
    for statement in statements:
        if statement.type not in QUERY_STATEMENTS:
            kind = statement.type.name.replace("_", " ")
            raise QueryRefused(
                f"kb-pipeline sql only reads the warehouse: a {kind} statement is refused "
                "(ask with SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN or PRAGMA)"
            )


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """Forbid files and extensions on `con`'s database for good (settings locked afterwards)."""
    for statement in LOCKED_SETTINGS:
        con.execute(statement)


@contextmanager
def read_query(
    data_dir: str | Path, sql: str, *, lock_timeout_s: float = 0.0
) -> Iterator[tuple[list[Column], duckdb.DuckDBPyConnection]]:
    """Run `sql` against the warehouse in `data_dir` and yield its columns and the cursor to fetch from.

    Fetch in batches (`fetchmany`) to keep memory bounded by the batch, whatever the result's size.
    Raises `QueryRefused` for anything but reading the warehouse, `WarehouseError` when the file is
    missing or (after `lock_timeout_s`) locked by a writer, and `duckdb.Error` for bad SQL.
    """
    refuse_non_queries(sql)
    with Warehouse.reader(data_dir, lock_timeout_s=lock_timeout_s) as warehouse:
        con = warehouse.connection
        lock_down(con)
        try:
            cursor = con.execute(sql)
        except duckdb.PermissionException as error:
            reason = str(error).splitlines()[0]
            raise QueryRefused(
                f"kb-pipeline sql reads the warehouse only, never other files: {reason}"
            ) from None
        columns = [Column(name, str(kind)) for name, kind, *_ in cursor.description or []]
        yield columns, cursor
