"""One multi-asset for every vendor stream: one step, one process, one warehouse writer.

DuckDB accepts a single writing process, so the selected streams are extracted together by
`kb_pipeline.extract.extract` (concurrent inside, one writer thread) and each stream then gets its
own materialization and checks. A stream that failed gets neither: the step raises after the
others are recorded, so the Dagster UI shows exactly the failed streams as failed, with their
vendors' messages, while every other stream shows its new materialization.
"""

import dataclasses
import json
import logging
from collections.abc import Iterator
from typing import Any, get_args

import dagster as dg
from pydantic import Field

from kb_pipeline import stopping
from kb_pipeline.config import PipelineConfig
from kb_pipeline.defs import checks
from kb_pipeline.defs.resources import PipelineSettings, WarehouseResource
from kb_pipeline.defs.streams import STREAM_SPECS, STREAMS, WAREHOUSE_POOL, stream_key
from kb_pipeline.extract import StreamReport, extract
from kb_pipeline.http.client import RequestKind
from kb_pipeline.pages import Page
from kb_pipeline.warehouse import TableStats, Warehouse

EXTRACTION_OP = "extract_streams"
REQUEST_KINDS = get_args(RequestKind)
"""Requests by what they were for (listing page, re-read, poll), zeros included, so the UI plots
what each run cost."""
ROW_KINDS = [field.name for field in dataclasses.fields(TableStats)]
"""Row counters (received, inserted, updated, deleted, quarantined, ...) shown for every table,
zeros included, so the UI can plot them run after run."""

progress_log = logging.getLogger("kb_pipeline.progress")
"""One DEBUG record per committed page (`extra={"page": page}`), for whoever runs the graph to show."""


class ExtractionConfig(dg.Config):
    full_refresh: bool = Field(
        default=False,
        description="re-read every listing in full: status changes everywhere, vanished records marked deleted",
    )


def _log_page(page: Page) -> None:
    progress_log.debug(
        "%s %s: page committed, %d records",
        page.stream,
        page.partition,
        len(page.records),
        extra={"page": page},
    )


def _json(value: Any) -> dg.MetadataValue:
    return dg.MetadataValue.json(json.loads(json.dumps(value, default=str)))


def _previous_row_count(instance: dg.DagsterInstance, key: dg.AssetKey) -> int | None:
    event = instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event else None
    value = materialization.metadata.get("dagster/row_count") if materialization else None
    return int(value.value) if value is not None else None


def _materialization(
    report: StreamReport, table_rows: dict[str, int], key: dg.AssetKey
) -> dg.MaterializeResult:
    primary = next(iter(table_rows))
    metadata: dict[str, Any] = {
        "dagster/row_count": table_rows[primary],
        "partitions": report.partitions,
        "pages": report.pages,
        "records": report.records,
        "requests": report.requests,
        **{f"requests.{kind}": report.requests_by_kind.get(kind, 0) for kind in REQUEST_KINDS},
        "retries": report.retries,
        "throttled": report.throttled,
        "duration_s": round(report.duration_s, 3),
        "cursor_before": _json(report.cursors_before),
        "cursor_after": _json(report.cursors_after),
    }
    if report.failed_partitions:
        metadata["failed_partitions"] = _json(report.failed_partitions)
    for table, live in table_rows.items():
        counts = report.rows.get(table, {})
        metadata[f"{table}.live_rows"] = live
        metadata |= {f"{table}.{kind}": int(counts.get(kind, 0)) for kind in ROW_KINDS}
    return dg.MaterializeResult(asset_key=key, metadata=metadata)


def _selected_checks(context: dg.AssetExecutionContext, key: dg.AssetKey) -> list[str]:
    return [check.name for check in context.selected_asset_check_keys if check.asset_key == key]


def _quarantined(report: StreamReport, tables: tuple[str, ...]) -> dict[str, int]:
    return {table: int(report.rows.get(table, {}).get("quarantined", 0)) for table in tables}


