"""VikingDB pinned to seeds 001 and 004: the `{code, message, data, request_id}` envelope,
collection/list newest first per project, task/info with a pre-signed TOS link, and the error codes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sandbox_clients import Volc

from kb_pipeline.sandbox import SandboxServer

COLLECTION_FIELDS = {
    "collection_name": str,
    "description": str,
    "doc_num": int,
    "create_time": int,
    "update_time": int,
    "creator": str,
    "pipeline_list": list,
    "data_type": str,
    "resource_id": str,
    "project": str,
}
TOS_PARAMS = {
    "X-Tos-Algorithm",
    "X-Tos-Credential",
    "X-Tos-Date",
    "X-Tos-Expires",
    "X-Tos-SignedHeaders",
    "X-Tos-Signature",
}


def _ok(answer: httpx.Response) -> dict:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["code"] == 0 and body["message"] == "success"
    assert body["request_id"] == answer.headers["x-tt-logid"]
    return body["data"]


def _error(answer: httpx.Response, status: int, code: int, message: str) -> None:
    assert answer.status_code == status
    body = answer.json()
    assert set(body) == {"code", "message", "request_id"}
    assert (body["code"], body["message"]) == (code, message)


def test_collection_list_shape_and_order(shared: SandboxServer) -> None:
    data = _ok(Volc(shared.url).post("/api/knowledge/collection/list", {"brief": False}))
    collections = data["collection_list"]
    assert (
        data["total_num"] == len(collections) == sum(map(len, shared.dataset.vikingdb_collections.values()))
    )
    assert [c["create_time"] for c in collections] == sorted(
        (c["create_time"] for c in collections), reverse=True
    )
    for collection in collections:
        assert set(collection) == set(COLLECTION_FIELDS)
        assert all(isinstance(collection[k], t) for k, t in COLLECTION_FIELDS.items())
        pipeline = collection["pipeline_list"][0]
        assert set(pipeline["pipeline_stat"]) == {"doc_num", "finish_doc_num", "point_num", "success_doc_num"}
        assert "status" in pipeline["index_list"][0] and pipeline["index_list"][0]["index_config"]["fields"]
        assert {"chunking_strategy", "chunk_length"} <= set(pipeline["preprocessing_list"][0])
    assert len({c["project"] for c in collections}) >= 2


def test_collection_list_per_project_and_brief(shared: SandboxServer) -> None:
    volc = Volc(shared.url)
    for project, expected in shared.dataset.vikingdb_collections.items():
        data = _ok(volc.post("/api/knowledge/collection/list", {"project": project, "brief": True}))
        assert {c["collection_name"] for c in data["collection_list"]} == {
            c["collection_name"] for c in expected
        }
        assert all(c["project"] == project for c in data["collection_list"])
        assert all(
            "status" not in index
            for c in data["collection_list"]
            for p in c["pipeline_list"]
            for index in p["index_list"]
        )
    answer = volc.post("/api/knowledge/collection/list", {"project": "no-such-project"})
    assert answer.status_code == 403 and answer.json()["code"] == 1000002
    _error(
        volc.post("/api/knowledge/collection/list", {"brief": "yes"}),
        400,
        1000003,
        "invalid request:brief must be a boolean",
    )


def test_task_info_answers_every_task(shared: SandboxServer) -> None:
    volc, statuses = Volc(shared.url), set()
    for task_id, expected in shared.dataset.vikingdb_tasks.items():
        data = _ok(volc.post("/api/knowledge/task/info", {"task_id": task_id}))
        assert data == expected and set(data) == {"status", "percentage", "attachment_link"}
        assert 0 <= data["percentage"] <= 100
        statuses.add(data["status"])
        if data["status"] == "success":
            assert data["percentage"] == 100
            assert set(parse_qs(urlsplit(data["attachment_link"]).query)) == TOS_PARAMS
    assert statuses == {"running", "success", "fail"}


def test_task_info_errors(shared: SandboxServer) -> None:
    volc = Volc(shared.url)
    _error(
        volc.post("/api/knowledge/task/info", {"task_id": "xxx"}),
        400,
        1000003,
        "invalid request:task not exist",
    )
    _error(volc.post("/api/knowledge/task/info", {}), 400, 1000003, "invalid request:task_id is required")


def test_collection_info(shared: SandboxServer) -> None:
    volc = Volc(shared.url)
    project, collections = next(iter(shared.dataset.vikingdb_collections.items()))
    wanted = collections[0]
    data = _ok(
        volc.post("/api/knowledge/collection/info", {"name": wanted["collection_name"], "project": project})
    )
    assert data == wanted
    by_id = _ok(volc.post("/api/knowledge/collection/info", {"resource_id": wanted["resource_id"]}))
    assert by_id == wanted
    _error(
        volc.post("/api/knowledge/collection/info", {"name": "nope", "project": project}),
        400,
        1000005,
        "collection not exist",
    )


@pytest.mark.parametrize("body", [b"", b"{}"])
def test_ping_is_signed_and_answers(shared: SandboxServer, body: bytes) -> None:
    volc = Volc(shared.url)
    url, headers = volc.signed("/ping", body, method="GET")
    answer = httpx.request("GET", url, headers=headers, content=body)
    assert answer.status_code == 200 and answer.json()["code"] == 0
