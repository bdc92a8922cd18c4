"""The incremental strategies of the streams (README, "What a scheduled run costs"), written once
for every vendor.

A vendor declares each endpoint as a `Listing` (data) and picks a strategy; the strategy walks
the listing with the generic paginator, decides what cursor to checkpoint after each page, and
yields `Page`s. Every cursor is saved with its page's rows, so a killed run resumes exactly
after the last committed page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from kb_pipeline.http.client import JsonResponse, RequestKind
from kb_pipeline.http.errors import ApiError, NotFoundError, PaginationError
from kb_pipeline.http.paginators import ApiPage, Cursor, Paginator, RequestSpec, paginate
from kb_pipeline.http.paths import expand_path
from kb_pipeline.normalize import redact_credentials, to_utc
from kb_pipeline.pages import Page, Record, RunningWindow, ScanEnd
from kb_pipeline.sources.base import Extract, KnownRecords, StreamContext
from kb_pipeline.sources.vanished import Inconsistent, bisection_pays, find_vanished

log = logging.getLogger(__name__)

MAX_RESCANS = 3
TASK_BATCH = 100
TASK_CONCURRENCY = 8
REREAD_CONCURRENCY = 8
"""Re-reads (or polls) in flight per partition; the client's rate limit still spaces them."""

RefreshPlan = Literal["scan", "reread"]


@dataclass(frozen=True, slots=True)
class Listing:
    """One vendor endpoint, declared as data: where it is, how it pages, where its records are.

    `path` may hold `{partition}` (a KB or organization id, encoded as one path segment);
    `params`/`json` build the query and JSON body for a partition from the source's settings.
    """

    endpoint: str
    method: str
    path: str
    paginator: Callable[[Any], Paginator]
    records: Callable[[Any], list[Any]]
    params: Callable[[Any, str], Mapping[str, Any]] | None = None
    json: Callable[[Any, str], Mapping[str, Any]] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def request(self, ctx: StreamContext, partition: str) -> RequestSpec:
        path = expand_path(self.path, partition=partition) if "{partition}" in self.path else self.path
        return RequestSpec(
            method=self.method,
            path=path,
            params=self.params(ctx.settings, partition) if self.params else None,
            json=self.json(ctx.settings, partition) if self.json is not None else None,
            endpoint=self.endpoint,
            stream=ctx.stream,
            headers=self.headers,
        )


def _now() -> datetime:
    return datetime.now(UTC)


def _sent(spec: RequestSpec) -> Record:
    """What a request asked for, kept with the raw page (no headers: they may hold credentials)."""
    return {
        "endpoint": spec.endpoint,
        "method": spec.method,
        "path": spec.path,
        "params": spec.params,
        "json": spec.json,
    }


def _page(
    ctx: StreamContext,
    partition: str,
    records: list[Record],
    request: Record,
    cursor: Cursor | None,
    scan_end: ScanEnd | None = None,
) -> Page:
    return Page(
        source=ctx.source,
        stream=ctx.stream,
        partition=partition,
        records=redact_credentials(records),
        fetched_at=_now(),
        request=request,
        cursor=cursor,
        scan_end=scan_end,
        run_id=ctx.run_id,
    )


def _scan_end(table: str, started_at: datetime, scope_column: str | None, partition: str) -> ScanEnd:
    scoped = scope_column is not None and partition != ""
    return ScanEnd(
        table=table,
        scan_started_at=started_at,
        partition_column=scope_column if scoped else None,
        partition=partition if scoped else None,
    )


def _pages(
    ctx: StreamContext, listing: Listing, partition: str, start: Cursor | None
) -> AsyncIterator[ApiPage]:
    return paginate(
        ctx.client,
        request=listing.request(ctx, partition),
        paginator=listing.paginator(ctx.settings),
        records=listing.records,
        start=start,
        max_pages=ctx.settings.max_pages,
    )


def _request_of(ctx: StreamContext, listing: Listing, partition: str, api_page: ApiPage) -> Record:
    return _sent(listing.paginator(ctx.settings).prepare(listing.request(ctx, partition), api_page.cursor))


