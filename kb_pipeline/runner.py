"""Materialize the asset graph without the UI, for `kb-pipeline run` (cron) and `kb-pipeline demo`.

The same assets, checks and resources as `kb_pipeline.defs`, executed in this process: first the
streams of the chosen sources, then the marts, feeds and report (built even when a vendor failed,
from everything else, as the UI's automation does). With DAGSTER_HOME set, the runs are recorded in
that instance (the UI shows them, the `kb_warehouse` pool applies, and the row-count check compares
with earlier runs); without it an in-memory instance is used.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from rich.console import Console
from rich.status import Status
from rich.table import Table

from kb_pipeline.config import CONFIG_ENV_VAR, load_config
from kb_pipeline.defs import ASSETS, RESOURCES
from kb_pipeline.defs.extraction import EXTRACTION_OP, REQUEST_KINDS, ExtractionConfig, progress_log
from kb_pipeline.defs.publishing import PUBLISHED_KEYS, REPORT_KEY
from kb_pipeline.defs.streams import STREAMS, source_stream_keys
from kb_pipeline.pages import Page
from kb_pipeline.sources import SOURCES

MAIN_TABLE_ROW_KINDS = ("inserted", "updated", "deleted")
QUIET_LOGGERS = {"console": {"config": {"log_level": "CRITICAL"}}}
"""Dagster's own event lines stay out of the terminal; this module prints what matters."""


class _PageTally(logging.Handler):
    """Turns the extraction's per-page records into status lines: pages and records per stream so far."""

    def __init__(self, status: Status) -> None:
        super().__init__(logging.DEBUG)
        self.status = status
        self.pages: dict[str, int] = defaultdict(int)
        self.records: dict[str, int] = defaultdict(int)

    def emit(self, record: logging.LogRecord) -> None:
        page: Page | None = getattr(record, "page", None)
        if page is None:
            return
        self.pages[page.stream] += 1
        self.records[page.stream] += len(page.records)
        lines = [
            f"  {s:<24} {self.pages[s]:>6,} pages {self.records[s]:>9,} records" for s in sorted(self.pages)
        ]
        self.status.update("\n".join(["extracting …", *lines]))


@contextmanager
def _page_progress(status: Status) -> Iterator[None]:
    handler, level, propagate = _PageTally(status), progress_log.level, progress_log.propagate
    progress_log.addHandler(handler)
    progress_log.setLevel(logging.DEBUG)
    progress_log.propagate = False  # shown on the status line, not as log lines
    try:
        yield
    finally:
        progress_log.removeHandler(handler)
        progress_log.setLevel(level)
        progress_log.propagate = propagate


def _instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


def _failures(result: dg.ExecuteInProcessResult) -> list[str]:
    """Each failed step's message: the description a step gave (`dg.Failure`), else the whole error."""
    messages = []
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            messages.append(data.user_failure_data.description)
        elif data.error is not None:
            messages.append(data.error.to_string())
    return messages


def _figures(metadata: Mapping[str, dg.MetadataValue], tables: tuple[str, ...]) -> list[str]:
    """Fetch figures, then what happened to the stream's main table; quarantine counts every table."""

    def number(entry: str) -> float:
        return metadata[entry].value if entry in metadata else 0

    def rows(kind: str, over: Iterable[str]) -> str:
        return f"{sum(number(f'{table}.{kind}') for table in over):,}"

    fetched = ("records", "pages", "requests", *(f"requests.{kind}" for kind in REQUEST_KINDS))
    counts = [f"{number(entry):,}" for entry in fetched]
    changes = [rows(kind, tables[:1]) for kind in MAIN_TABLE_ROW_KINDS]
    return [*counts, *changes, rows("quarantined", tables)]


