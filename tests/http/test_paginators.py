"""Every paging strategy reads each record exactly once, resumes from any stored cursor with no
gap and no duplicate, and refuses to loop (repeating cursor or page, max_pages)."""

from __future__ import annotations

import math

import httpx
import orjson
import pytest

from kb_pipeline.http import (
    HeaderPagePaginator,
    MalformedResponseError,
    MarkerPaginator,
    NextTokenPaginator,
    PaginationError,
    RequestSpec,
    SinglePage,
    paginate,
)
from kb_pipeline.http.paginators import OffsetPaginator

pytestmark = pytest.mark.anyio

ITEMS = [{"id": f"d-{i:02d}", "name": f"doc {i}"} for i in range(7)]
SIZE = 3


def next_token_server(items, *, int_tokens: bool = True):
    """PAI-style: NextToken/MaxResults in the query; the token comes back as an int."""

    def handle(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params.get("NextToken") or 0)
        size = int(request.url.params["MaxResults"])
        end = start + size
        token = (end if int_tokens else str(end)) if end < len(items) else ""
        return httpx.Response(200, json={"Items": items[start:end], "NextToken": token, "RequestId": "r"})

    return handle


def header_page_server(items, *, headers: bool = True):
    """Lingma-style: a bare array, totals in x-* headers, and an x-next-page that never says "done"."""

    def handle(request: httpx.Request) -> httpx.Response:
        page, size = int(request.url.params["page"]), int(request.url.params["perPage"])
        chunk = items[(page - 1) * size : page * size]
        extra = {
            "x-page": str(page),
            "x-per-page": str(size),
            "x-total": str(len(items)),
            "x-total-pages": str(math.ceil(len(items) / size)),
            "x-next-page": str(page + 1),
        }
        return httpx.Response(200, json=chunk, headers=extra if headers else {})

    return handle


def marker_server(items):
    """Qianfan-style: marker/maxKeys in the JSON body; the last page still carries a nextMarker."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        assert body["knowledgeBaseId"] == "kb-1"
        ids = [item["id"] for item in items]
        start = ids.index(body["marker"]) + 1 if body.get("marker") else 0
        chunk = items[start : start + body["maxKeys"]]
        return httpx.Response(
            200,
            json={
                "requestId": "r",
                "marker": body.get("marker", ""),
                "isTruncated": start + len(chunk) < len(items),
                "nextMarker": chunk[-1]["id"] if chunk else "",
                "maxKeys": body["maxKeys"],
                "data": chunk,
            },
        )

    return handle


def offset_server(items):
    """VikingDB-style: offset/limit in the JSON body, the total in `data.total_num`."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        assert body["resource_id"] == "kb-1"
        chunk = items[body["offset"] : body["offset"] + body["limit"]]
        data = {"doc_list": chunk, "count": len(chunk), "total_num": len(items)}
        return httpx.Response(200, json={"code": 0, "message": "success", "data": data})

    return handle


STRATEGIES = {
    "next token": (
        NextTokenPaginator(page_size=SIZE),
        next_token_server,
        RequestSpec("GET", "/jobs", endpoint="ListKnowledgeBaseJobs", stream="pai.jobs"),
        lambda body: body["Items"],
    ),
    "header page": (
        HeaderPagePaginator(page_size=SIZE),
        header_page_server,
        RequestSpec("GET", "/knowledgeBases", endpoint="ListKnowledgeBases", stream="lingma.knowledge_bases"),
        lambda body: body,
    ),
    "marker": (
        MarkerPaginator(page_size=SIZE),
        marker_server,
        RequestSpec(
            "POST",
            "/v2/knowledgeBase?Action=DescribeDocuments",
            json={"knowledgeBaseId": "kb-1"},
            endpoint="DescribeDocuments",
            stream="qianfan.documents",
        ),
        lambda body: body["data"],
    ),
    "offset": (
        OffsetPaginator(page_size=SIZE),
        offset_server,
        RequestSpec(
            "POST",
            "/api/knowledge/doc/list",
            json={"resource_id": "kb-1"},
            endpoint="doc/list",
            stream="vikingdb.documents",
        ),
        lambda body: body["data"]["doc_list"],
    ),
}


def counting(handler):
    def handle(request: httpx.Request) -> httpx.Response:
        handle.calls += 1
        return handler(request)

    handle.calls = 0
    return handle


