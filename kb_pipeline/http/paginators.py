"""Paging strategies, and the one loop that walks a listing with any of them.

A cursor is a small JSON-able dict, owned by the strategy that made it: store `next_cursor`
after a page has landed, pass it back as `start`, and the listing goes on with the next page,
with no gap and no page twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import orjson

from kb_pipeline.http.client import JsonResponse, VendorClient
from kb_pipeline.http.errors import MalformedResponseError, PaginationError

Cursor = dict[str, Any]
Location = Literal["query", "body"]


@dataclass(frozen=True)
class RequestSpec:
    """The first request of a listing; paginators add their cursor and page-size values to it."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Mapping[str, Any] | None = None
    endpoint: str = ""
    stream: str = ""
    headers: Mapping[str, str] | None = None

    def with_values(self, values: Mapping[str, Any], location: Location) -> RequestSpec:
        """A copy with `values` merged into the query (`"query"`) or the JSON body (`"body"`)."""
        if not values:
            return self
        if location == "query":
            return replace(self, params={**(self.params or {}), **values})
        return replace(self, json={**(self.json or {}), **values})


@dataclass(frozen=True)
class Step:
    """What a paginator read from one answer."""

    next_cursor: Cursor | None
    resume_cursor: Cursor | None = None
    total: int | None = None
    total_changed: bool = False


@dataclass(frozen=True)
class ApiPage:
    """One page of a listing.

    `next_cursor` is what the next request needs, None once the listing is done.
    `resume_cursor` is what an incremental stream stores: `next_cursor` while the listing goes
    on; at its end, where a later scan picks up records added since (None = start over).
    `total`/`total_changed` report the total the answer announced and whether it differs from
    the total at the start of the scan (a page shift: rescan).
    """

    number: int
    records: list[Any]
    response: JsonResponse
    cursor: Cursor | None
    next_cursor: Cursor | None
    resume_cursor: Cursor | None
    total: int | None = None
    total_changed: bool = False

    @property
    def done(self) -> bool:
        return self.next_cursor is None


class Paginator(Protocol):
    def prepare(self, request: RequestSpec, cursor: Cursor | None) -> RequestSpec:
        """The request for the page at `cursor` (None = the first page)."""
        ...

    def step(self, cursor: Cursor | None, response: JsonResponse, records: list[Any]) -> Step:
        """Read the answer to the page at `cursor`; raise PaginationError if it cannot go on."""
        ...


async def paginate(
    client: VendorClient,
    *,
    request: RequestSpec,
    paginator: Paginator,
    records: Callable[[Any], list[Any] | None],
    start: Cursor | None = None,
    max_pages: int = 10_000,
) -> AsyncIterator[ApiPage]:
    """Yield the pages of a listing from `start` (a stored cursor) to its end.

    `records` picks the page's records out of the JSON body. Raises PaginationError when a
    cursor comes back that was already requested, when a page repeats the page before it, or
    when the listing is not done after `max_pages` pages (that last page is still yielded).
    """
    if max_pages < 1:
        raise ValueError(f"max_pages must be at least 1, got {max_pages}")
    cursor = dict(start) if start else None
    requested = {_fingerprint(cursor)}
    previous_records: bytes | None = None
    for number in range(1, max_pages + 1):
        spec = paginator.prepare(request, cursor)
        where = {"source": client.source, "stream": spec.stream, "endpoint": spec.endpoint}
        response = await client.call(
            stream=spec.stream,
            endpoint=spec.endpoint,
            method=spec.method,
            path=spec.path,
            params=spec.params,
            json=spec.json,
            headers=spec.headers,
        )
        page_records = _records(records, response, where)
        try:
            step = paginator.step(cursor, response, page_records)
        except PaginationError as error:
            raise PaginationError(error.message, **where, request_id=response.request_id) from None
        fingerprint = _fingerprint(page_records)
        if page_records and fingerprint == previous_records:
            raise PaginationError(
                f"page {number} (cursor {cursor}) holds the same records as the page before",
                **where,
                request_id=response.request_id,
            )
        if step.next_cursor is not None:
            if _fingerprint(step.next_cursor) in requested:
                raise PaginationError(
                    f"cursor {step.next_cursor} after page {number} was already requested in this scan",
                    **where,
                    request_id=response.request_id,
                )
            requested.add(_fingerprint(step.next_cursor))
        yield ApiPage(
            number=number,
            records=page_records,
            response=response,
            cursor=cursor,
            next_cursor=step.next_cursor,
            resume_cursor=step.next_cursor or step.resume_cursor,
            total=step.total,
            total_changed=step.total_changed,
        )
        if step.next_cursor is None:
            return
        cursor, previous_records = step.next_cursor, fingerprint
    raise PaginationError(f"listing not finished after max_pages={max_pages} pages", **where)