def full_listing(
    listing: Listing, *, table: str | None, scope_column: str | None = None, rescan_on_shift: bool = False
) -> Extract:
    """Read the whole listing every run; at its end, rows of `table` it did not see are marked deleted
    (no table: a snapshot, nothing to mark).

    Cursor while a scan runs: `{"scan": {"next": <page cursor>, "started_at": iso}}`, so a killed
    scan resumes where it stopped and still marks deletions against its own start. With
    `rescan_on_shift`, a total that changes mid-scan (records shifted between pages) restarts the
    scan from the first page, up to MAX_RESCANS times.
    """

    async def extract(ctx: StreamContext, partition: str) -> AsyncIterator[Page]:
        scan = None if ctx.full_refresh else (ctx.cursor or {}).get("scan")
        started_at = to_utc(scan["started_at"]) if scan else _now()
        start = scan.get("next") if scan else None
        for _ in range(MAX_RESCANS + 1):
            shifted = False
            async for api_page in _pages(ctx, listing, partition, start):
                request = _request_of(ctx, listing, partition, api_page)
                if rescan_on_shift and api_page.total_changed and not api_page.done:
                    shifted = True
                    log.info("%s %s: total changed mid-scan, rescanning", ctx.stream, partition)
                    cursor = {"scan": {"next": None, "started_at": started_at.isoformat()}}
                    yield _page(ctx, partition, api_page.records, request, cursor)
                    break
                if api_page.done:
                    cursor = {"last_scan_started_at": started_at.isoformat()}
                    end = _scan_end(table, started_at, scope_column, partition) if table else None
                    yield _page(ctx, partition, api_page.records, request, cursor, end)
                else:
                    cursor = {"scan": {"next": api_page.next_cursor, "started_at": started_at.isoformat()}}
                    yield _page(ctx, partition, api_page.records, request, cursor)
            if not shifted:
                return
            start = None
        raise PaginationError(
            f"records kept shifting between pages after {MAX_RESCANS} rescans",
            source=ctx.source,
            stream=ctx.stream,
            endpoint=listing.endpoint,
        )

    return extract


ParentState = Callable[[KnownRecords, str, str], Any]
"""What a partition's parent says of it now, from the warehouse (known, source, partition): a
JSON-able value that moves whenever something under the partition may have changed; None = unknown."""


def when_parent_changed(extract: Extract, *, parent: ParentState) -> Extract:
    """Run `extract` on a partition only where its parent says something changed under it.

    The parent's state is kept in the cursor of every page; a later run that finds the same state
    after a finished listing sends no request at all. A full refresh, a first run, an unknown state
    and a listing killed half-way run `extract`; a killed listing whose parent changed since starts
    over, so what it read before the change is read again.
    """

    async def wrapped(ctx: StreamContext, partition: str) -> AsyncIterator[Page]:
        state = ctx.cursor or {}
        now = parent(ctx.known, ctx.source, partition)
        if state.get("scan") and state.get("parent") != now:
            ctx = replace(ctx, cursor=None)
        elif (
            not ctx.full_refresh and not state.get("scan") and now is not None and state.get("parent") == now
        ):
            return
        async for page in extract(ctx, partition):
            yield replace(page, cursor={**(page.cursor or {}), "parent": now})

    return wrapped