def _stream_table(result: dg.ExecuteInProcessResult, wanted: list[dg.AssetKey]) -> Table:
    """One line per stream: what it fetched and what became of its rows."""
    table = Table(header_style="bold", box=None, padding=(0, 1, 0, 0))
    table.add_column("stream", no_wrap=True)
    headers = ("records", "pages", "requests", *REQUEST_KINDS, "new", "changed", "deleted", "quarantined")
    for header in headers:
        table.add_column(header, justify="right", min_width=len(header))
    loaded = {
        event.asset_key: event.materialization.metadata for event in result.get_asset_materialization_events()
    }
    for key in wanted:
        stream = STREAMS[key][1]
        metadata = loaded.get(key)
        figures = (
            _figures(metadata, stream.tables)
            if metadata is not None
            else ["[red]failed[/]", *[""] * (len(headers) - 1)]
        )
        table.add_row(stream.name, *figures)
    return table


def _check_outcomes(results: Iterable[dg.ExecuteInProcessResult]) -> tuple[int, list[str], list[str]]:
    """How many checks passed, and the names of those that warn and those that fail."""
    passed, warnings, errors = 0, [], []
    for result in results:
        for evaluation in result.get_asset_check_evaluations():
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            if evaluation.passed:
                passed += 1
            elif evaluation.severity == dg.AssetCheckSeverity.WARN:
                warnings.append(name)
            else:
                errors.append(name)
    return passed, warnings, errors


def _report_path(result: dg.ExecuteInProcessResult) -> str | None:
    for event in result.get_asset_materialization_events():
        if event.asset_key == REPORT_KEY:
            return event.materialization.metadata["path"].value
    return None


def _streams_to_run(configured: Mapping[str, object], sources: Iterable[str] | None) -> list[dg.AssetKey]:
    """The stream assets to extract; ValueError for a source unknown or not enabled in the config."""
    names = list(sources) if sources else [s.name for s in SOURCES.values() if s.config_key in configured]
    keys = source_stream_keys(names)
    if missing := [name for name in names if SOURCES[name].config_key not in configured]:
        raise ValueError(f"source(s) {', '.join(missing)} not enabled in the configuration")
    if not keys:
        raise ValueError("the configuration enables no source")
    return keys


def _materialize(
    instance: dg.DagsterInstance, selection: list[dg.AssetKey], run_config: dg.RunConfig
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ASSETS,
        selection=selection,
        run_config=run_config,
        instance=instance,
        resources=RESOURCES,
        raise_on_error=False,
    )


def materialize_all(
    config_file: Path,
    *,
    full_refresh: bool = False,
    sources: Iterable[str] | None = None,
    console: Console | None = None,
) -> bool:
    """Extract the sources' streams (all configured ones by default), then build marts, feeds and report.

    Sets KB_PIPELINE_CONFIG to `config_file` for this process. Returns True when every step and
    every ERROR-severity check succeeded (a WARN check, such as quarantined records, is printed but
    does not fail the run); prints per-stream figures and what failed to `console`.
    """
    console = console or Console(stderr=True)
    os.environ[CONFIG_ENV_VAR] = str(Path(config_file).resolve())
    try:
        wanted = _streams_to_run(load_config(config_file).sources.enabled(), sources)
    except ValueError as error:
        console.print(f"[bold red]error:[/] {error}", highlight=False)
        return False
    extraction_config = dg.RunConfig(
        ops={EXTRACTION_OP: ExtractionConfig(full_refresh=full_refresh)}, loggers=QUIET_LOGGERS
    )
    with _instance() as instance:
        with console.status("extracting …") as status, _page_progress(status):
            extraction = _materialize(instance, wanted, extraction_config)
        console.print(_stream_table(extraction, wanted))
        with console.status("building marts, Parquet feeds and the report …"):
            publishing = _materialize(instance, PUBLISHED_KEYS, dg.RunConfig(loggers=QUIET_LOGGERS))
    for message in _failures(extraction) + _failures(publishing):
        console.print(f"[bold red]failed:[/] {message}", highlight=False)
    passed, warnings, errors = _check_outcomes([extraction, publishing])
    console.print(f"checks: {passed} passed", highlight=False)
    for label, names in (("[yellow]warn[/]", warnings), ("[bold red]fail[/]", errors)):
        if names:
            console.print(f"checks that {label}: {', '.join(names)}", highlight=False)
    if report := _report_path(publishing):
        console.print(f"report: [bold]{report}[/]")
    return extraction.success and publishing.success and not errors
