"""Volcengine VikingDB knowledge base, signed with Volcengine HMAC-SHA256 (service `air`).

Every call is a signed JSON POST (seeds 001, 004) except the SDK's `GET /ping`. Answers use the
envelope `{code, message, data, request_id}`; errors keep it with a non-zero `code` (1000001/401
unauthorized, 1000002/403 no permission, 1000003/400 invalid request, 1000005/400 collection not
exist, 1000029/429 quota limiter with `Retry-After` in seconds).

doc/list (its reference page) pages a collection's documents newest `create_time` first by
`offset`/`limit`: `limit` is -1 (the default: as many as one call returns, 100) or 1 to 100, and as
the page warns, an `offset` of 100 or more counts only with a `limit` (with -1 it is ignored).
`doc_type` null lists every type and `[]` none; `doc_id_list` keeps those ids (`filter`, whose
syntax the page does not give, is refused); `total_num` is the collection's document count. Other operations of the SDK under `/api/knowledge/` (doc/info,
point/list, ...) are not served: 404 with code 1000024, the SDK's APINotImplemented.
"""

from __future__ import annotations

import math
import random
import time
from types import MappingProxyType
from typing import Any

from kb_pipeline.sandbox.credentials import VOLC_ACCESS_KEY, VOLC_SECRET_KEY, VOLC_SECRETS
from kb_pipeline.sandbox.dataset import Dataset
from kb_pipeline.sandbox.gateway import Answer, Call, Headers, Operation, Refusal, Vendor, json_answer
from kb_pipeline.sandbox.mutations import Mutations
from kb_pipeline.sandbox.records import Record
from kb_pipeline.sandbox.signatures import AuthError, SignedRequest, verify_volc

MAX_LIMIT = 100
"""The most documents one doc/list call returns."""
TOKENS_PER_POINT = 350
"""Embedding tokens a chunk costs, for `total_tokens` when `return_token_usage` asks for it."""


def _invalid(reason: str) -> Refusal:
    return Refusal(400, 1000003, f"invalid request:{reason}")


def _body(call: Call) -> dict[str, Any]:
    try:
        body = call.json()
    except ValueError:
        raise _invalid("body is not valid JSON") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise _invalid("body must be a JSON object")
    return body


def _offset_limit(body: dict[str, Any]) -> tuple[int, int]:
    """The slice doc/list serves: `limit` -1 means one call's most, and then an offset >= 100 is ignored."""
    offset, limit = body.get("offset", 0), body.get("limit", -1)
    offset = 0 if offset is None else offset
    limit = -1 if limit is None else limit
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise _invalid("offset must be an integer >= 0")
    if isinstance(limit, bool) or not isinstance(limit, int) or not (limit == -1 or 1 <= limit <= MAX_LIMIT):
        raise _invalid(f"limit must be -1 or an integer in [1, {MAX_LIMIT}]")
    if limit == -1:
        return (offset if offset < MAX_LIMIT else 0), MAX_LIMIT
    return offset, limit


