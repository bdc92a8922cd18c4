"""The analytics marts: one DuckDB view per file in the project's `sql/` directory.

Each file holds one `CREATE OR REPLACE VIEW <name> AS ...` whose name is the file's stem, and opens
with a comment header that documents it for BI users and for the Dagster asset descriptions:

    -- Question: What does each knowledge base hold?
    -- Grain: one row per live knowledge base.
    -- Method: (optional) how the figures are computed;
    --   an indented comment line continues the field above.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import duckdb

from kb_pipeline.sources import SOURCES

SQL_DIR = Path(__file__).parents[1] / "sql"

_HEADER_FIELD = re.compile(r"-- ?(?P<key>[A-Z][a-z]+):\s*(?P<text>.*)")
_CONTINUATION = re.compile(r"-- {2,}(?P<text>\S.*)")
_VIEW_NAME = re.compile(r"CREATE\s+OR\s+REPLACE\s+VIEW\s+(?P<name>\w+)\s+AS\b", re.IGNORECASE)
_LINE_COMMENT = re.compile(r"--[^\n]*")
_RELATION = re.compile(r"\b(?:FROM|JOIN)\s+([A-Za-z_][\w.]*)", re.IGNORECASE)


class MartDefinitionError(ValueError):
    """A file in sql/ does not follow the one-view-per-file convention, or a mart failed to build."""


@dataclass(frozen=True, slots=True)
class Mart:
    name: str
    question: str
    grain: str
    path: Path
    method: str = ""
    reads: tuple[str, ...] = ()
    """Every relation named after FROM or JOIN in its SQL (tables, other marts, its own CTEs)."""
    depends_on: tuple[str, ...] = ()
    """Other marts this view reads; `create_marts` builds those first."""

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def _header(path: Path, text: str) -> dict[str, str]:
    """The `-- Key: text` fields of the file's leading comment block, continuation lines joined."""
    fields: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("--"):
            break
        if field := _HEADER_FIELD.fullmatch(line):
            key = field["key"].lower()
            fields[key] = field["text"].strip()
        elif key and (more := _CONTINUATION.fullmatch(line)):
            fields[key] = f"{fields[key]} {more['text'].strip()}"
    for required in ("question", "grain"):
        if not fields.get(required):
            raise MartDefinitionError(f"{path}: header lacks a '-- {required.title()}: ...' comment line")
    return fields


def _parse(path: Path) -> Mart:
    text = path.read_text(encoding="utf-8")
    fields = _header(path, text)
    views = _VIEW_NAME.findall(text)
    if views != [path.stem]:
        raise MartDefinitionError(
            f"{path}: expected exactly one 'CREATE OR REPLACE VIEW {path.stem} AS', found {views or 'none'}"
        )
    return Mart(
        name=path.stem,
        question=fields["question"],
        grain=fields["grain"],
        method=fields.get("method", ""),
        path=path,
        reads=tuple(sorted(set(_RELATION.findall(_LINE_COMMENT.sub("", text))))),
    )


def load_marts(sql_dir: Path = SQL_DIR) -> list[Mart]:
    """Every mart in `sql_dir`, ordered so that a mart comes after the marts it reads."""
    if not sql_dir.is_dir():
        raise MartDefinitionError(f"mart directory {sql_dir} not found (it sits at the project root)")
    parsed = [_parse(path) for path in sorted(sql_dir.glob("*.sql"))]
    names = {mart.name for mart in parsed}
    marts: dict[str, Mart] = {}
    graph: dict[str, set[str]] = {}
    for mart in parsed:
        reads = (names - {mart.name}) & set(mart.reads)
        marts[mart.name] = replace(mart, depends_on=tuple(sorted(reads)))
        graph[mart.name] = reads
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        raise MartDefinitionError(f"{sql_dir}: marts read each other in a cycle: {cycle.args[1]}") from None
    return [marts[name] for name in order]


MARTS: list[Mart] = load_marts()

STREAMS_TABLE = "_kb.streams"
"""Which source each stream belongs to and which tables it feeds, one row per (stream, table): the
registry of sources as the marts can read it."""


def write_streams(con: duckdb.DuckDBPyConnection) -> None:
    """Replace `_kb.streams` with what the registry declares now."""
    rows = [
        (stream.name, source.name, table)
        for source in SOURCES.values()
        for stream in source.streams
        for table in stream.tables
    ]
    con.execute(
        f"CREATE OR REPLACE TABLE {STREAMS_TABLE} "
        "(stream VARCHAR NOT NULL, source VARCHAR NOT NULL, table_name VARCHAR NOT NULL)"
    )
    con.executemany(f"INSERT INTO {STREAMS_TABLE} VALUES (?, ?, ?)", rows)


def create_marts(con: duckdb.DuckDBPyConnection, marts: list[Mart] | None = None) -> list[str]:
    """Write `_kb.streams`, then create or replace every mart view, in one transaction; returns the
    views' names in creation order.

    The warehouse tables (and `_kb.stream_state`) must exist: DuckDB binds a view when it is created.
    On failure nothing is changed and the error names the mart's file, except when DuckDB ran out
    of memory (`duckdb.OutOfMemoryException`), which is raised as it is.
    """
    marts = MARTS if marts is None else marts
    con.begin()
    try:
        write_streams(con)
        for mart in marts:
            try:
                con.execute(mart.sql)
            except duckdb.OutOfMemoryException:
                raise  # not the mart's fault: the caller may try again with more memory
            except duckdb.Error as error:
                raise MartDefinitionError(
                    f"mart {mart.name} ({mart.path}) failed to build: {error}"
                ) from error
    except BaseException:
        con.rollback()
        raise
    con.commit()
    return [mart.name for mart in marts]