def recently_active_first(
    listing: Listing,
    *,
    id_field: str,
    active_field: str,
    by_activity: Mapping[str, str],
    by_creation: Mapping[str, str],
    table: str,
    scope_column: str,
    key_column: str,
) -> Extract:
    """Knowledge bases most recently active first, down to the last run's mark; those that vanished
    are found by bisecting the listing in creation order, or by a full listing where that is cheaper.

    Cursor: `{"active_mark": <newest activity seen>}`, plus a full listing's own while one runs.
    An incremental pass asks with `by_activity` and stops at the first page that reaches below
    the mark. If the listing's total then differs from the knowledge bases held live plus the
    new ones just seen, the vanished ones are looked for in the listing `by_creation`
    (`kb_pipeline.sources.vanished`) and marked deleted; a full listing does it when the pages
    contradict what is held. The first run, a full refresh and a killed full listing are full
    listings. A change that leaves the activity time alone (a rename) waits for the daily full
    refresh. The paginator must number its pages.
    """
    full = full_listing(listing, table=table, scope_column=scope_column, rescan_on_shift=True)
    active_first = replace(listing, params=lambda settings, partition: dict(by_activity))
    oldest_first = replace(listing, params=lambda settings, partition: dict(by_creation))

    def newest(records: list[Record], mark: datetime | None) -> datetime | None:
        times = [t for t in (to_utc(r.get(active_field)) for r in records) if t is not None]
        return max([*times, *([mark] if mark else [])], default=None)

    async def full_pass(ctx: StreamContext, partition: str, mark: datetime | None) -> AsyncIterator[Page]:
        async for page in full(ctx, partition):
            mark = newest(page.records, mark)
            yield replace(page, cursor={**(page.cursor or {}), "active_mark": mark and mark.isoformat()})

    async def vanished_pages(
        ctx: StreamContext, partition: str, held: list[str], vanished: int, total: int, cursor: Record
    ) -> list[Page]:
        """Pages read while bisecting, then one empty page per vanished record that marks it deleted."""
        paginator = listing.paginator(ctx.settings)
        read: list[Page] = []

        async def fetch(number: int) -> list[str]:
            spec = paginator.prepare(oldest_first.request(ctx, partition), {paginator.page_param: number})
            response = await _call(ctx, spec, {}, kind="listing")
            records = listing.records(response.body)
            read.append(_page(ctx, partition, records, _sent(spec), cursor))
            return [record[id_field] for record in records]

        gone = await find_vanished(held, vanished, total, paginator.page_size, fetch)
        ended = _now()
        request = {**_sent(oldest_first.request(ctx, partition)), "vanished": gone}
        return read + [
            _page(ctx, partition, [], request, cursor, ScanEnd(table, ended, key_column, record_id))
            for record_id in gone
        ]

    async def extract(ctx: StreamContext, partition: str) -> AsyncIterator[Page]:
        state = ctx.cursor or {}
        mark = to_utc(state.get("active_mark"))
        if ctx.full_refresh or mark is None or state.get("scan"):
            async for page in full_pass(ctx, partition, None if ctx.full_refresh else mark):
                yield page
            return
        held = ctx.known.knowledge_base_ids(ctx.source, partition)
        held_ids, new = set(held), set[str]()
        latest, total = mark, None
        async for api_page in _pages(ctx, active_first, partition, None):
            new.update(r[id_field] for r in api_page.records if r.get(id_field) not in held_ids)
            latest, total = newest(api_page.records, latest), api_page.total
            reached = any(
                (t := to_utc(r.get(active_field))) is not None and t < mark for r in api_page.records
            )
            last = reached or api_page.done
            cursor = {"active_mark": (latest if last else mark).isoformat()}
            request = _request_of(ctx, active_first, partition, api_page)
            yield _page(ctx, partition, api_page.records, request, cursor)
            if last:
                break
        vanished = None if total is None else len(held) + len(new) - total
        if vanished == 0:
            return
        page_size = listing.paginator(ctx.settings).page_size
        if vanished is not None and vanished > 0 and bisection_pays(vanished, total, page_size):
            try:
                pages = await vanished_pages(ctx, partition, held, vanished, total, cursor)
            except Inconsistent as why:
                log.info("%s %s: %s; listing all", ctx.stream, partition, why)
            else:
                for page in pages:
                    yield page
                return
        async for page in full_pass(ctx, partition, latest):
            yield page

    return extract