def _stream_results(
    context: dg.AssetExecutionContext, warehouse: Warehouse, key: dg.AssetKey, report: StreamReport | None
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """The materialization and checks of one stream that ran without error (report None: checks only)."""
    source, stream = STREAMS[key]
    table_rows = {table: checks.live_rows(warehouse.query, table, source.name) for table in stream.tables}
    previous = _previous_row_count(context.instance, key)
    if report is not None:
        yield _materialization(report, table_rows, key)
    yield from checks.evaluate(
        warehouse.query,
        key,
        stream,
        source.name,
        selected=_selected_checks(context, key),
        rows=table_rows[stream.tables[0]],
        previous_rows=previous,
        quarantined=_quarantined(report, stream.tables) if report else None,
    )


def _failure(reports: list[StreamReport]) -> dg.Failure:
    """One line per failed stream, and per partition the vendor did not know."""
    failed = [report for report in reports if not report.ok]
    lines = [f"{report.stream} ({report.source}): {'; '.join(report.errors)}" for report in failed]
    lines += [
        f"{report.stream} ({report.source}) partition {partition}: {message}"
        for report in reports
        if report.ok
        for partition, message in report.failed_partitions.items()
    ]
    return dg.Failure(
        description="\n".join(lines),
        metadata={"failed_streams": [report.stream for report in failed]},
    )


def _extract(
    context: dg.AssetExecutionContext,
    config: PipelineConfig,
    warehouse: Warehouse,
    streams: list[str],
    full_refresh: bool,
) -> dict[dg.AssetKey, StreamReport]:
    context.log.info(f"extracting {', '.join(streams)} ({'full refresh' if full_refresh else 'incremental'})")
    warehouse.start_run(context.run.run_id)
    try:
        report = extract(
            config,
            warehouse,
            run_id=context.run.run_id,
            streams=streams,
            full_refresh=full_refresh,
            progress=_log_page,
        )
    except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError) as stop:
        # stopped by a signal or from the UI: the last committed page stands; Dagster marks the
        # run canceled (so no automatic retry starts it again) and the next run resumes
        warehouse.finish_run(context.run.run_id, "interrupted", {"error": str(stop) or type(stop).__name__})
        if isinstance(stop, stopping.Interrupted):
            context.instance.report_run_canceling(context.run, message=str(stop))
        raise
    except Exception as error:
        warehouse.finish_run(context.run.run_id, "failed", {"error": f"{type(error).__name__}: {error}"})
        raise
    warehouse.finish_run(
        context.run.run_id,
        "succeeded" if report.ok and not any(r.failed_partitions for r in report.streams) else "failed",
        {r.stream: {"records": r.records, "errors": r.errors} for r in report.streams},
    )
    for r in report.streams:
        outcome = "ok" if r.ok else "FAILED: " + "; ".join(r.errors)
        context.log.info(
            f"{r.stream}: {r.records} records in {r.pages} pages, {r.requests} requests "
            f"{r.requests_by_kind}, "
            f"{r.duration_s:.1f}s, {outcome}"
        )
    return {stream_key(r.stream): r for r in report.streams}


@dg.multi_asset(
    name=EXTRACTION_OP,
    specs=STREAM_SPECS,
    check_specs=[spec for key, (_, stream) in STREAMS.items() for spec in checks.check_specs(key, stream)],
    can_subset=True,
    pool=WAREHOUSE_POOL,
    description="Extract the selected vendor streams in one process into the DuckDB warehouse.",
)
def extract_streams(
    context: dg.AssetExecutionContext,
    config: ExtractionConfig,
    settings: PipelineSettings,
    warehouse: WarehouseResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    pipeline = settings.load()
    enabled = pipeline.sources.enabled()
    targets = set(context.selected_asset_keys) | {
        check.asset_key for check in context.selected_asset_check_keys
    }
    wanted = [key for key in STREAMS if key in targets]
    configured = [key for key in wanted if STREAMS[key][0].name in enabled]
    if skipped := [key.to_user_string() for key in wanted if key not in configured]:
        context.log.info(f"source not in the configuration, not materialized: {', '.join(skipped)}")
    streams = [STREAMS[key][1].name for key in configured if key in context.selected_asset_keys]
    with warehouse.open() as store:
        reports = _extract(context, pipeline, store, streams, config.full_refresh) if streams else {}
        for key in configured:
            report = reports.get(key)
            if report is None or report.ok:
                yield from _stream_results(context, store, key, report)
    if any(not report.ok or report.failed_partitions for report in reports.values()):
        raise _failure(list(reports.values()))
