"""Baidu Qianfan AppBuilder knowledge base, authenticated by `Authorization: Bearer <API key>`.

`POST /v2/knowledgeBase?Action=DescribeKnowledgeBases|DescribeDocuments` (as the API reference shows). The marker is
the id of the last record already read (exclusive); records are served oldest first, so a stored
marker picks up what was added since, and a deleted record's marker still resumes at its place.
The last page keeps a non-empty `nextMarker` (its last id) with `isTruncated: false`. Documents use
the page's spelling by default, or the SDK's (`qianfan_fields="sdk"`). Errors:
`{requestId, code, message}`, and every answer carries `X-Appbuilder-Request-Id`; an unknown
`Action` is 400 `InvalidParameterError`, another path under `/v2/` 404 `NotFound`.
"""

from __future__ import annotations

import math
import uuid
from itertools import islice
from types import MappingProxyType
from typing import Any

import orjson

from kb_pipeline.sandbox.credentials import QIANFAN_API_KEY, QIANFAN_FORBIDDEN_API_KEY
from kb_pipeline.sandbox.dataset import Positions
from kb_pipeline.sandbox.gateway import Answer, Call, Headers, Operation, Refusal, Vendor, json_answer
from kb_pipeline.sandbox.mutations import Mutations
from kb_pipeline.sandbox.records import Record

PATH = "/v2/knowledgeBase"
DEFAULT_MAX_KEYS = 10
MAX_KEYS = 100


def _invalid(detail: str) -> Refusal:
    return Refusal(400, "InvalidParameterError", detail)


def _body(call: Call) -> dict[str, Any]:
    try:
        body = call.json()
    except ValueError:
        raise _invalid("request body is not valid JSON") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise _invalid("request body must be a JSON object")
    return body


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name) or ""
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string")
    return value


def _max_keys(body: dict[str, Any]) -> int:
    value = body.get("maxKeys", DEFAULT_MAX_KEYS)
    if value is None:
        return DEFAULT_MAX_KEYS
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_KEYS:
        raise _invalid(f"maxKeys must be an integer in [1, {MAX_KEYS}], not {value!r}")
    return value


def _cursor(call: Call) -> str | None:
    try:
        body = call.json()
    except ValueError:
        return None
    return (body.get("marker") or None) if isinstance(body, dict) else None


def _sdk_document(doc: Record) -> Record:
    """The document as the official SDK models it: `documentId`, `status`, camelCase meta keys."""
    meta = doc["meta"]
    sdk_meta = {"source": meta["source"], "fileId": meta.get("fileId"), "url": meta.get("url")}
    sdk_meta["mimeType"] = meta.get("mimeType", meta.get("mime_type"))
    if "fileSize" in meta or "file_size" in meta:
        sdk_meta["fileSize"] = meta.get("fileSize", meta.get("file_size"))
    sdk_meta["tags"] = meta.get("tags")
    return {
        "documentId": doc["id"],
        "name": doc["name"],
        "createdAt": doc["createdAt"],
        "status": doc["displayStatus"],
        "wordCount": doc["wordCount"],
        "enabled": doc["enabled"],
        "meta": sdk_meta,
    }


class MarkerPage:
    """One marker page over records kept oldest first."""

    def __init__(
        self,
        records: list[Record],
        positions: Positions,
        marker: str,
        max_keys: int,
        keyword: str,
        repeat: bool,
    ) -> None:
        start = positions.start_after(marker) if marker else 0
        if start is None:
            raise _invalid(f"marker {marker!r} does not name a record of this listing")
        if keyword:
            needle = keyword.lower()
            matching = (r for r in islice(records, start, None) if needle in r["name"].lower())
            found = list(islice(matching, max_keys + 1))
            self.records, self.truncated = found[:max_keys], len(found) > max_keys
        else:
            self.records = records[start : start + max_keys]
            self.truncated = start + max_keys < len(records)
        self.next_marker = self.records[-1]["id"] if self.records else marker
        if repeat:
            self.next_marker, self.truncated = marker, True