@dataclass(frozen=True)
class SinglePage:
    """The whole listing comes in one answer (e.g. VikingDB collection/list)."""

    def prepare(self, request: RequestSpec, cursor: Cursor | None) -> RequestSpec:
        return request

    def step(self, cursor: Cursor | None, response: JsonResponse, records: list[Any]) -> Step:
        return Step(None)


@dataclass(frozen=True)
class NextTokenPaginator:
    """A continuation token: `{"Items": [...], "NextToken": "20"}`; done on an empty or absent token.

    A token sent back as a number (PAI's `"NextToken": 20`) is used as the string "20".
    Cursor: `{token_param: "<token>"}`.
    """

    token_param: str = "NextToken"
    token_field: str = "NextToken"
    size_param: str | None = "MaxResults"
    page_size: int | None = None
    location: Location = "query"

    def prepare(self, request: RequestSpec, cursor: Cursor | None) -> RequestSpec:
        values: dict[str, Any] = {}
        if self.size_param and self.page_size:
            values[self.size_param] = self.page_size
        if cursor and cursor.get(self.token_param):
            values[self.token_param] = cursor[self.token_param]
        return request.with_values(values, self.location)

    def step(self, cursor: Cursor | None, response: JsonResponse, records: list[Any]) -> Step:
        token = dig(response.body, self.token_field)
        if token is None or str(token) == "":
            return Step(None)
        return Step({self.token_param: str(token)})


@dataclass(frozen=True)
class HeaderPagePaginator:
    """Numbered pages whose totals come in response headers (Lingma: `x-page`, `x-total-pages`,
    `x-total`; the body is a bare array).

    Done on an empty page or when `x-page >= x-total-pages` (on a short page only if the
    headers are missing); never on `x-next-page`, whose last-page value is undocumented.
    An answer for another page than the one asked raises PaginationError. `total_changed`
    tells that `x-total` moved since the scan began (records shifted between pages).
    Cursor: `{page_param: <next page>, "scan_total": <x-total at the start of the scan>}`.
    """

    page_param: str = "page"
    size_param: str = "perPage"
    page_size: int = 20
    page_header: str = "x-page"
    total_pages_header: str = "x-total-pages"
    total_header: str = "x-total"
    location: Location = "query"

    def prepare(self, request: RequestSpec, cursor: Cursor | None) -> RequestSpec:
        page = cursor[self.page_param] if cursor else 1
        return request.with_values({self.page_param: page, self.size_param: self.page_size}, self.location)

    def step(self, cursor: Cursor | None, response: JsonResponse, records: list[Any]) -> Step:
        asked = cursor[self.page_param] if cursor else 1
        served = _as_int(response.headers.get(self.page_header))
        if served is not None and served != asked:
            raise PaginationError(f"asked for page {asked}, the answer is page {served}")
        total = _as_int(response.headers.get(self.total_header))
        total_pages = _as_int(response.headers.get(self.total_pages_header))
        scan_total = cursor.get("scan_total") if cursor else None
        if scan_total is None:
            scan_total = total
        changed = total is not None and scan_total is not None and total != scan_total
        if total_pages is not None:
            done = not records or asked >= total_pages
        else:
            done = len(records) < self.page_size
        next_cursor = None if done else {self.page_param: asked + 1, "scan_total": scan_total}
        return Step(next_cursor, total=total, total_changed=changed)


