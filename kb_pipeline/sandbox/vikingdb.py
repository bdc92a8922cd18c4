"""Volcengine VikingDB knowledge base, signed with Volcengine HMAC-SHA256 (service `air`).

Every call is a signed JSON POST (seeds 001, 004) except the SDK's `GET /ping`. Answers use the
envelope `{code, message, data, request_id}`; errors keep it with a non-zero `code` (1000001/401
unauthorized, 1000002/403 no permission, 1000003/400 invalid request, 1000005/400 collection not
exist, 1000029/429 quota limiter with `Retry-After` in seconds).
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


def _brief(collection: Record) -> Record:
    """A collection without index status, as `brief: true` asks."""
    pipelines = [
        {**p, "index_list": [{k: v for k, v in index.items() if k != "status"} for index in p["index_list"]]}
        for p in collection["pipeline_list"]
    ]
    return {**collection, "pipeline_list": pipelines}


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
        if operation == "TaskInfo":
            return {task_id: [{"task_id": task_id, **task}] for task_id, task in data.vikingdb_tasks.items()}
        return {}

    operations = (
        Operation("Ping", "GET", "/ping", "ping"),
        Operation(
            "ListCollections", "POST", "/api/knowledge/collection/list", "list_collections", _no_cursor
        ),
        Operation("GetCollection", "POST", "/api/knowledge/collection/info", "get_collection"),
        Operation("TaskInfo", "POST", "/api/knowledge/task/info", "task_info"),
    )

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

    def insert_records(self, call: Call, count: int) -> None:
        project = _body(call).get("project") or "default"
        for _ in range(count):
            Mutations(self.dataset).add_vikingdb_collection(project)

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
        name, project, resource_id = body.get("name"), body.get("project", "default"), body.get("resource_id")
        if not name and not resource_id:
            raise _invalid("name or resource_id is required")
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
        return self._success(call, found)

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