def resume_from_marker(listing: Listing, *, table: str, scope_column: str) -> Extract:
    """Pick up where the last run's listing ended; a full refresh re-reads all and marks vanished rows.

    Cursor: `{"resume": <where new records start>}` plus, while a full scan runs,
    `{"scan": {"next": ..., "started_at": iso}}`. The first run of a partition is a full scan.
    """

    async def extract(ctx: StreamContext, partition: str) -> AsyncIterator[Page]:
        state = ctx.cursor or {}
        resume = state.get("resume")
        scan = state.get("scan")
        if ctx.full_refresh or not resume or scan:
            scan = scan if scan and not ctx.full_refresh else {"next": None, "started_at": _now().isoformat()}
            start = scan["next"]
        else:
            start = resume
        async for api_page in _pages(ctx, listing, partition, start):
            request = _request_of(ctx, listing, partition, api_page)
            resume = api_page.resume_cursor or resume
            if scan and not api_page.done:
                cursor = {"resume": resume, "scan": {**scan, "next": api_page.next_cursor}}
                yield _page(ctx, partition, api_page.records, request, cursor)
            elif scan:
                end = _scan_end(table, to_utc(scan["started_at"]), scope_column, partition)
                yield _page(ctx, partition, api_page.records, request, {"resume": resume}, end)
            else:
                yield _page(ctx, partition, api_page.records, request, {"resume": resume})

    return extract


def plan_refresh(running: int, window: RunningWindow | None, page_size: int) -> RefreshPlan:
    """How to see a partition's `running` records again: whichever sends fewer requests.

    A scan newest-first that reaches the oldest running record takes `window.jobs // page_size
    + 1` pages (its last page must show an older record to stop); re-reading costs one request
    per running record plus the scan down to the high-water mark (at least one page). Without a
    window (the warehouse holds none of them as running) only re-reading is sure to find them.
    """
    if running == 0:
        return "scan"
    if window is None:
        return "reread"
    return "scan" if window.jobs // page_size + 1 <= running + 1 else "reread"


def newest_first(
    listing: Listing,
    *,
    id_field: str,
    created_field: str,
    status_field: str,
    terminal_statuses: Iterable[str],
    reread_param: str,
) -> Extract:
    """Newest first down to the high-water mark; records still running are seen again each run.

    Cursor: `{"high_water_mark": iso, "running": [ids], "scan": {"next", "max_seen", "floor"}}`.
    Running records are refreshed the cheaper way (`plan_refresh`): the scan goes on down to
    the oldest of them, or each is re-read by id, concurrently within the rate limit. The mark
    moves only when a scan reaches its floor, so a scan killed half-way resumes instead of
    skipping the older part. A full refresh scans everything.
    """
    terminal = frozenset(terminal_statuses)

    def still_running(records: list[Record], running: Iterable[str]) -> list[str]:
        seen = {record[id_field]: record.get(status_field) for record in records}
        keep = [job for job in running if seen.get(job, "?") not in terminal]
        fresh = [job for job, status in seen.items() if status not in terminal and job not in keep]
        return keep + fresh

    async def reread(ctx: StreamContext, partition: str, state: Record) -> AsyncIterator[Page]:
        spec = listing.request(ctx, partition)
        gate = asyncio.Semaphore(REREAD_CONCURRENCY)

        async def one(job_id: str) -> list[Record]:
            async with gate:
                response = await _call(ctx, spec, {reread_param: job_id}, kind="reread")
            return [r for r in listing.records(response.body) if r.get(id_field) == job_id]

        running = list(state["running"])
        for offset in range(0, len(running), TASK_BATCH):
            batch = running[offset : offset + TASK_BATCH]
            records = [r for found in await asyncio.gather(*(one(job) for job in batch)) for r in found]
            found = {record[id_field] for record in records}
            if gone := [job for job in batch if job not in found]:
                log.warning(
                    "%s %s: jobs no longer listed, stop following them: %s", ctx.stream, partition, gone
                )
            unchanged = [job for job in state["running"] if job not in batch]
            state["running"] = unchanged + still_running(records, [job for job in batch if job in found])
            yield _page(ctx, partition, records, {**_sent(spec), "reread": batch}, dict(state))

    async def extract(ctx: StreamContext, partition: str) -> AsyncIterator[Page]:
        state = dict(ctx.cursor or {})
        state.setdefault("running", [])
        mark = to_utc(state.get("high_water_mark"))
        scan = state.get("scan")
        sees_every_running = False
        if scan:  # a killed scan resumes where it stopped, down to the floor it set out for
            floor, max_seen = to_utc(scan.get("floor")), to_utc(scan.get("max_seen")) or mark
        elif ctx.full_refresh:
            floor, max_seen, sees_every_running = None, None, True
        else:
            floor, max_seen = mark, mark
            window = ctx.known.running_window(ctx.source, partition)
            page_size = getattr(listing.paginator(ctx.settings), "page_size", None) or 1
            if plan_refresh(len(state["running"]), window, page_size) == "reread":
                async for page in reread(ctx, partition, state):
                    yield page
            else:
                sees_every_running = True
                if window is not None and floor is not None:
                    floor = min(floor, window.oldest_created)
        if sees_every_running:  # the scan meets every running record: one it does not meet is gone
            state["running"] = []
        async for api_page in _pages(ctx, listing, partition, (scan or {}).get("next")):
            created = [c for c in (to_utc(r.get(created_field)) for r in api_page.records) if c is not None]
            max_seen = max([*created, *([max_seen] if max_seen else [])], default=None)
            state["running"] = still_running(api_page.records, state["running"])
            request = _request_of(ctx, listing, partition, api_page)
            if api_page.done or (floor is not None and any(c < floor for c in created)):
                state.pop("scan", None)
                state["high_water_mark"] = max_seen.isoformat() if max_seen else None
                yield _page(ctx, partition, api_page.records, request, dict(state))
                return
            state["scan"] = {
                "next": api_page.next_cursor,
                "max_seen": max_seen.isoformat() if max_seen else None,
                "floor": floor.isoformat() if floor else None,
            }
            yield _page(ctx, partition, api_page.records, request, dict(state))

    return extract


