"""The incremental strategies of DESIGN.md's streams, written once for every vendor.

A vendor declares each endpoint as a `Listing` (data) and picks a strategy; the strategy walks
the listing with the generic paginator, decides what cursor to checkpoint after each page, and
yields `Page`s. Every cursor is saved with its page's rows, so a killed run resumes exactly
after the last committed page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kb_pipeline.http.client import JsonResponse
from kb_pipeline.http.errors import ApiError, NotFoundError, PaginationError
from kb_pipeline.http.paginators import ApiPage, Cursor, Paginator, RequestSpec, paginate
from kb_pipeline.http.paths import expand_path
from kb_pipeline.normalize import redact_credentials, to_utc
from kb_pipeline.pages import Page, Record, ScanEnd
from kb_pipeline.sources.base import Extract, KnownRecords, StreamContext

log = logging.getLogger(__name__)

MAX_RESCANS = 3
TASK_BATCH = 100
TASK_CONCURRENCY = 8


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
    listing: Listing, *, table: str, scope_column: str | None = None, rescan_on_shift: bool = False
) -> Extract:
    """Read the whole listing every run; at its end, rows of `table` it did not see are marked deleted.

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
                    end = _scan_end(table, started_at, scope_column, partition)
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


def newest_first(
    listing: Listing,
    *,
    id_field: str,
    created_field: str,
    status_field: str,
    terminal_statuses: Iterable[str],
    reread_param: str,
) -> Extract:
    """Newest first down to the high-water mark; records still running are re-read by id.

    Cursor: `{"high_water_mark": iso, "running": [ids], "scan": {"next", "max_seen"}}`. The mark
    moves only when a scan reaches it, so a scan killed half-way resumes instead of skipping the
    older part. A full refresh scans everything.
    """
    terminal = frozenset(terminal_statuses)

    def still_running(records: list[Record], running: Iterable[str]) -> list[str]:
        seen = {record[id_field]: record.get(status_field) for record in records}
        keep = [job for job in running if seen.get(job, "?") not in terminal]
        fresh = [job for job, status in seen.items() if status not in terminal and job not in keep]
        return keep + fresh

    async def reread(ctx: StreamContext, partition: str, running: list[str]) -> AsyncIterator[Page]:
        spec = listing.request(ctx, partition)
        records: list[Record] = []
        for job_id in running:
            response = await _call(ctx, spec, {reread_param: job_id})
            records.extend(r for r in listing.records(response.body) if r.get(id_field) == job_id)
        found = {record[id_field] for record in records}
        gone = [job for job in running if job not in found]
        if gone:
            log.warning("%s %s: jobs no longer listed, stop following them: %s", ctx.stream, partition, gone)
        state = {**(ctx.cursor or {}), "running": still_running(records, [j for j in running if j in found])}
        yield _page(ctx, partition, records, {**_sent(spec), "reread": running}, state)

    async def extract(ctx: StreamContext, partition: str) -> AsyncIterator[Page]:
        state = dict(ctx.cursor or {})
        if ctx.full_refresh:
            state = {"running": state.get("running", [])}
        if state.get("running") and not state.get("scan"):  # a resumed scan re-reads next run
            async for page in reread(ctx, partition, state["running"]):
                state = dict(page.cursor or {})
                yield page
        mark = to_utc(state.get("high_water_mark"))
        scan = state.get("scan") or {}
        max_seen = to_utc(scan.get("max_seen")) or mark
        async for api_page in _pages(ctx, listing, partition, scan.get("next")):
            created = [to_utc(r.get(created_field)) for r in api_page.records]
            created = [c for c in created if c is not None]
            if created:
                max_seen = max([*created, *([max_seen] if max_seen else [])])
            reached_mark = mark is not None and any(c < mark for c in created)
            state["running"] = still_running(api_page.records, state.get("running", []))
            request = _request_of(ctx, listing, partition, api_page)
            if reached_mark or api_page.done:
                state.pop("scan", None)
                state["high_water_mark"] = max_seen.isoformat() if max_seen else None
                yield _page(ctx, partition, api_page.records, request, dict(state))
                return
            state["scan"] = {
                "next": api_page.next_cursor,
                "max_seen": max_seen.isoformat() if max_seen else None,
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
                    response = await _call(ctx, spec, {})
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


async def _call(ctx: StreamContext, spec: RequestSpec, params: Mapping[str, Any]) -> JsonResponse:
    return await ctx.client.call(
        stream=ctx.stream,
        endpoint=spec.endpoint,
        method=spec.method,
        path=spec.path,
        params={**(spec.params or {}), **params} if spec.method == "GET" else spec.params,
        json=spec.json,
        headers=spec.headers,
    )
