"""Raw landing, validation, DuckDB merge, stream state and Parquet feeds."""

from kb_pipeline.warehouse.errors import (
    WarehouseBusyError,
    WarehouseError,
    WarehouseNotFoundError,
    WarehouseSchemaError,
)
from kb_pipeline.warehouse.raw_landing import iter_raw_pages
from kb_pipeline.warehouse.stats import LoadStats, LoadTotals, TableStats
from kb_pipeline.warehouse.warehouse import Warehouse, read_only_query, table_counts

__all__ = [
    "LoadStats",
    "LoadTotals",
    "TableStats",
    "Warehouse",
    "WarehouseBusyError",
    "WarehouseError",
    "WarehouseNotFoundError",
    "WarehouseSchemaError",
    "iter_raw_pages",
    "read_only_query",
    "table_counts",
]
