"""Every vendor stream as a Dagster asset: its key, group, lineage, description and column schema.

Read from the registry (`kb_pipeline.sources.SOURCES`), so a vendor package added there appears
here with no change: key `["pai", "jobs"]` for stream `pai.jobs`, group = the source's name, deps = `Stream.after`.
"""

from __future__ import annotations

import sys

import dagster as dg

from kb_pipeline.sources import SOURCES, Source, Stream, strategies
from kb_pipeline.warehouse.tables import TABLES, Table

WAREHOUSE_POOL = "kb_warehouse"
"""Every step that opens the DuckDB writer is in this pool; dagster.yaml limits it to one at a time."""

OWNERS = ["team:data-platform"]


def stream_key(stream_name: str) -> dg.AssetKey:
    return dg.AssetKey(stream_name.split("."))


def column_schema(table: Table) -> dg.TableSchema:
    """The table's contract (tables.py) in Dagster's terms: the UI's Columns tab."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name,
                sql_type,
                constraints=dg.TableColumnConstraints(nullable=name not in table.key),
            )
            for name, sql_type in table.columns.items()
        ],
        constraints=dg.TableConstraints(other=[f"primary key ({', '.join(table.key)})"]),
    )


def _first_paragraph(text: str | None) -> str:
    return (text or "").strip().split("\n\n")[0].replace("\n", " ")


def describe(source: Source, stream: Stream) -> str:
    """The stream's purpose from its declarations: the vendor module, its strategy, its tables."""
    vendor = _first_paragraph(sys.modules[stream.normalize.__module__].__doc__)
    strategy = getattr(strategies, stream.extract.__qualname__.split(".")[0], None)
    # the strategy's docstring names its `table` argument: the stream's first table
    how = _first_paragraph(strategy.__doc__).replace("`table`", f"`{stream.tables[0]}`") if strategy else ""
    tables = ", ".join(f"`{table}`" for table in stream.tables)
    return f"{vendor}\n\n`{stream.name}`: {how}\n\nFeeds {tables} (rows of source `{source.name}`)."


def stream_spec(source: Source, stream: Stream) -> dg.AssetSpec:
    primary = TABLES[stream.tables[0]]
    return dg.AssetSpec(
        stream_key(stream.name),
        description=describe(source, stream),
        group_name=source.name,
        deps=[stream_key(name) for name in stream.after],
        kinds={"duckdb"},
        owners=OWNERS,
        tags={"source": source.name, "layer": "extract"},
        metadata={
            "dagster/column_schema": column_schema(primary),
            "tables": list(stream.tables),
        },
        # a stream of a source the config leaves out is not materialized, and that is no failure
        skippable=True,
    )


STREAMS: dict[dg.AssetKey, tuple[Source, Stream]] = {
    stream_key(stream.name): (source, stream) for source in SOURCES.values() for stream in source.streams
}
STREAM_SPECS: list[dg.AssetSpec] = [stream_spec(source, stream) for source, stream in STREAMS.values()]


def streams_feeding(table: str) -> list[dg.AssetKey]:
    return [key for key, (_, stream) in STREAMS.items() if table in stream.tables]
