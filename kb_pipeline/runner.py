"""Materialize the asset graph without the UI, for `kb-pipeline run` (cron) and `kb-pipeline demo`.

The same assets, checks and resources as `kb_pipeline.defs`, executed in this process: first the
streams of the chosen sources, then the marts, feeds and report (built even when a vendor failed,
from everything else, as the UI's automation does). The runs are recorded in the shared instance
(`kb_pipeline.instance`): the UI shows them, the `kb_warehouse` pool applies, and the row-count
check compares with earlier runs. A stop request (`kb_pipeline.stopping`) ends the extraction at
its last committed page and publishes nothing.
"""

from __future__ import annotations

import enum
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path

import dagster as dg
from dagster._utils.error import SerializableErrorInfo
from rich.console import Console
from rich.status import Status
from rich.table import Table

from kb_pipeline import stopping
from kb_pipeline.config import CONFIG_ENV_VAR, load_config
from kb_pipeline.defs import ASSETS, settings
from kb_pipeline.defs.extraction import (
    EXTRACTION_OP,
    REQUEST_KINDS,
    ExtractionConfig,
    PageCommitted,
    ignore_pages,
)
from kb_pipeline.defs.publishing import PUBLISHED_KEYS, REPORT_KEY
from kb_pipeline.defs.resources import WarehouseResource
from kb_pipeline.defs.streams import STREAMS, WAREHOUSE_POOL, stream_key
from kb_pipeline.event_log_commits import cheap_commits
from kb_pipeline.instance import open_instance, owner_tags, reclaim_abandoned_runs, use_shared_instance
from kb_pipeline.pages import Page
from kb_pipeline.query_output import print_table
from kb_pipeline.sources import SOURCES, select_streams

MAIN_TABLE_ROW_KINDS = ("inserted", "updated", "deleted")
QUIET_LOGGERS = {"console": {"config": {"log_level": "CRITICAL"}}}
"""Dagster's own event lines stay out of the terminal; this module prints what matters."""
PROGRESS_EVERY_S = 10.0
"""Off a terminal (cron, CI, a pipe), a progress line per stream at least this often."""
POLL_S = 0.5