async def scan(client, strategy: str, **kwargs):
    paginator, _, request, records = STRATEGIES[strategy]
    kwargs.setdefault("paginator", paginator)
    kwargs.setdefault("records", records)
    kwargs.setdefault("request", request)
    return [page async for page in paginate(client, **kwargs)]


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_reads_every_record_once(vendor_client, strategy: str) -> None:
    handler = counting(STRATEGIES[strategy][1](ITEMS))
    pages = await scan(vendor_client(handler), strategy)
    assert [record for page in pages for record in page.records] == ITEMS
    assert handler.calls == len(pages) == math.ceil(len(ITEMS) / SIZE)
    assert [page.number for page in pages] == [1, 2, 3]
    assert [page.done for page in pages] == [False, False, True]
    assert pages[0].cursor is None and pages[1].cursor == pages[0].next_cursor


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_resume_from_any_stored_cursor_has_no_gap_and_no_duplicate(
    vendor_client, strategy: str
) -> None:
    client = vendor_client(STRATEGIES[strategy][1](ITEMS))
    pages = await scan(client, strategy)
    for k, page in enumerate(pages[:-1]):
        stored = orjson.loads(orjson.dumps(page.next_cursor))  # as a state store keeps it
        resumed = await scan(client, strategy, start=stored)
        before = [record for earlier in pages[: k + 1] for record in earlier.records]
        assert before + [record for later in resumed for record in later.records] == ITEMS


async def test_next_token_returned_as_an_int_is_sent_back_as_a_string(vendor_client) -> None:
    sent: list[str | None] = []
    server = next_token_server(ITEMS, int_tokens=True)

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.params.get("NextToken"))
        return server(request)

    pages = await scan(vendor_client(handle), "next token")
    assert [page.next_cursor for page in pages] == [{"NextToken": "3"}, {"NextToken": "6"}, None]
    assert sent == [None, "3", "6"]


async def test_cursor_can_travel_in_the_json_body(vendor_client) -> None:
    bodies = []

    def handle(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        bodies.append(body)
        start = int(body.get("next_token") or 0)
        more = start + body["limit"] < len(ITEMS)
        chunk = ITEMS[start : start + body["limit"]]
        return httpx.Response(
            200, json={"data": {"list": chunk, "next_token": start + body["limit"] if more else None}}
        )

    paginator = NextTokenPaginator("next_token", "data.next_token", "limit", SIZE, location="body")
    pages = await scan(
        vendor_client(handle),
        "next token",
        request=RequestSpec("POST", "/api/knowledge/doc/list", json={}, stream="vikingdb.documents"),
        paginator=paginator,
        records=lambda body: body["data"]["list"],
    )
    assert len(pages) == 3
    assert bodies[1] == {"limit": SIZE, "next_token": "3"}


async def test_a_repeating_token_raises_instead_of_looping(vendor_client) -> None:
    handler = counting(
        lambda request: httpx.Response(
            200, json={"Items": [{"id": request.url.params.get("NextToken")}], "NextToken": "abc"}
        )
    )
    with pytest.raises(PaginationError, match="already requested") as raised:
        await scan(vendor_client(handler), "next token")
    assert handler.calls == 2
    assert str(raised.value).startswith("pai.jobs ListKnowledgeBaseJobs: ")
    assert raised.value.retryable is False


async def test_max_pages_bounds_every_listing(vendor_client) -> None:
    def endless(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("NextToken") or 0)
        return httpx.Response(200, json={"Items": [{"id": n}], "NextToken": n + 1})

    seen = []
    with pytest.raises(PaginationError, match="max_pages=3"):
        async for page in paginate(
            vendor_client(endless),
            request=STRATEGIES["next token"][2],
            paginator=NextTokenPaginator(),
            records=lambda body: body["Items"],
            max_pages=3,
        ):
            seen.append(page.number)
    assert seen == [1, 2, 3]


async def test_a_server_ignoring_the_token_is_caught(vendor_client) -> None:
    tokens = iter(range(1, 100))

    def ignoring(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"Items": ITEMS[:SIZE], "NextToken": str(next(tokens))})

    handler = counting(ignoring)
    with pytest.raises(PaginationError, match="same records as the page before"):
        await scan(vendor_client(handler), "next token")
    assert handler.calls == 2


async def test_header_paging_never_trusts_x_next_page(vendor_client) -> None:
    handler = counting(header_page_server(ITEMS[:6]))
    pages = await scan(vendor_client(handler), "header page")
    assert handler.calls == 2
    assert pages[-1].response.headers["x-next-page"] == "3"
    assert pages[-1].done and pages[-1].total == 6


async def test_header_paging_without_headers_stops_on_an_empty_page(vendor_client) -> None:
    handler = counting(header_page_server(ITEMS[:6], headers=False))
    pages = await scan(vendor_client(handler), "header page")
    assert handler.calls == 3 and pages[-1].records == []


