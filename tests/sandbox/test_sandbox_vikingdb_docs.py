"""VikingDB doc/list pinned to its reference page and the official SDK: newest first by offset/limit (at
most 100, and an offset of 100 or more counting only with a limit), filters, errors, documents that add up
to what collection/list says, and the SDK's own parsing of the answer and of an unserved operation's error."""

from __future__ import annotations

import json

import httpx
import pytest
from sandbox_clients import Volc, volc_sdk
from volcengine.viking_knowledgebase.common import Field
from volcengine.viking_knowledgebase.exception import APINotImplementedException, CollectionNotExistException

from kb_pipeline.sandbox import SandboxServer

DOC_FIELDS = {
    "collection_name": str,
    "doc_name": str,
    "doc_id": str,
    "doc_hash": str,
    "add_type": str,
    "doc_type": str,
    "create_time": int,
    "added_by": str,
    "update_time": int,
    "url": str,
    "tos_path": str,
    "point_num": int,
    "status": dict,
    "title": str,
    "source": str,
    "doc_meta": str,
}
LIST = "/api/knowledge/doc/list"


def _data(answer: httpx.Response) -> dict:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["code"] == 0 and body["request_id"] == answer.headers["x-tt-logid"]
    return body["data"]


def _all_docs(volc: Volc, collection: dict) -> list[dict]:
    docs: list[dict] = []
    while True:
        body = {"collection_name": collection["collection_name"], "project": collection["project"]}
        data = _data(volc.post(LIST, body | {"offset": len(docs), "limit": 100}))
        docs += data["doc_list"]
        assert data["count"] == len(data["doc_list"])
        if len(docs) >= data["total_num"] or not data["doc_list"]:
            return docs


def _collections(volc: Volc) -> list[dict]:
    return _data(volc.post("/api/knowledge/collection/list", {"brief": True}))["collection_list"]


@pytest.fixture(scope="module")
def big(shared: SandboxServer) -> dict:
    """The collection with the most documents (several pages)."""
    collection = max(
        (c for cs in shared.dataset.vikingdb_collections.values() for c in cs), key=lambda c: c["doc_num"]
    )
    assert collection["doc_num"] > 250
    return collection


def test_doc_list_shape(shared: SandboxServer, big: dict) -> None:
    data = _data(
        Volc(shared.url).post(LIST, {"collection_name": big["collection_name"], "project": big["project"]})
    )
    assert set(data) == {"collection_name", "doc_list", "count", "total_num"}
    assert (
        data["count"] == len(data["doc_list"]) == 100 and data["total_num"] == big["doc_num"]
    )  # limit -1: 100
    for doc in data["doc_list"]:
        assert set(doc) == set(DOC_FIELDS) and all(isinstance(doc[k], t) for k, t in DOC_FIELDS.items())
        assert doc["collection_name"] == big["collection_name"]
        assert doc["status"]["process_status"] in (0, 1, 2, 6)
        assert (doc["point_num"] > 0) == (doc["status"]["process_status"] == 0)
        assert (doc["url"] == "") != (doc["tos_path"] == "")
        meta = json.loads(doc["doc_meta"])
        assert {"field_name", "field_type", "field_value"} <= set(meta[0])
        assert (
            big["create_time"] * 1000 <= doc["create_time"] <= doc["update_time"] <= big["update_time"] * 1000
        )


def test_paging_reads_every_document_once_newest_first(shared: SandboxServer, big: dict) -> None:
    docs = _all_docs(Volc(shared.url), big)
    assert len({d["doc_id"] for d in docs}) == len(docs) == big["doc_num"]
    created = [d["create_time"] for d in docs]
    assert created == sorted(created, reverse=True)


def test_every_collection_adds_up_to_its_documents(shared: SandboxServer) -> None:
    volc = Volc(shared.url)
    collections = _collections(volc)
    assert sum(c["doc_num"] for c in collections) > 1000
    for collection in collections:
        docs = _all_docs(volc, collection)
        stat = collection["pipeline_list"][0]["pipeline_stat"]
        statuses = [d["status"]["process_status"] for d in docs]
        assert len(docs) == collection["doc_num"] == stat["doc_num"]
        assert sum(d["point_num"] for d in docs) == stat["point_num"]
        assert statuses.count(0) == stat["success_doc_num"]
        assert statuses.count(0) + statuses.count(1) == stat["finish_doc_num"]


