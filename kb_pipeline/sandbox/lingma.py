"""Alibaba Tongyi Lingma (Yunxiao OpenAPI), authenticated by the `x-yunxiao-token` header.

ListKnowledgeBases (as its API reference shows) answers a bare JSON array; paging lives only in the response headers
`x-page`, `x-per-page`, `x-total`, `x-total-pages`, `x-next-page`, `x-prev-page`. On the last page
`x-next-page` holds the current page by default, as the seed example shows (so a client trusting
it loops); setting `lingma_last_page` picks `empty`, `absent` or `past` instead (and the same for
`x-prev-page` on the first page). Default order: `gmtCreate` descending; `userId` keeps public
knowledge bases and those the user created.

ListKbFiles (`.../knowledgeBases/{kbId}/files`, its reference page) pages a knowledge base's files
the same way (`perPage` up to 20 as well), ordered by `orderBy` `gmt_added` (default; the page's
example spells it `gmtAdded`, accepted too), `kb_id` or `file_state`, `sort` desc by default, ties
by `fileId`; `query` matches file names. An unknown knowledge base is 404 `NotFound`.

Errors: `{errorCode, errorMessage, requestId}` with the codes of the Lingma error-code center; a
path under `/oapi/v1/lingma/` the sandbox does not serve is 400 `UnsupportedInCurrentEnv`.
"""

from __future__ import annotations

import math
import uuid
from types import MappingProxyType
from typing import Any

from kb_pipeline.sandbox.credentials import LINGMA_EXPIRED_TOKEN, LINGMA_TOKEN
from kb_pipeline.sandbox.dataset import Dataset
from kb_pipeline.sandbox.gateway import Answer, Call, Headers, Operation, Refusal, Vendor, json_answer
from kb_pipeline.sandbox.mutations import Mutations
from kb_pipeline.sandbox.records import Record
from kb_pipeline.sandbox.records.common import size_bytes

BASE = "/oapi/v1/lingma/organizations/{organizationId}/knowledgeBases"
MAX_PER_PAGE = 20
ORDER_FIELDS = ("name", "sceneType", "size", "fileCount", "lastActivityTime", "gmtCreate")
FILE_ORDER_FIELDS = {
    "gmt_added": "gmtAdded",
    "gmtAdded": "gmtAdded",
    "kb_id": None,
    "file_state": "fileState",
}
"""ListKbFiles `orderBy` values -> the file field they sort on (`kb_id` is one value per listing)."""


def _bad_request(detail: str) -> Refusal:
    return Refusal(400, "BadRequest", f"Bad Request: {detail}")


def _sort(call: Call) -> bool:
    """True for descending, the default."""
    sort = call.arg("sort") or "desc"
    if sort not in ("asc", "desc"):
        raise _bad_request(f"sort must be asc or desc, not {sort!r}")
    return sort == "desc"


def _int_arg(call: Call, name: str, default: int, high: int | None = None) -> int:
    value = call.arg(name)
    if value in (None, ""):
        return default
    if not value.isdigit() or int(value) < 1 or (high is not None and int(value) > high):
        limit = f"[1,{high}]" if high else "a positive integer"
        raise _bad_request(f"{name} must be in {limit}, not {value!r}")
    return int(value)


def _cursor(call: Call) -> str | None:
    page = call.arg("page")
    return page if page not in (None, "", "1") else None


