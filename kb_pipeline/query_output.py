"""Printing a query's answer as a table, CSV, JSON or Markdown, a batch of rows at a time.

CSV and JSON stream every row (or `limit`), so piping a large answer to a file costs one batch
of memory. The table and Markdown are for people: at most `limit` rows, each column as wide as
its widest value (on a terminal, the table folds to the terminal's width instead).
"""

from __future__ import annotations

import csv
import enum
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from kb_pipeline.warehouse.reading import Column

BATCH_ROWS = 10_000
PEOPLE_ROWS = 50
"""Rows a table or Markdown shows unless told otherwise."""
NUMERIC_TYPES = (
    *("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"),
    *("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"),
    *("FLOAT", "DOUBLE", "DECIMAL"),
)
"""Type-name prefixes printed right-aligned (a DECIMAL's name carries its precision)."""


class OutputFormat(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    markdown = "markdown"


class Cursor(Protocol):
    def fetchmany(self, size: int = ...) -> list[Any]: ...


def _batches(cursor: Cursor, limit: int | None) -> Iterator[list[tuple[Any, ...]]]:
    """Rows in batches, `limit` rows at most (None: all)."""
    left = limit
    while left is None or left > 0:
        rows = cursor.fetchmany(BATCH_ROWS if left is None else min(BATCH_ROWS, left))
        if not rows:
            return
        if left is not None:
            left -= len(rows)
        yield rows


def _remaining(cursor: Cursor) -> int:
    return sum(len(rows) for rows in _batches(cursor, None))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _json_value(value: Any) -> Any:
    """What orjson cannot encode itself: exact decimals as numbers, the rest as their text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _is_numeric(column: Column) -> bool:
    return column.type.startswith(NUMERIC_TYPES)


def write_csv(columns: Sequence[Column], cursor: Cursor, out: TextIO, limit: int | None) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([column.name for column in columns])
    for rows in _batches(cursor, limit):
        writer.writerows([[_text(value) for value in row] for row in rows])


def write_json(columns: Sequence[Column], cursor: Cursor, out: TextIO, limit: int | None) -> None:
    """One JSON array of objects; JSON columns are embedded as JSON, not as strings."""
    names = [column.name for column in columns]
    embedded = [column.type == "JSON" for column in columns]
    out.write("[")
    separator = "\n"
    for rows in _batches(cursor, limit):
        for row in rows:
            values = [
                orjson.Fragment(value) if is_json and value is not None else value
                for value, is_json in zip(row, embedded, strict=True)
            ]
            out.write(separator)
            out.write(orjson.dumps(dict(zip(names, values, strict=True)), default=_json_value).decode())
            separator = ",\n"
    out.write("\n]\n")


def _markdown_cell(value: Any) -> str:
    return _text(value).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def write_markdown(columns: Sequence[Column], rows: list[tuple[Any, ...]], out: TextIO) -> None:
    out.write("| " + " | ".join(_markdown_cell(column.name) for column in columns) + " |\n")
    out.write("| " + " | ".join("---:" if _is_numeric(c) else "---" for c in columns) + " |\n")
    for row in rows:
        out.write("| " + " | ".join(_markdown_cell(value) for value in row) + " |\n")


def write_table(
    columns: Sequence[Column], rows: list[tuple[Any, ...]], out: TextIO, *, terminal: bool
) -> None:
    table = Table(header_style="bold")
    for column in columns:
        table.add_column(column.name, overflow="fold", justify="right" if _is_numeric(column) else "left")
    for row in rows:
        table.add_row(*(Text(_text(value)) for value in row))
    print_table(Console(file=out, highlight=False), table, terminal=terminal)


def print_table(console: Console, table: Table, *, terminal: bool | None = None) -> None:
    """Print `table`, folded to the terminal's width on a terminal, else as wide as its data: a
    pipe has no width to fit, and rich's default 80 columns would fold or cut the figures."""
    if console.is_terminal if terminal is None else terminal:
        console.print(table)
    else:
        width = Console(width=1_000_000).measure(table).maximum
        Console(file=console.file, highlight=False, width=width).print(table)


def write_answer(
    columns: Sequence[Column],
    cursor: Cursor,
    out: TextIO,
    *,
    output_format: OutputFormat,
    limit: int | None,
    terminal: bool,
) -> int:
    """Write the answer in `output_format`; returns how many rows were left out by the limit.

    `limit` None means every row for CSV and JSON, and `PEOPLE_ROWS` for a table or Markdown.
    """
    if output_format in (OutputFormat.csv, OutputFormat.json):
        writer = write_csv if output_format is OutputFormat.csv else write_json
        writer(columns, cursor, out, limit)
    else:
        shown = cursor.fetchmany(PEOPLE_ROWS if limit is None else limit)
        if output_format is OutputFormat.markdown:
            write_markdown(columns, shown, out)
        else:
            write_table(columns, shown, out, terminal=terminal)
    return _remaining(cursor)