def _string_list(body: dict[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
        raise _invalid(f"{name} must be a list of strings")
    return value


def _brief(collection: Record) -> Record:
    """A collection without index status, as `brief: true` asks."""
    pipelines = [
        {**p, "index_list": [{k: v for k, v in index.items() if k != "status"} for index in p["index_list"]]}
        for p in collection["pipeline_list"]
    ]
    return {**collection, "pipeline_list": pipelines}


def _offset(call: Call) -> str | None:
    """doc/list's cursor: a non-zero `offset`."""
    try:
        body = call.json()
    except ValueError:
        return None
    offset = body.get("offset") if isinstance(body, dict) else None
    return str(offset) if offset else None


def _no_cursor(call: Call) -> None:
    """collection/list answers the whole list at once: every request is a first page."""
    return None


class VikingDB(Vendor):
    name = "vikingdb"
    auth = "Volcengine HMAC-SHA256 signature, service air (VOLC_ACCESS_KEY / VOLC_SECRET_KEY)"
    credentials = MappingProxyType(
        {
            "access_key_id": ("KB_SANDBOX_VOLC_ACCESS_KEY", VOLC_ACCESS_KEY),
            "secret_access_key": ("KB_SANDBOX_VOLC_SECRET_KEY", VOLC_SECRET_KEY),
        }
    )

    @classmethod
    def scope(cls, dataset: Dataset) -> dict[str, Any]:
        return {"region": "cn-beijing", "task_ids": sorted(dataset.vikingdb_tasks)}

    def holds(self, operation: str) -> dict[str, list[Record]]:
        data = self.dataset
        if operation == "ListCollections":
            return {"": [c for collections in data.vikingdb_collections.values() for c in collections]}
        if operation == "ListDocs":
            collections = [c for collections in data.vikingdb_collections.values() for c in collections]
            return {c["resource_id"]: data.vikingdb_documents.get(c) for c in collections}
        if operation == "TaskInfo":
            return {task_id: [{"task_id": task_id, **task}] for task_id, task in data.vikingdb_tasks.items()}
        if operation == "ListDocs":
            collections = [c for project in data.vikingdb_collections.values() for c in project]
            return {c["resource_id"]: data.vikingdb_documents.get(c) for c in collections}
        return {}

    operations = (
        Operation("Ping", "GET", "/ping", "ping"),
        Operation(
            "ListCollections", "POST", "/api/knowledge/collection/list", "list_collections", _no_cursor
        ),
        Operation("GetCollection", "POST", "/api/knowledge/collection/info", "get_collection"),
        Operation("TaskInfo", "POST", "/api/knowledge/task/info", "task_info"),
        Operation("ListDocs", "POST", "/api/knowledge/doc/list", "list_docs", _offset),
    )
    unserved_prefix = "/api/knowledge/"

    def new_request_id(self) -> str:
        return f"02{int(time.time() * 1000):013d}{'0' * 21}ffff{random.getrandbits(52):013x}"

    def request_id_headers(self, request_id: str) -> Headers:
        return [("x-tt-logid", request_id)]

    def authenticate(self, call: Call) -> None:
        request = SignedRequest(call.method, call.raw_path, call.query, call.headers, call.body)
        try:
            verify_volc(request, VOLC_SECRETS)
        except AuthError as error:
            raise Refusal(401, 1000001, f"unauthorized: {error.detail}") from None

    def render(self, call: Call, refusal: Refusal) -> Answer:
        payload = {"code": refusal.code, "message": refusal.message, "request_id": call.request_id}
        return json_answer(payload, refusal.status)

    def throttling(self, retry_after: float) -> Refusal:
        seconds = max(1, math.ceil(retry_after))
        return Refusal(
            429, 1000029, "quota limiter: request rate exceeds the limit", [("retry-after", str(seconds))]
        )

    def server_failure(self, status: int) -> Refusal:
        return Refusal(status, 1000028, "internal server error")

    def unserved(self, call: Call) -> Refusal:
        return Refusal(404, 1000024, f"api not implemented: {call.method} {call.path}")

    def insert_records(self, call: Call, count: int) -> None:
        body, changes = _body(call), Mutations(self.dataset)
        project = body.get("project") or "default"
        if call.operation == "ListDocs":
            collection = self._collection(body.get("collection_name"), project, body.get("resource_id"))
            changes.add_vikingdb_documents(collection["project"], collection["collection_name"], count)
            return
        for _ in range(count):
            changes.add_vikingdb_collection(project)

    # operations
    def ping(self, call: Call) -> Answer:
        return self._success(call, None)

    def list_collections(self, call: Call) -> Answer:
        body = _body(call)
        project, brief = body.get("project"), body.get("brief", False)
        if not isinstance(brief, bool):
            raise _invalid("brief must be a boolean")
        if project is not None and not isinstance(project, str):
            raise _invalid("project must be a string")
        if project is not None and project not in self.dataset.vikingdb_collections:
            raise Refusal(403, 1000002, f"no permission: project {project} is not accessible")
        pools = (
            [self.dataset.vikingdb_collections[project]]
            if project
            else self.dataset.vikingdb_collections.values()
        )
        collections = sorted((c for pool in pools for c in pool), key=lambda c: -c["create_time"])
        if brief:
            collections = [_brief(c) for c in collections]
        return self._success(call, {"total_num": len(collections), "collection_list": collections})

    def get_collection(self, call: Call) -> Answer:
        body = _body(call)
        if not body.get("name") and not body.get("resource_id"):
            raise _invalid("name or resource_id is required")
        return self._success(
            call, self._collection(body.get("name"), body.get("project", "default"), body.get("resource_id"))
        )

    def list_docs(self, call: Call) -> Answer:
        body = _body(call)
        name, resource_id = body.get("collection_name"), body.get("resource_id")
        if not name and not resource_id:
            raise _invalid("collection_name or resource_id is required")
        collection = self._collection(name, body.get("project") or "default", resource_id)
        offset, limit = _offset_limit(body)
        doc_types, doc_ids = _string_list(body, "doc_type"), _string_list(body, "doc_id_list")
        if body.get("filter") is not None:
            raise _invalid("filter is not supported by the sandbox; use doc_id_list")
        docs = self.dataset.vikingdb_documents.get(collection)
        matching = [
            d
            for d in reversed(docs)
            if (doc_types is None or d["doc_type"] in doc_types)
            and (doc_ids is None or d["doc_id"] in doc_ids)
        ]
        page = matching[offset : offset + limit]
        if body.get("return_token_usage") is True:
            page = [{**d, "total_tokens": d["point_num"] * TOKENS_PER_POINT} for d in page]
        data = {
            "collection_name": collection["collection_name"],
            "doc_list": page,
            "count": len(page),
            "total_num": len(docs),
        }
        return self._success(call, data)

    def _collection(self, name: Any, project: Any, resource_id: Any) -> Record:
        """The collection `resource_id` names, or else `name` in `project`; 1000005 if none."""
        found = next(
            (
                c
                for pool in self.dataset.vikingdb_collections.values()
                for c in pool
                if (resource_id and c["resource_id"] == resource_id)
                or (not resource_id and c["collection_name"] == name and c["project"] == project)
            ),
            None,
        )
        if found is None:
            raise Refusal(400, 1000005, "collection not exist")
        return found

    def task_info(self, call: Call) -> Answer:
        task_id = _body(call).get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise _invalid("task_id is required")
        task = self.dataset.vikingdb_tasks.get(task_id)
        if task is None:
            raise _invalid("task not exist")
        return self._success(call, task)

    def _success(self, call: Call, data: Any) -> Answer:
        payload: dict[str, Any] = {"code": 0, "message": "success", "request_id": call.request_id}
        if data is not None:
            payload["data"] = data
        return json_answer(payload)


VENDOR = VikingDB