class Lingma(Vendor):
    name = "lingma"
    auth = "x-yunxiao-token header (LINGMA_TOKEN)"
    credentials = MappingProxyType({"token": ("KB_SANDBOX_LINGMA_TOKEN", LINGMA_TOKEN)})

    @classmethod
    def scope(cls, dataset: Dataset) -> dict[str, Any]:
        return {"organization_ids": list(dataset.lingma_organizations)}

    def holds(self, operation: str) -> dict[str, list[Record]]:
        if operation == "ListKnowledgeBases":
            return self.dataset.lingma_organizations
        if operation == "ListKbFiles":
            kbs = [kb for kbs in self.dataset.lingma_organizations.values() for kb in kbs]
            return {kb["id"]: self.dataset.lingma_files.get(kb) for kb in kbs}
        return {}

    operations = (
        Operation("ListKnowledgeBases", "GET", BASE, "list_knowledge_bases", _cursor),
        Operation("ListKbFiles", "GET", BASE + "/{kbId}/files", "list_files", _cursor),
    )
    unserved_prefix = "/oapi/v1/lingma/"

    def new_request_id(self) -> str:
        return str(uuid.uuid4()).upper()

    def request_id_headers(self, request_id: str) -> Headers:
        return [("x-request-id", request_id)]

    def authenticate(self, call: Call) -> None:
        token = call.header("x-yunxiao-token")
        if not token:
            raise Refusal(401, "Unauthorized", "Unauthorized")
        if token == LINGMA_EXPIRED_TOKEN:
            raise Refusal(401, "ExpiredTokenError", "Token has expired")
        if token != LINGMA_TOKEN:
            raise Refusal(401, "InvalidTokenError", "Token is invalid")

    def render(self, call: Call, refusal: Refusal) -> Answer:
        payload = {"errorCode": refusal.code, "errorMessage": refusal.message, "requestId": call.request_id}
        return json_answer(payload, refusal.status)

    def throttling(self, retry_after: float) -> Refusal:
        seconds = max(1, math.ceil(retry_after))
        return Refusal(429, "TooManyRequests", "Too many requests", [("retry-after", str(seconds))])

    def server_failure(self, status: int) -> Refusal:
        return Refusal(status, "InternalServerError", "An internal error occurs")

    def unserved(self, call: Call) -> Refusal:
        return Refusal(400, "UnsupportedInCurrentEnv", "API unsupported in current deployed version")

    def insert_records(self, call: Call, count: int) -> None:
        changes = Mutations(self.dataset)
        if call.operation == "ListKbFiles":
            changes.add_lingma_files(call.path_params["kbId"], count)
        else:
            changes.add_lingma_knowledge_bases(call.path_params["organizationId"], count)

    def list_knowledge_bases(self, call: Call) -> Answer:
        return self._page(call, self._matching(call, self._organization(call)))

    def list_files(self, call: Call) -> Answer:
        kbs = self._organization(call)
        kb_id = call.path_params["kbId"]
        kb = next((kb for kb in kbs if kb["id"] == kb_id), None)
        if kb is None:
            raise Refusal(404, "NotFound", f"knowledge base {kb_id} not found")
        order_by = call.arg("orderBy") or "gmt_added"
        if order_by not in FILE_ORDER_FIELDS:
            raise _bad_request(f"orderBy must be one of gmt_added, kb_id, file_state, not {order_by!r}")
        descending, query = _sort(call), (call.arg("query") or "").lower()
        files = [f for f in self.dataset.lingma_files.get(kb) if query in f["filename"].lower()]
        field = FILE_ORDER_FIELDS[order_by]
        files.sort(key=lambda f: (f[field] if field else 0, f["fileId"]), reverse=descending)
        return self._page(call, files)

    def _organization(self, call: Call) -> list[Record]:
        kbs = self.dataset.lingma_organizations.get(call.path_params["organizationId"])
        if kbs is None:
            raise Refusal(
                403,
                "Forbidden.InvalidUser.UserNotInCurrentOrganization",
                "The current user is not in the organization and has no right to operate.",
            )
        return kbs

    def _page(self, call: Call, matching: list[Record]) -> Answer:
        """One page of `matching`, with the paging headers."""
        page = _int_arg(call, "page", 1)
        per_page = _int_arg(call, "perPage", MAX_PER_PAGE, MAX_PER_PAGE)
        total_pages = math.ceil(len(matching) / per_page)
        served = page - 1 if call.fault is not None and call.fault.kind == "repeat_cursor" else page
        body = matching[(served - 1) * per_page : served * per_page]
        headers = [
            ("x-page", str(page)),
            ("x-per-page", str(per_page)),
            ("x-total", str(len(matching))),
            ("x-total-pages", str(total_pages)),
        ]
        headers += self._neighbour("x-next-page", page + 1 if page < total_pages else None, page, page + 1)
        headers += self._neighbour("x-prev-page", page - 1 if page > 1 else None, page, page - 1)
        return json_answer(body, headers=headers)

    def _matching(self, call: Call, kbs: list[Record]) -> list[Record]:
        scene, order_by = call.arg("sceneType") or "", call.arg("orderBy") or "gmtCreate"
        if scene not in ("", "chat", "complement"):
            raise _bad_request(f"sceneType must be chat or complement, not {scene!r}")
        if order_by not in ORDER_FIELDS:
            raise _bad_request(f"orderBy must be one of {', '.join(ORDER_FIELDS)}, not {order_by!r}")
        descending = _sort(call)
        query, user = (call.arg("query") or "").lower(), call.arg("userId")
        matching = [
            kb
            for kb in kbs
            if (not scene or kb["sceneType"] == scene)
            and (not query or query in kb["name"].lower())
            and (not user or kb["accessLevel"] == 10 or kb["creator"]["id"] == user)
        ]

        def key(kb: Record) -> tuple[Any, str]:
            return (size_bytes(kb["size"]) if order_by == "size" else kb[order_by], kb["id"])

        return sorted(matching, key=key, reverse=descending)

    def _neighbour(self, header: str, page: int | None, current: int, past: int) -> Headers:
        """A neighbour-page header; at an edge (`page` None) what `lingma_last_page` says."""
        if page is not None:
            return [(header, str(page))]
        edge = self.settings.lingma_last_page
        if edge == "absent":
            return []
        return [(header, {"same": str(current), "empty": "", "past": str(past)}[edge])]
