"""What is built from the loaded tables: the mart views, the Parquet feeds and the HTML report.

These follow the streams declaratively (`PUBLISH_WHEN`): whenever any stream they read has a new
materialization and none is still running, they are rebuilt in a run of their own. So a vendor
that fails leaves the marts, feeds and report to be rebuilt from everything else, and the UI shows
only that vendor's streams as failed. A source never configured does not hold them back.
"""

from collections.abc import Iterator

import dagster as dg
import duckdb
import pyarrow.parquet as pq

from kb_pipeline.defs.check_outcomes import latest_check_outcomes
from kb_pipeline.defs.extraction import extract_streams
from kb_pipeline.defs.resources import WarehouseResource
from kb_pipeline.defs.streams import OWNERS, STREAMS, WAREHOUSE_POOL, streams_feeding
from kb_pipeline.marts import MARTS, Mart, create_marts
from kb_pipeline.report import build_report
from kb_pipeline.report.page import MARTS_READ
from kb_pipeline.warehouse.connection import with_memory_to_grow
from kb_pipeline.warehouse.tables import TABLES

ANALYTICS_GROUP = "analytics"
STREAM_STATE = "_kb.stream_state"
"""Cursor bookkeeping, written by every stream: a mart reading it depends on all of them."""
FEEDS_KEY = dg.AssetKey("feeds")
REPORT_KEY = dg.AssetKey("report")
REPORT_FILE = "report.html"

PUBLISH_WHEN = dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())


def mart_key(mart: Mart) -> dg.AssetKey:
    return dg.AssetKey(mart.name)


def tables_read(mart: Mart) -> set[str]:
    """The warehouse tables (and `_kb.stream_state`) the mart's SQL reads."""
    return set(mart.reads) & (TABLES.keys() | {STREAM_STATE})


def mart_deps(mart: Mart) -> list[dg.AssetKey]:
    streams = {
        key
        for table in tables_read(mart)
        for key in (STREAMS if table == STREAM_STATE else streams_feeding(table))
    }
    ordered = [key for key in STREAMS if key in streams]
    return ordered + [dg.AssetKey(name) for name in mart.depends_on]


def mart_spec(mart: Mart) -> dg.AssetSpec:
    method = f"\n\n{mart.method}" if mart.method else ""
    return dg.AssetSpec(
        mart_key(mart),
        description=f"{mart.question}\n\nGrain: {mart.grain}{method}",
        group_name=ANALYTICS_GROUP,
        deps=mart_deps(mart),
        kinds={"duckdb", "sql"},
        owners=OWNERS,
        tags={"layer": "mart"},
        metadata={"sql_file": dg.MetadataValue.path(str(mart.path))},
        automation_condition=PUBLISH_WHEN,
    )


def view_schema(con: duckdb.DuckDBPyConnection, view: str) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, sql_type)
            for name, sql_type, *_ in con.execute(f"DESCRIBE {view}").fetchall()
        ]
    )


@dg.multi_asset(
    name="create_marts",
    specs=[mart_spec(mart) for mart in MARTS],
    can_subset=True,
    pool=WAREHOUSE_POOL,
    description="Create or replace the selected mart views in one transaction.",
)
def marts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    selected = [mart for mart in MARTS if mart_key(mart) in context.selected_asset_keys]
    with warehouse.open() as store:
        con = store.connection
        created = with_memory_to_grow(con, lambda: create_marts(con, selected), "creating the marts")
        for name in created:
            (rows,) = with_memory_to_grow(
                con,
                lambda name=name: con.execute(f"SELECT count(*) FROM {name}").fetchone(),
                f"counting mart {name}",
            )
            yield dg.MaterializeResult(
                asset_key=dg.AssetKey(name),
                metadata={"dagster/row_count": rows, "dagster/column_schema": view_schema(con, name)},
            )


@dg.asset(
    key=FEEDS_KEY,
    group_name=ANALYTICS_GROUP,
    deps=[*STREAMS, *(mart_key(mart) for mart in MARTS)],
    kinds={"parquet"},
    owners=OWNERS,
    tags={"layer": "feed"},
    pool=WAREHOUSE_POOL,
    automation_condition=PUBLISH_WHEN,
    description="Every table and mart exported as Parquet under <data_dir>/feeds/, for BI tools (atomic; "
    "a feed whose rows did not change is left as it was).",
)
def feeds(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.open() as store:
        feeds = store.export_feeds()
        directory = store.feeds_dir
    rows = {feed.path.stem: pq.ParquetFile(feed.path).metadata.num_rows for feed in feeds}
    return dg.MaterializeResult(
        metadata={
            "dagster/uri": dg.MetadataValue.path(str(directory)),
            "files": len(feeds),
            "rewritten": dg.MetadataValue.json(sorted(feed.path.stem for feed in feeds if feed.rewritten)),
            "bytes": sum(feed.path.stat().st_size for feed in feeds),
            "rows_per_feed": dg.MetadataValue.json(rows),
        }
    )


@dg.asset(
    key=REPORT_KEY,
    group_name=ANALYTICS_GROUP,
    deps=[dg.AssetKey(name) for name in MARTS_READ],
    kinds={"html"},
    owners=OWNERS,
    tags={"layer": "report"},
    pool=WAREHOUSE_POOL,
    automation_condition=PUBLISH_WHEN,
    description="A self-contained HTML page: what needs attention, headline figures, each stream's last run "
    "and freshness, check outcomes, charts and the largest knowledge bases; readable offline.",
)
def report(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    checks = latest_check_outcomes(context.instance, extract_streams.check_keys)
    with warehouse.open() as store:
        path = with_memory_to_grow(
            store.connection,
            lambda: build_report(store.connection, store.data_dir / REPORT_FILE, checks=checks),
            "the report",
        )
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(path)), "bytes": path.stat().st_size}
    )


PUBLISHED: list[dg.AssetsDefinition] = [marts, feeds, report]
PUBLISHED_KEYS: list[dg.AssetKey] = [key for asset in PUBLISHED for key in asset.keys]