@dataclass(frozen=True)
class MarkerPaginator:
    """A marker listing (Qianfan): `{"data": [...], "isTruncated": true, "nextMarker": "d-9"}`.

    Goes on while `isTruncated` is true, with `nextMarker` as the next `marker`; stops when it is
    false even if `nextMarker` is not empty. At the end `resume_cursor` holds that last
    `nextMarker`, from which a later run picks up records added since.
    Cursor: `{marker_param: "<marker>"}`.
    """

    marker_param: str = "marker"
    size_param: str | None = "maxKeys"
    page_size: int | None = 100
    truncated_field: str = "isTruncated"
    next_marker_field: str = "nextMarker"
    location: Location = "body"

    def prepare(self, request: RequestSpec, cursor: Cursor | None) -> RequestSpec:
        values: dict[str, Any] = {}
        if self.size_param and self.page_size:
            values[self.size_param] = self.page_size
        if cursor and cursor.get(self.marker_param):
            values[self.marker_param] = cursor[self.marker_param]
        return request.with_values(values, self.location)

    def step(self, cursor: Cursor | None, response: JsonResponse, records: list[Any]) -> Step:
        truncated = dig(response.body, self.truncated_field)
        if not isinstance(truncated, bool):
            raise PaginationError(f"answer has no boolean {self.truncated_field!r} (got {truncated!r})")
        marker = dig(response.body, self.next_marker_field)
        marker = None if marker is None or str(marker) == "" else str(marker)
        if truncated:
            if marker is None:
                raise PaginationError(f"{self.truncated_field} is true but {self.next_marker_field} is empty")
            return Step({self.marker_param: marker})
        return Step(None, resume_cursor={self.marker_param: marker} if marker else cursor)


@dataclass(frozen=True)
class OffsetPaginator:
    """An offset/limit listing with a total in the body (VikingDB doc/list: `offset`, `limit`,
    `data.total_num`).

    Done on an empty or short page, or once the offset reaches the total. `total_changed` tells
    that the total moved since the scan began (records shifted between pages: rescan).
    Cursor: `{offset_param: <next offset>, "scan_total": <total at the start of the scan>}`.
    """

    offset_param: str = "offset"
    size_param: str = "limit"
    page_size: int = 100
    total_field: str = "data.total_num"
    location: Location = "body"

    def prepare(self, request: RequestSpec, cursor: Cursor | None) -> RequestSpec:
        offset = cursor.get(self.offset_param, 0) if cursor else 0
        return request.with_values(
            {self.offset_param: offset, self.size_param: self.page_size}, self.location
        )

    def step(self, cursor: Cursor | None, response: JsonResponse, records: list[Any]) -> Step:
        offset = cursor.get(self.offset_param, 0) if cursor else 0
        total = _as_int(dig(response.body, self.total_field))
        scan_total = cursor.get("scan_total") if cursor else None
        if scan_total is None:
            scan_total = total
        changed = total is not None and scan_total is not None and total != scan_total
        following = offset + len(records)
        done = len(records) < self.page_size or (total is not None and following >= total)
        next_cursor = None if done else {self.offset_param: following, "scan_total": scan_total}
        return Step(next_cursor, total=total, total_changed=changed)


def dig(body: Any, path: str) -> Any:
    """The value at a dotted path of a JSON body (`"data.next_token"`), None when absent."""
    value = body
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _records(pick: Callable[[Any], list[Any] | None], response: JsonResponse, where: dict[str, str]) -> list:
    try:
        found = pick(response.body)
    except (KeyError, IndexError, TypeError) as exc:
        raise MalformedResponseError(
            f"records not found in the answer ({type(exc).__name__}: {exc})",
            **where,
            http_status=response.status,
            request_id=response.request_id,
            retryable=False,
        ) from exc
    if found is None:
        return []
    if not isinstance(found, list):
        raise MalformedResponseError(
            f"records are a {type(found).__name__}, not a list",
            **where,
            http_status=response.status,
            request_id=response.request_id,
            retryable=False,
        )
    return found


def _fingerprint(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
