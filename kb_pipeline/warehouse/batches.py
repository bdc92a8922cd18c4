"""From a normalizer's rows to a typed Arrow batch of one table, validated with pandera.

A batch holds one table's rows of every page of a load, in page order, each tagged with its
page's position (`arrow_types.PAGE_COLUMN`). Each value is type-checked while the batch is built (a
string where a BIGINT belongs fails that row, not the page), `raw` dicts become JSON text with URL
credentials removed, and the value rules of the table's pandera schema (`schemas.LOAD_RULES`,
derived from `schemas.SCHEMAS`) then check every row at once (lazy), keys unique per page. Rows
that fail are rejected with their reasons; the caller quarantines them and loads the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow

from kb_pipeline.normalize import strip_credentials_in_text
from kb_pipeline.pages import Record
from kb_pipeline.warehouse.arrow_types import ARROW_TYPES, PAGE_COLUMN
from kb_pipeline.warehouse.tables import Table
from kb_pipeline.warehouse.times import in_utc

if TYPE_CHECKING:
    import pandas as pd


@dataclass(slots=True)
class Batch:
    """One table's rows of a load: all of them typed, and the reasons why some are rejected.

    `pages[i]` is the position of row i's page in the load; `typed` holds the payload columns
    and that position as `PAGE_COLUMN`.
    """

    table: Table
    rows: list[Record]
    pages: list[int]
    typed: pyarrow.Table
    rejected: dict[int, list[str]] = field(default_factory=dict)

    def reject(self, index: int, reason: str) -> None:
        self.rejected.setdefault(index, []).append(reason)

    def accepted(self) -> pyarrow.Table:
        """The rows that passed, in page order."""
        if not self.rejected:
            return self.typed
        mask = [index not in self.rejected for index in range(len(self.rows))]
        return self.typed.filter(pyarrow.array(mask, pyarrow.bool_()))

    def rejected_pages(self) -> list[int]:
        """The page position of each rejected row."""
        return [self.pages[index] for index in self.rejected]


class _Mismatch(Exception):
    """A value of the wrong type for its column."""


def _varchar(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _Mismatch


def _bigint(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        if -(2**63) <= value < 2**63:
            return value
        raise _Mismatch
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _Mismatch


def _double(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise _Mismatch


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _Mismatch


def _timestamptz(value: Any) -> datetime:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return in_utc(value)
    raise _Mismatch


def _json(value: Any) -> str:
    if not isinstance(value, dict | list):
        raise _Mismatch
    try:
        return strip_credentials_in_text(orjson.dumps(value).decode())
    except TypeError:
        raise _Mismatch from None


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "VARCHAR": _varchar,
    "BIGINT": _bigint,
    "DOUBLE": _double,
    "BOOLEAN": _boolean,
    "TIMESTAMPTZ": _timestamptz,
    "JSON": _json,
}
_EXPECTED = {
    "VARCHAR": "a string",
    "BIGINT": "an integer",
    "DOUBLE": "a number",
    "BOOLEAN": "a boolean",
    "TIMESTAMPTZ": "a timezone-aware datetime",
    "JSON": "a dict or list (JSON)",
}


def _column(name: str, sql_type: str, rows: list[Record], rejected: dict[int, list[str]]) -> pyarrow.Array:
    convert = _CONVERTERS[sql_type]
    values = []
    for index, row in enumerate(rows):
        value = row.get(name)
        if value is not None:
            try:
                value = convert(value)
            except _Mismatch:
                rejected.setdefault(index, []).append(
                    f"{name}: expected {_EXPECTED[sql_type]}, got {type(value).__name__} {_short(value)}"
                )
                value = None
        values.append(value)
    return pyarrow.array(values, ARROW_TYPES[sql_type])


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def build(table: Table, rows: list[Record], pages: list[int] | None = None) -> Batch:
    """Type the payload columns of `rows` (keys of a row that are not columns are ignored).

    `pages` gives each row's page position in the load (all 0 when not given).
    """
    rejected: dict[int, list[str]] = {}
    positions = [0] * len(rows) if pages is None else pages
    columns = {name: _column(name, table.columns[name], rows, rejected) for name in table.payload_columns}
    columns[PAGE_COLUMN] = pyarrow.array(positions, pyarrow.int64())
    return Batch(table, rows, positions, pyarrow.table(columns), rejected)


def validate(batch: Batch) -> Batch:
    """Run the table's pandera value rules over the batch and record the failures per row.

    pandas and pandera are imported here, on the first page validated: in a run that is in the
    writer thread while the vendors' rate limits pace the requests, not before the run can start.
    """
    import pandas as pd
    import pandera.errors

    from kb_pipeline.warehouse.schemas import LOAD_RULES

    rules = LOAD_RULES[batch.table.name]
    frame = batch.typed.select([*rules.columns, PAGE_COLUMN]).to_pandas(types_mapper=pd.ArrowDtype)
    try:
        rules.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        _record_failures(batch, errors.failure_cases)
    return batch


def _record_failures(batch: Batch, failures: pd.DataFrame) -> None:
    import pandas as pd

    key = ", ".join(batch.table.key)
    for (index, check), cases in failures.groupby(["index", "check"], dropna=False, sort=False):
        if check == "multiple_fields_uniqueness":
            reason = f"duplicate key ({key}) in this page; its last row was loaded"
        else:
            column = cases["column"].iloc[0]
            reason = f"{column}: {check} failed for {_short(cases['failure_case'].iloc[0])}"
        if pd.isna(index):
            for row_index in range(len(batch.rows)):
                batch.reject(row_index, reason)
        else:
            batch.reject(int(index), reason)


def prepare(table: Table, rows: list[Record], pages: list[int] | None = None) -> Batch:
    """Typed and validated rows of one table (of one page, or of a load's pages in order)."""
    return validate(build(table, rows, pages))