async def test_header_paging_refuses_an_answer_for_another_page(vendor_client) -> None:
    server = header_page_server(ITEMS)

    def stuck(request: httpx.Request) -> httpx.Response:
        return server(request.__class__(request.method, request.url.copy_set_param("page", "1")))

    with pytest.raises(PaginationError, match="asked for page 2, the answer is page 1"):
        await scan(vendor_client(stuck), "header page")


async def test_header_paging_reports_a_total_that_moved_mid_scan(vendor_client) -> None:
    items = list(ITEMS)
    server = header_page_server(items)

    def growing(request: httpx.Request) -> httpx.Response:
        response = server(request)
        if request.url.params["page"] == "1":
            items.insert(0, {"id": "new", "name": "added during the scan"})
        return response

    client = vendor_client(growing)
    pages = await scan(client, "header page")
    assert [page.total_changed for page in pages] == [False, True, True]
    assert pages[0].total == 7 and pages[1].total == 8
    # a resumed scan compares with the total seen when the scan began
    items.append({"id": "newer", "name": "added later"})
    resumed = await scan(client, "header page", start=pages[0].next_cursor)
    assert all(page.total_changed for page in resumed)


async def test_marker_stops_on_is_truncated_false_and_resumes_for_new_records(vendor_client) -> None:
    items = list(ITEMS)
    handler = counting(marker_server(items))
    client = vendor_client(handler)
    pages = await scan(client, "marker")
    last = pages[-1]
    assert last.response.body["nextMarker"] == ITEMS[-1]["id"] and last.response.body["isTruncated"] is False
    assert handler.calls == 3
    assert last.done and last.resume_cursor == {"marker": ITEMS[-1]["id"]}
    assert pages[0].resume_cursor == pages[0].next_cursor

    items.extend([{"id": "d-07", "name": "new 1"}, {"id": "d-08", "name": "new 2"}])
    later = await scan(client, "marker", start=last.resume_cursor)
    assert [record for page in later for record in page.records] == items[7:]


async def test_marker_sent_in_the_body_only(vendor_client) -> None:
    requests: list[httpx.Request] = []
    server = marker_server(ITEMS)

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return server(request)

    await scan(vendor_client(handle), "marker")
    assert dict(requests[1].url.params) == {"Action": "DescribeDocuments"}
    assert orjson.loads(requests[1].content) == {"knowledgeBaseId": "kb-1", "maxKeys": SIZE, "marker": "d-02"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"data": [{"id": 1}], "isTruncated": True, "nextMarker": ""},
            "isTruncated is true but nextMarker is empty",
        ),
        ({"data": [{"id": 1}], "nextMarker": "x"}, "no boolean 'isTruncated'"),
    ],
)
async def test_marker_answers_that_cannot_continue(vendor_client, body, message: str) -> None:
    with pytest.raises(PaginationError, match=message):
        await scan(vendor_client(lambda request: httpx.Response(200, json=body)), "marker")


async def test_a_marker_that_comes_back_unchanged_raises(vendor_client) -> None:
    def same(request: httpx.Request) -> httpx.Response:
        marker = orjson.loads(request.content).get("marker", "first")
        return httpx.Response(200, json={"data": [{"id": marker}], "isTruncated": True, "nextMarker": "m-1"})

    with pytest.raises(PaginationError, match="already requested"):
        await scan(vendor_client(same), "marker")


async def test_single_page(vendor_client) -> None:
    handler = counting(lambda request: httpx.Response(200, json={"data": {"collection_list": ITEMS}}))
    pages = [
        page
        async for page in paginate(
            vendor_client(handler),
            request=RequestSpec(
                "POST", "/api/knowledge/collection/list", json={}, stream="vikingdb.collections"
            ),
            paginator=SinglePage(),
            records=lambda body: body["data"]["collection_list"],
        )
    ]
    assert handler.calls == 1 and pages[0].records == ITEMS and pages[0].done


async def test_records_missing_from_the_answer_is_a_clear_error(vendor_client) -> None:
    client = vendor_client(
        lambda request: httpx.Response(200, json={"Items": {"not": "a list"}, "NextToken": ""})
    )
    with pytest.raises(MalformedResponseError, match="records are a dict, not a list") as raised:
        await scan(client, "next token")
    assert raised.value.retryable is False
    client = vendor_client(lambda request: httpx.Response(200, json={"Other": []}))
    with pytest.raises(MalformedResponseError, match=r"records not found.*KeyError"):
        await scan(client, "next token")
