"""The extraction engine: every selected stream, all sources at once, into one warehouse writer.

Sources run concurrently; inside a source, streams run in dependency order (discovery first) and
each stream's partitions (knowledge bases, organizations) run a few at a time under the source's
rate limit. Each page is normalized by its stream as it arrives; every warehouse call (validate,
land, merge, cursor) goes through one writer thread, so DuckDB sees a single writer. Fetching runs ahead of committing by a few pages per partition,
and the writer commits whatever pages are waiting in one transaction, so the fixed cost of a
transaction is shared by many small pages. A failing source or stream is reported and the
others go on. A run stopped (`kb_pipeline.stopping`, or Dagster interrupting its step) drops the
pages not yet committed and raises once the writer is idle: the last committed page stands.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import orjson

from kb_pipeline import stopping
from kb_pipeline.config import PipelineConfig
from kb_pipeline.http.client import VendorClient, create_http_client
from kb_pipeline.http.errors import ApiError, AuthError, NotFoundError
from kb_pipeline.pages import NormalizedPage, Page
from kb_pipeline.sources import SOURCES, Source, Stream, select_streams
from kb_pipeline.sources.base import StreamContext
from kb_pipeline.warehouse import Warehouse
from kb_pipeline.warehouse.known import KnownSnapshot

log = logging.getLogger(__name__)
T = TypeVar("T")

Progress = Callable[[Page], None]
StreamDone = Callable[["StreamReport"], None]

PAGES_AHEAD = 16
"""Pages a partition may fetch before the oldest of them is committed."""
WINDOW_PAGES = 32
WINDOW_BYTES = 8 * 2**20
"""Pages asked for and not yet committed, over every stream and partition: at most this many, of at
most this many bytes of records (as JSON), so memory is bounded by the window, not the tenant.
32 pages held 7 to 10 MiB less than 64 at no cost in time; 16 cost a fifth more time (BENCHMARKS.md,
"Memory of a whole run")."""
BATCH_PAGES = 32
BATCH_BYTES = 2**20
"""Most pages, and most bytes of records, the writer commits in one transaction. 1 MiB rather than
2 took about 14 MiB off a 400,000-document run's peak in the same time (BENCHMARKS.md, "Arrow's
own pool, and smaller commits")."""


def page_bytes(page: Page) -> int:
    """The size of a page's records as JSON: what the window and the writer's batch count."""
    return len(orjson.dumps(page.records))


class Window:
    """Pages fetched, or being fetched, and not yet committed: a page takes its place before its
    request goes out (`enter`, fewer than `pages` at once), and its bytes once it has come (`fill`,
    at most `size` of them, though a page always fits into a window holding no bytes). A partition
    waiting for room thus holds no page, however many partitions a large tenant runs at once."""

    def __init__(self, pages: int, size: int) -> None:
        self.pages, self.size = pages, size
        self.held_pages = self.held_bytes = 0
        self._changed = asyncio.Event()

    async def _until(self, admitted: Callable[[], bool]) -> None:
        while not admitted():
            self._changed.clear()
            await self._changed.wait()

    async def enter(self) -> None:
        await self._until(lambda: self.held_pages < self.pages)
        self.held_pages += 1

    async def fill(self, size: int) -> None:
        await self._until(lambda: not self.held_bytes or self.held_bytes + size <= self.size)
        self.held_bytes += size

    def leave(self, size: int = 0) -> None:
        """A page committed, dropped or never fetched, with the bytes it had filled."""
        self.held_pages -= 1
        self.held_bytes -= size
        self._changed.set()


@dataclass
class _Pending:
    normalized: NormalizedPage
    report: StreamReport
    done: asyncio.Future[None]
    size: int

    @property
    def key(self) -> tuple[str, str]:
        return self.normalized.page.stream, self.normalized.page.partition


@dataclass
class StreamReport:
    """What one stream did in one run: the figures the Dagster UI and the CLI show."""

    stream: str
    source: str
    partitions: int = 0
    pages: int = 0
    records: int = 0
    requests: int = 0
    requests_by_kind: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    throttled: int = 0
    rows: dict[str, Counter[str]] = field(default_factory=dict)
    cursors_before: dict[str, Any] = field(default_factory=dict)
    cursors_after: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    failed_partitions: dict[str, str] = field(default_factory=dict)
    """Partitions the vendor does not know (an unknown knowledge base id): only they failed."""
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    def add_rows(self, stats: dict[str, dict[str, int]]) -> None:
        for table, counts in stats.items():
            self.rows.setdefault(table, Counter()).update(counts)


