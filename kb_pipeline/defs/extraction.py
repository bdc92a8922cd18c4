"""One multi-asset for every vendor stream: one step, one process, one warehouse writer.

DuckDB accepts a single writing process, so the selected streams are extracted together by
`kb_pipeline.extract.extract` (concurrent inside, one writer thread) and each stream then gets its
own materialization and checks. A stream that failed gets neither: the step raises after the
others are recorded, so the Dagster UI shows exactly the failed streams as failed, with their
vendors' messages, while every other stream shows its new materialization.
"""

import dataclasses
import json
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from typing import Any, get_args

import dagster as dg
from pydantic import Field

from kb_pipeline import stopping
from kb_pipeline.config import PipelineConfig
from kb_pipeline.defs import checks
from kb_pipeline.defs.resources import PipelineSettings, WarehouseResource
from kb_pipeline.defs.streams import STREAM_SPECS, STREAMS, WAREHOUSE_POOL, stream_key
from kb_pipeline.extract import StreamReport, extract_stream_by_stream
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

PageCommitted = Callable[[Page], None]
"""The `page_progress` resource: told of each page as it commits (from the engine's writer thread)."""


def ignore_pages(page: Page) -> None:
    """The definitions' `page_progress`: the UI follows a run through its events, not page by page;
    `kb-pipeline run` passes its live figures instead."""


class ExtractionConfig(dg.Config):
    full_refresh: bool = Field(
        default=False,
        description="re-read every listing in full: status changes everywhere, vanished records marked deleted",
    )


CURSORS_SHOWN = 50
"""Partitions whose cursors a materialization shows, of those that moved: the metadata of every run
is stored and read back by the UI, so it follows what changed, not the thousands of partitions a
stream may have; `_kb.stream_state` holds every cursor."""


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
    shown = list(report.cursors_after)[:CURSORS_SHOWN]
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
        "cursors_moved": len(report.cursors_after),
        "cursor_before": _json({partition: report.cursors_before.get(partition) for partition in shown}),
        "cursor_after": _json({partition: report.cursors_after[partition] for partition in shown}),
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
    context: dg.AssetExecutionContext, query: checks.Query, key: dg.AssetKey, report: StreamReport | None
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """The materialization and checks of one stream that ran without error (report None: checks only)."""
    source, stream = STREAMS[key]
    table_rows = {table: checks.live_rows(query, table, source.name) for table in stream.tables}
    previous = _previous_row_count(context.instance, key)
    if report is not None:
        yield _materialization(report, table_rows, key)
    yield from checks.evaluate(
        query,
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


def _log_outcome(context: dg.AssetExecutionContext, report: StreamReport) -> None:
    outcome = "ok" if report.ok else "FAILED: " + "; ".join(report.errors)
    context.log.info(
        f"{report.stream}: {report.records} records in {report.pages} pages, {report.requests} requests "
        f"{report.requests_by_kind}, {report.duration_s:.1f}s, {outcome}"
    )


def _extract(
    context: dg.AssetExecutionContext,
    config: PipelineConfig,
    warehouse: Warehouse,
    streams: list[str],
    full_refresh: bool,
    page_progress: PageCommitted,
) -> Generator[dg.MaterializeResult | dg.AssetCheckResult, None, list[StreamReport]]:
    """Extract `streams`, recording each one's materialization and checks as soon as it is over."""
    context.log.info(f"extracting {', '.join(streams)} ({'full refresh' if full_refresh else 'incremental'})")
    warehouse.start_run(context.run.run_id)
    reports: list[StreamReport] = []
    try:
        extraction = extract_stream_by_stream(
            config,
            warehouse,
            run_id=context.run.run_id,
            streams=streams,
            full_refresh=full_refresh,
            progress=page_progress,
        )
        with closing(extraction):
            for report in extraction:
                reports.append(report)
                _log_outcome(context, report)
                if report.ok:
                    yield from _stream_results(
                        context, warehouse.query_while_loading, stream_key(report.stream), report
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
        "succeeded" if all(r.ok and not r.failed_partitions for r in reports) else "failed",
        {r.stream: {"records": r.records, "errors": r.errors} for r in reports},
    )
    return reports


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
    page_progress: dg.ResourceParam[PageCommitted],
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
    reports: list[StreamReport] = []
    with warehouse.open() as store:
        if streams:
            reports = yield from _extract(
                context, pipeline, store, streams, config.full_refresh, page_progress
            )
        extracted = {stream_key(report.stream) for report in reports}
        for key in configured:  # asked for their checks only
            if key not in extracted:
                yield from _stream_results(context, store.query, key, None)
    if any(not report.ok or report.failed_partitions for report in reports):
        raise _failure(reports)
