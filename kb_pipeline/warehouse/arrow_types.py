"""How the contract's columns travel in Arrow, between the normalizers' rows and DuckDB."""

from __future__ import annotations

import pyarrow

ARROW_TYPES: dict[str, pyarrow.DataType] = {
    "VARCHAR": pyarrow.string(),
    "JSON": pyarrow.string(),
    "BIGINT": pyarrow.int64(),
    "DOUBLE": pyarrow.float64(),
    "BOOLEAN": pyarrow.bool_(),
    "TIMESTAMPTZ": pyarrow.timestamp("us", tz="UTC"),
}
"""How each DuckDB type of the contract travels in Arrow (JSON as its text)."""

PAGE_COLUMN = "_page"
"""In a load of several pages, the position of the page each row came from (0 for a single page)."""