def test_offset_of_100_or_more_needs_a_limit(shared: SandboxServer, big: dict) -> None:
    volc, name = Volc(shared.url), {"collection_name": big["collection_name"], "project": big["project"]}
    first = _data(volc.post(LIST, name))["doc_list"]
    ignored = _data(volc.post(LIST, name | {"offset": 150}))["doc_list"]
    assert [d["doc_id"] for d in ignored] == [d["doc_id"] for d in first]
    honoured = _data(volc.post(LIST, name | {"offset": 150, "limit": 10}))["doc_list"]
    assert [d["doc_id"] for d in honoured] == [d["doc_id"] for d in _all_docs(volc, big)[150:160]]
    assert [d["doc_id"] for d in _data(volc.post(LIST, name | {"offset": 30}))["doc_list"][:5]] == [
        d["doc_id"] for d in first[30:35]
    ]


def test_filters(shared: SandboxServer, big: dict) -> None:
    volc, name = Volc(shared.url), {"collection_name": big["collection_name"], "project": big["project"]}
    every = _all_docs(volc, big)
    doc_type = every[0]["doc_type"]
    typed = _data(volc.post(LIST, name | {"doc_type": [doc_type], "limit": 100}))
    assert typed["doc_list"] and {d["doc_type"] for d in typed["doc_list"]} == {doc_type}
    assert typed["total_num"] == big["doc_num"]
    assert _data(volc.post(LIST, name | {"doc_type": []}))["doc_list"] == []
    wanted = [every[3]["doc_id"], every[-1]["doc_id"]]
    picked = _data(volc.post(LIST, name | {"doc_id_list": wanted}))["doc_list"]
    assert [d["doc_id"] for d in picked] == wanted
    by_id = _data(volc.post(LIST, {"resource_id": big["resource_id"], "limit": 1}))["doc_list"]
    assert by_id[0]["doc_id"] == every[0]["doc_id"]


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({"limit": 101}, 400, 1000003, "invalid request:limit must be -1 or an integer in [1, 100]"),
        ({"limit": 0}, 400, 1000003, "invalid request:limit must be -1 or an integer in [1, 100]"),
        ({"offset": -1}, 400, 1000003, "invalid request:offset must be an integer >= 0"),
        ({"doc_type": "pdf"}, 400, 1000003, "invalid request:doc_type must be a list of strings"),
        ({"collection_name": "no_such"}, 400, 1000005, "collection not exist"),
        (
            {"collection_name": None},
            400,
            1000003,
            "invalid request:collection_name or resource_id is required",
        ),
    ],
)
def test_errors(shared: SandboxServer, big: dict, body: dict, status: int, code: int, message: str) -> None:
    answer = Volc(shared.url).post(
        LIST, {"collection_name": big["collection_name"], "project": big["project"]} | body
    )
    assert answer.status_code == status
    assert answer.json() | {"request_id": None} == {"code": code, "message": message, "request_id": None}


def test_official_sdk_lists_documents(shared: SandboxServer, big: dict) -> None:
    collection = volc_sdk(shared).get_collection(big["collection_name"], project=big["project"])
    docs = collection.list_docs(offset=0, limit=100, project=big["project"])
    expected = _all_docs(Volc(shared.url), big)[:100]
    assert [d.doc_id for d in docs] == [d["doc_id"] for d in expected]
    assert [d.point_num for d in docs] == [d["point_num"] for d in expected]
    assert all(isinstance(f, Field) and f.field_name for d in docs for f in d.fields)  # doc_meta parsed
    assert docs[0].fields[0].field_val == docs[0].doc_id


def test_official_sdk_reports_vikingdb_errors(shared: SandboxServer, big: dict) -> None:
    service = volc_sdk(shared)
    collection = service.get_collection(big["collection_name"], project=big["project"])
    with pytest.raises(APINotImplementedException) as unserved:
        collection.get_doc(
            collection.list_docs(limit=1, project=big["project"])[0].doc_id, project=big["project"]
        )
    assert unserved.value.code == 1000024 and "doc/info" in unserved.value.message
    with pytest.raises(CollectionNotExistException):
        collection.list_docs(collection_name="no_such_collection", project=big["project"])