class Outcome(enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class _PageTally:
    """Counts committed pages and records per stream: the extraction's `page_progress`."""

    def __init__(self, streams: list[str]) -> None:
        self.pages: dict[str, int] = dict.fromkeys(streams, 0)
        self.records: dict[str, int] = defaultdict(int)

    def committed(self, page: Page) -> None:
        self.pages[page.stream] = self.pages.get(page.stream, 0) + 1
        self.records[page.stream] += len(page.records)

    def lines(self) -> list[str]:
        return [f"{s:<24} {n:>6,} pages {self.records[s]:>9,} records" for s, n in self.pages.items()]


@contextmanager
def _page_progress(console: Console, streams: list[str]) -> Iterator[PageCommitted]:
    """Progress while extracting: a live status on a terminal, else lines every PROGRESS_EVERY_S,
    from the pages reported to the callback this yields."""
    tally = _PageTally(streams)
    finished = threading.Event()

    def show(status: Status | None) -> None:
        started = time.monotonic()
        while not finished.wait(0.25 if status else PROGRESS_EVERY_S):
            if status is not None:
                status.update("\n".join(["extracting …", *(f"  {line}" for line in tally.lines())]))
                continue
            for line in tally.lines():
                elapsed = time.monotonic() - started
                console.print(f"extracting ({elapsed:.0f} s): {line}", highlight=False, soft_wrap=True)

    with console.status("extracting …") if console.is_terminal else nullcontext() as status:
        reporter = threading.Thread(target=show, args=(status,), name="progress", daemon=True)
        reporter.start()
        try:
            yield tally.committed
        finally:
            finished.set()
            reporter.join()


def _instance() -> dg.DagsterInstance:
    instance = open_instance(use_shared_instance())
    reclaim_abandoned_runs(instance)
    return instance


def _wait_for_pool(instance: dg.DagsterInstance, timeout_s: float, console: Console) -> bool:
    """Wait while another run holds the `kb_warehouse` pool, saying so once; False after `timeout_s`."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return True
    deadline, said = time.monotonic() + timeout_s, False
    while holders := storage.get_concurrency_info(WAREHOUSE_POOL).active_run_ids:
        if time.monotonic() >= deadline:
            return False
        if not said:
            console.print(
                f"waiting up to {timeout_s:g} s for run {', '.join(sorted(holders))} to release pool "
                f"{WAREHOUSE_POOL} (one writer at a time) …",
                highlight=False,
                soft_wrap=True,
            )
            said = True
        stopping.check()
        time.sleep(POLL_S)
    return True


def _one_line(error: SerializableErrorInfo) -> str:
    """A step's own error under Dagster's wrappers, as `Type: message` on one line."""
    while error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    return " ".join(error.message.split())


def _failures(result: dg.ExecuteInProcessResult, *, verbose: bool) -> list[str]:
    """Each failed step's message: the description a step gave (`dg.Failure`), else its error on one
    line (the whole trace with `verbose`)."""
    messages = []
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            messages.append(data.user_failure_data.description)
        elif data.error is not None:
            messages.append(
                data.error.to_string() if verbose else f"{event.step_key}: {_one_line(data.error)}"
            )
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
    names = list(sources) if sources else [name for name in SOURCES if name in configured]
    keys = [stream_key(s.name) for streams in select_streams(names).values() for s in streams]
    if missing := [name for name in names if name not in configured]:
        raise ValueError(f"source(s) {', '.join(missing)} not enabled in the configuration")
    if not keys:
        raise ValueError("the configuration enables no source")
    return keys


def _materialize(
    instance: dg.DagsterInstance,
    selection: list[dg.AssetKey],
    run_config: dg.RunConfig,
    lock_timeout_s: float,
    page_progress: PageCommitted = ignore_pages,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ASSETS,
        selection=selection,
        run_config=run_config,
        instance=instance,
        resources={
            "settings": settings,
            "warehouse": WarehouseResource(settings=settings, lock_timeout_s=lock_timeout_s),
            "page_progress": page_progress,
        },
        tags=owner_tags(),
        raise_on_error=False,
    )


def streams_to_run(config_file: Path, sources: Iterable[str] | None) -> list[dg.AssetKey]:
    """The stream assets a run extracts; ValueError for an unknown source, one the config does not
    enable, or a config that enables none (ConfigError for a config that cannot be read)."""
    return _streams_to_run(load_config(config_file).sources.enabled(), sources)


def materialize_all(
    config_file: Path,
    *,
    full_refresh: bool = False,
    sources: Iterable[str] | None = None,
    console: Console | None = None,
    lock_timeout_s: float = 60.0,
    verbose: bool = False,
) -> Outcome:
    """Extract the sources' streams (all configured ones by default), then build marts, feeds and report.

    Sets KB_PIPELINE_CONFIG to `config_file` for this process; raises what `streams_to_run` raises
    before anything runs. SUCCEEDED when every step and every ERROR-severity check succeeded (a WARN
    check, such as quarantined records, is printed but does not fail the run); INTERRUPTED when a
    stop was requested, and then nothing more is published. Prints per-stream figures and a line
    per failure to `console`.
    """
    console = console or Console(stderr=True)
    stopping.check()
    wanted = streams_to_run(config_file, sources)
    os.environ[CONFIG_ENV_VAR] = str(Path(config_file).resolve())
    extraction_config = dg.RunConfig(
        ops={EXTRACTION_OP: ExtractionConfig(full_refresh=full_refresh)}, loggers=QUIET_LOGGERS
    )
    with cheap_commits(), _instance() as instance:
        if not _wait_for_pool(instance, lock_timeout_s, console):
            console.print(
                f"[bold red]failed:[/] another run still holds pool {WAREHOUSE_POOL} after "
                f"{lock_timeout_s:g} s: let it finish (or stop it) and retry, or raise --lock-timeout",
                highlight=False,
            )
            return Outcome.FAILED
        with _page_progress(console, [STREAMS[key][1].name for key in wanted]) as page_progress:
            extraction = _materialize(instance, wanted, extraction_config, lock_timeout_s, page_progress)
        if stopping.requested() is not None:
            return Outcome.INTERRUPTED
        print_table(console, _stream_table(extraction, wanted))
        results = [extraction]
        if extraction.get_asset_materialization_events():  # else there is nothing new to publish
            with console.status("building marts, Parquet feeds and the report …"):
                results.append(
                    _materialize(
                        instance, PUBLISHED_KEYS, dg.RunConfig(loggers=QUIET_LOGGERS), lock_timeout_s
                    )
                )
        if stopping.requested() is not None:
            return Outcome.INTERRUPTED
    for message in [message for result in results for message in _failures(result, verbose=verbose)]:
        for line in message.splitlines() if not verbose else [message]:
            console.print(f"[bold red]failed:[/] {line}", highlight=False, soft_wrap=True)
    passed, warnings, errors = _check_outcomes(results)
    console.print(f"checks: {passed} passed", highlight=False)
    for label, names in (("[yellow]warn[/]", warnings), ("[bold red]fail[/]", errors)):
        if names:
            console.print(f"checks that {label}: {', '.join(names)}", highlight=False)
    if report := _report_path(results[-1]):
        console.print(f"report: [bold]{report}[/]")
    ok = len(results) == 2 and all(result.success for result in results) and not errors
    return Outcome.SUCCEEDED if ok else Outcome.FAILED