def poll_until_terminal(
    listing: Listing,
    *,
    task_ids: Callable[[Any, KnownRecords], list[str]],
    id_field: str,
) -> Extract:
    """Ask for each task still worth asking about (configured or seen, not yet finished).

    One request per task, a few at a time within the source's rate limit, landed in pages of
    TASK_BATCH. A task the vendor does not know is reported and skipped, not fatal to the rest.
    The state lives in the warehouse (finished tasks are not asked again), so the cursor only
    records when the poll ran.
    """

    async def extract(ctx: StreamContext, partition: str) -> AsyncIterator[Page]:
        ids = task_ids(ctx.settings, ctx.known)
        gate = asyncio.Semaphore(TASK_CONCURRENCY)

        async def one(task_id: str) -> Record | None:
            spec = listing.request(ctx, task_id)
            async with gate:
                try:
                    response = await _call(ctx, spec, {}, kind="poll")
                except ApiError as error:
                    if isinstance(error, NotFoundError) or "not exist" in error.message:
                        log.warning(
                            "%s: task %s is unknown to the vendor, skipped: %s", ctx.stream, task_id, error
                        )
                        return None
                    raise
            return {id_field: task_id, **listing.records(response.body)[0]}

        for offset in range(0, len(ids), TASK_BATCH):
            batch = ids[offset : offset + TASK_BATCH]
            records = [r for r in await asyncio.gather(*(one(t) for t in batch)) if r is not None]
            request = {**_sent(listing.request(ctx, "")), "json": {id_field: batch}}
            yield _page(ctx, partition, records, request, {"polled_at": _now().isoformat()})

    return extract


async def _call(
    ctx: StreamContext, spec: RequestSpec, params: Mapping[str, Any], *, kind: RequestKind
) -> JsonResponse:
    return await ctx.client.call(
        kind=kind,
        stream=ctx.stream,
        endpoint=spec.endpoint,
        method=spec.method,
        path=spec.path,
        params={**(spec.params or {}), **params} if spec.method == "GET" else spec.params,
        json=spec.json,
        headers=spec.headers,
    )