@dataclass
class RunReport:
    run_id: str
    streams: list[StreamReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(report.ok for report in self.streams)


class Engine:
    """One run of the selected streams against one open warehouse."""

    def __init__(
        self,
        config: PipelineConfig,
        warehouse: Warehouse,
        *,
        run_id: str,
        full_refresh: bool = False,
        progress: Progress | None = None,
        stream_done: StreamDone | None = None,
    ) -> None:
        self.config = config
        self.warehouse = warehouse
        self.run_id = run_id
        self.full_refresh = full_refresh
        self.progress = progress
        self.stream_done = stream_done
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse-writer")
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._window = Window(WINDOW_PAGES, WINDOW_BYTES)
        self._carried: _Pending | None = None
        self._stopped: set[tuple[str, str]] = set()

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    async def run(self, selection: dict[str, list[Stream]]) -> RunReport:
        report = RunReport(self.run_id)
        enabled = self.config.sources.enabled()
        committer = asyncio.create_task(self._commit_loop())
        try:
            async with create_http_client() as http:
                jobs = [
                    self._run_source(SOURCES[name], enabled[name], streams, http, report)
                    for name, streams in selection.items()
                    if name in enabled
                ]
                await asyncio.gather(*jobs)
        finally:
            committer.cancel()
            # a commit under way finishes (or not) as one transaction; queued calls are dropped
            self._writer.shutdown(wait=True, cancel_futures=True)
        return report

    async def _next_batch(self) -> list[_Pending]:
        """The waiting pages, in queue order, up to BATCH_PAGES and BATCH_BYTES (at least one)."""
        first = self._carried or await self._queue.get()
        self._carried = None
        batch, size = [first], first.size
        while len(batch) < BATCH_PAGES and not self._queue.empty():
            pending = self._queue.get_nowait()
            if size + pending.size > BATCH_BYTES:
                self._carried = pending
                break
            batch.append(pending)
            size += pending.size
        return batch

    async def _commit_loop(self) -> None:
        """Commit waiting pages in batches, in the order they were queued."""
        while True:
            batch = await self._next_batch()
            batch = [p for p in batch if not p.done.cancelled() and not self._skip_after_failure(p)]
            if not batch:
                continue
            try:
                await self._write(self._commit, batch)
            except Exception:
                # find the page at fault: commit one by one, so only its partition stops
                for pending in batch:
                    if self._skip_after_failure(pending):
                        continue
                    try:
                        await self._write(self._commit, [pending])
                    except Exception as error:
                        self._stopped.add(pending.key)
                        if not pending.done.done():
                            pending.done.set_exception(error)
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_result(None)

    def _skip_after_failure(self, pending: _Pending) -> bool:
        """A page after a failed one must not commit: its cursor would skip the failed page."""
        if pending.key not in self._stopped:
            return False
        if not pending.done.done():
            pending.done.set_exception(
                RuntimeError(f"{pending.key[0]} {pending.key[1]}: an earlier page failed")
            )
        return True

    def _commit(self, batch: list[_Pending]) -> None:
        stats = self.warehouse.load_pages([pending.normalized for pending in batch])
        for pending, page_stats in zip(batch, stats, strict=True):
            report, page = pending.report, pending.normalized.page
            report.pages += 1
            report.records += len(page.records)
            report.add_rows(page_stats.by_table())
            report.cursors_after[page.partition] = page.cursor
            if self.progress:
                self.progress(page)

    async def _run_source(
        self, source: Source, settings: Any, streams: list[Stream], http: httpx.AsyncClient, report: RunReport
    ) -> None:
        """The source's streams at once, each after the streams it names in `after`.

        They share the source's client and so its rate limit: together they send no faster, but a
        stream waiting on the writer or on its own bookkeeping leaves the limit to the others (VikingDB
        polls its tasks while its collections are listed, not after).
        """
        client = source.client_factory(settings, http)
        ended = {stream.name: asyncio.Event() for stream in streams}
        failed: set[str] = set()

        async def run(stream: Stream, stream_report: StreamReport) -> None:
            try:
                for name in stream.after:
                    if name in ended:
                        await ended[name].wait()
                if blocked := [name for name in stream.after if name in failed]:
                    stream_report.errors.append(f"skipped: {', '.join(blocked)} failed first")
                    failed.add(stream.name)
                    self._done(stream_report)
                    return
                started = time.monotonic()
                await self._run_stream(source, stream, settings, client, stream_report)
                used = client.stream_stats(stream.name)
                stream_report.requests, stream_report.retries = used.requests, used.retries
                stream_report.requests_by_kind = dict(used.by_kind)
                stream_report.throttled = used.throttled
                stream_report.duration_s = time.monotonic() - started
                if not stream_report.ok:
                    failed.add(stream.name)
                    log.info("%s failed: %s", stream.name, "; ".join(stream_report.errors))
                self._done(stream_report)
            finally:
                ended[stream.name].set()

        reports = [StreamReport(stream=stream.name, source=source.name) for stream in streams]
        report.streams.extend(reports)
        await asyncio.gather(
            *(run(stream, stream_report) for stream, stream_report in zip(streams, reports, strict=True))
        )

    def _done(self, report: StreamReport) -> None:
        if self.stream_done:
            self.stream_done(report)

    async def _run_stream(
        self, source: Source, stream: Stream, settings: Any, client: VendorClient, report: StreamReport
    ) -> None:
        known = await self._write(KnownSnapshot.read, self.warehouse, source.name)
        partitions = stream.partitions(settings, known)
        # read at once: a stream of thousands of partitions (Lingma's files, per knowledge base) would
        # otherwise queue one query per partition behind the writer's commits
        cursors = await self._write(self.warehouse.get_cursors, stream.name)
        report.partitions = len(partitions)
        refused = asyncio.Event()

        async def one(partition: str) -> None:
            cursor = cursors.get(partition)
            report.cursors_before[partition] = cursor
            ctx = StreamContext(
                source=source.name,
                stream=stream.name,
                client=client,
                settings=settings,
                cursor=cursor,
                full_refresh=self.full_refresh,
                run_id=self.run_id,
                known=known,
            )
            try:
                await self._drain(stream, ctx, partition, report)
            except AuthError as error:
                if not refused.is_set():  # one line for the source, not one per partition
                    refused.set()
                    report.errors.append(_refused(error, source, settings))
            except NotFoundError as error:
                report.failed_partitions[partition] = (
                    f"{error}; check this id under sources.{source.name} in the configuration"
                )
            except ApiError as error:
                report.errors.append(str(error))
            except Exception as error:  # a bug or a warehouse failure: this stream stops, others go on
                log.info("%s %s failed", stream.name, partition or "", exc_info=True)
                report.errors.append(f"{stream.name} {partition}: {type(error).__name__}: {error}")

        # a few workers take the partitions in turn: a task per partition would hold thousands of
        # waiting coroutines (Lingma's files: one per knowledge base) for the stream's whole life
        waiting = iter(partitions)

        async def worker() -> None:
            for partition in waiting:
                if refused.is_set():
                    return
                await one(partition)

        await asyncio.gather(*(worker() for _ in range(min(self.config.concurrency, len(partitions)))))

    async def _drain(self, stream: Stream, ctx: StreamContext, partition: str, report: StreamReport) -> None:
        """Queue each page for the writer, at most PAGES_AHEAD uncommitted; a failed commit stops here."""
        in_flight: deque[asyncio.Future[None]] = deque()
        loop = asyncio.get_running_loop()
        pages = aiter(stream.extract(ctx, partition))
        try:
            while True:
                while len(in_flight) >= PAGES_AHEAD:
                    await in_flight.popleft()
                if (admitted := await self._next_page(stream, pages)) is None:
                    break
                normalized, size = admitted
                done = loop.create_future()
                done.add_done_callback(lambda _, size=size: self._window.leave(size))
                in_flight.append(done)
                self._queue.put_nowait(_Pending(normalized, report, done, size))
        except asyncio.CancelledError:
            for done in in_flight:  # the run is stopping: pages not yet committed are dropped
                done.cancel()
            raise
        finally:
            # the first failure is raised; later pages of this partition were queued after it
            results = await asyncio.gather(*in_flight, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _next_page(
        self, stream: Stream, pages: AsyncIterator[Page]
    ) -> tuple[NormalizedPage, int] | None:
        """The partition's next page, normalized, and its size, fetched once the window has room for
        it (None when the partition has no more)."""
        await self._window.enter()
        try:
            if (page := await anext(pages, None)) is not None:
                size = page_bytes(page)
                normalized = NormalizedPage(page, stream.normalize(page))
                await self._window.fill(size)
                return normalized, size
        except BaseException:
            self._window.leave()
            raise
        self._window.leave()
        return None


def _refused(error: AuthError, source: Source, settings: Any) -> str:
    """The vendor's refusal, and where its credentials come from (never their values)."""
    variables = " and ".join(settings.credential_variables) or "its credentials"
    return f"{error}. Credentials refused: check {variables} (sources.{source.name}.credentials)"


def extract(
    config: PipelineConfig,
    warehouse: Warehouse,
    *,
    run_id: str,
    sources: Iterable[str] | None = None,
    streams: Iterable[str] | None = None,
    full_refresh: bool = False,
    progress: Progress | None = None,
) -> RunReport:
    """Run the selected streams into an open warehouse and report what each did."""
    selection = select_streams(sources, streams)
    engine = Engine(config, warehouse, run_id=run_id, full_refresh=full_refresh, progress=progress)
    return asyncio.run(_until_stopped(lambda: engine.run(selection)))


@dataclass(frozen=True, slots=True)
class _Raised:
    error: BaseException


class _Cancel:
    """Cancels the engine's task from another thread, even if asked before the task has started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requested = False
        self._cancel: Callable[[], object] | None = None

    def bind(self) -> None:
        """Called from inside the task: from now on a request cancels it."""
        task, loop = asyncio.current_task(), asyncio.get_running_loop()
        assert task is not None
        with self._lock:
            self._cancel = lambda: loop.call_soon_threadsafe(task.cancel)
            if self._requested:
                self._cancel()

    def __call__(self) -> None:
        with self._lock:
            self._requested = True
            if self._cancel is not None:
                self._cancel()


POLL_S = 0.2
"""How often the caller of `extract_stream_by_stream` wakes, so interrupts reach it while it waits."""


def extract_stream_by_stream(
    config: PipelineConfig,
    warehouse: Warehouse,
    *,
    run_id: str,
    streams: Iterable[str] | None = None,
    full_refresh: bool = False,
    progress: Progress | None = None,
) -> Generator[StreamReport, None, None]:
    """`extract` in a thread of its own, yielding each stream's report as soon as the stream is over.

    So the caller records a fast stream (its materialization, its checks) while slow ones still
    wait on their vendors' rate limits, instead of after the slowest. The warehouse's own
    connection belongs to the engine meanwhile: read through a cursor of its own. If the caller
    is interrupted while it waits, or closes the generator, the extraction is cancelled and
    awaited: the last committed page stands, as with a stop request.
    """
    finished: queue.SimpleQueue[StreamReport | RunReport | _Raised] = queue.SimpleQueue()
    cancel = _Cancel()

    async def run(selection: dict[str, list[Stream]]) -> RunReport:
        cancel.bind()
        engine = Engine(
            config,
            warehouse,
            run_id=run_id,
            full_refresh=full_refresh,
            progress=progress,
            stream_done=finished.put,
        )
        return await engine.run(selection)

    def work() -> None:
        try:
            selection = select_streams(None, streams)
            finished.put(asyncio.run(_until_stopped(lambda: run(selection))))
        except BaseException as error:
            finished.put(_Raised(error))

    worker = threading.Thread(target=work, name="extraction", daemon=True)
    worker.start()
    try:
        while True:
            try:
                item = finished.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if isinstance(item, StreamReport):
                yield item
            elif isinstance(item, _Raised):
                raise item.error
            else:
                return
    finally:
        if worker.is_alive():
            cancel()
            worker.join()


async def _until_stopped(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Await `work()`, cancelled as soon as a stop is requested; then raise `stopping.Interrupted`."""
    task, loop = asyncio.current_task(), asyncio.get_running_loop()
    assert task is not None
    with stopping.on_stop(lambda: loop.call_soon_threadsafe(task.cancel)):
        try:
            return await work()
        except asyncio.CancelledError:
            if (signum := stopping.requested()) is None:
                raise
            raise stopping.Interrupted(signum) from None