class Qianfan(Vendor):
    name = "qianfan"
    auth = "Authorization: Bearer <API key> (QIANFAN_API_KEY)"
    credentials = MappingProxyType({"api_key": ("KB_SANDBOX_QIANFAN_API_KEY", QIANFAN_API_KEY)})

    def holds(self, operation: str) -> dict[str, list[Record]]:
        listings = {
            "DescribeKnowledgeBases": {"": self.dataset.qianfan_knowledge_bases},
            "DescribeDocuments": self.dataset.qianfan_documents,
        }
        return listings.get(operation, {})

    operations = (
        Operation(
            "DescribeKnowledgeBases",
            "POST",
            PATH,
            "describe_knowledge_bases",
            _cursor,
            "DescribeKnowledgeBases",
        ),
        Operation("DescribeDocuments", "POST", PATH, "describe_documents", _cursor, "DescribeDocuments"),
    )
    unserved_prefix = "/v2/"

    def new_request_id(self) -> str:
        return str(uuid.uuid4())

    def request_id_headers(self, request_id: str) -> Headers:
        return [("x-appbuilder-request-id", request_id), ("x-bce-request-id", request_id)]

    def authenticate(self, call: Call) -> None:
        authorization = call.header("authorization")
        if not authorization:
            raise Refusal(401, "UnauthorizedError", "the Authorization header is missing")
        scheme, _, key = authorization.partition(" ")
        if scheme != "Bearer" or key not in (QIANFAN_API_KEY, QIANFAN_FORBIDDEN_API_KEY):
            raise Refusal(
                401, "InvalidApiKey", "the API key is invalid; send Authorization: Bearer <API key>"
            )
        if key == QIANFAN_FORBIDDEN_API_KEY:
            raise Refusal(403, "PermissionDeniedError", "没有权限")

    def render(self, call: Call, refusal: Refusal) -> Answer:
        payload = {"requestId": call.request_id, "code": refusal.code, "message": refusal.message}
        return json_answer(payload, refusal.status)

    def throttling(self, retry_after: float) -> Refusal:
        seconds = max(1, math.ceil(retry_after))
        return Refusal(429, "TooManyRequests", "rate limit exceeded", [("retry-after", str(seconds))])

    def server_failure(self, status: int) -> Refusal:
        code = "ServiceUnavailable" if status == 503 else "InternalError"
        return Refusal(status, code, "internal server error, please retry later")

    def insert_records(self, call: Call, count: int) -> None:
        changes = Mutations(self.dataset)
        if call.operation == "DescribeDocuments":
            changes.add_qianfan_documents(_string(_body(call), "knowledgeBaseId"), count)
        else:
            for _ in range(count):
                changes.add_qianfan_knowledge_base()

    def unserved(self, call: Call) -> Refusal:
        return Refusal(404, "NotFound", f"{call.method} {call.path} is not found")

    def unknown_action(self, action: str) -> Refusal:
        supported = ", ".join(op.action or "" for op in self.operations)
        return _invalid(f"unsupported Action {action!r}; supported: {supported}")

    def describe_knowledge_bases(self, call: Call) -> Answer:
        body = _body(call)
        marker, max_keys = _string(body, "marker"), _max_keys(body)
        data = self.dataset
        page = MarkerPage(
            data.qianfan_knowledge_bases,
            data.qianfan_kb_positions,
            marker,
            max_keys,
            _string(body, "keyword"),
            self._repeat(call),
        )
        return json_answer(
            {
                "requestId": call.request_id,
                "data": page.records,
                "marker": marker,
                "maxKeys": max_keys,
                "nextMarker": page.next_marker,
                "isTruncated": page.truncated,
            }
        )

    def describe_documents(self, call: Call) -> Answer:
        body = _body(call)
        kb_id = _string(body, "knowledgeBaseId")
        if not kb_id:
            raise _invalid("knowledgeBaseId is required")
        marker, max_keys, keyword = _string(body, "marker"), _max_keys(body), _string(body, "keyword")
        data = self.dataset
        documents = data.qianfan_documents.get(kb_id)
        if documents is None:
            raise Refusal(404, "KnowledgeBaseNotFound", f"knowledge base {kb_id} not found")
        page = MarkerPage(
            documents, data.qianfan_doc_positions[kb_id], marker, max_keys, keyword, self._repeat(call)
        )
        head: dict[str, Any] = {
            "requestId": call.request_id,
            "marker": marker,
            "isTruncated": page.truncated,
            "nextMarker": page.next_marker,
            "maxKeys": max_keys,
        }
        if self.settings.qianfan_fields == "sdk":
            needle = keyword.lower()
            head["totalCount"] = (
                sum(1 for d in documents if needle in d["name"].lower()) if keyword else len(documents)
            )
            encoded = [orjson.dumps(_sdk_document(d)) for d in page.records]
        else:
            encoded = [data.encoded_document(d) for d in page.records]
        # documents are encoded once and spliced in: this answer is the one served 1,000+ times a second
        body_bytes = orjson.dumps(head)[:-1] + b',"data":[' + b",".join(encoded) + b"]}"
        return Answer(200, body_bytes)

    @staticmethod
    def _repeat(call: Call) -> bool:
        return call.fault is not None and call.fault.kind == "repeat_cursor"
