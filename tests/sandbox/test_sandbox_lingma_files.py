"""Lingma ListKbFiles pinned to its reference page: a bare array of files paged by `x-*` headers, the
three `orderBy` columns, name search, its errors, and files that add up to what ListKnowledgeBases says."""

from __future__ import annotations

import math
import re

import httpx
import pytest
from sandbox_clients import lingma_files_get, lingma_get

from kb_pipeline.sandbox import SandboxServer, credentials

FILE_FIELDS = {
    "fileId": str,
    "filename": str,
    "fileSize": str,
    "filePath": str,
    "fileState": str,
    "gmtAdded": int,
    "gmtCreated": int,
    "gmtModified": int,
}
SIZE = re.compile(r"^(\d+(?:\.\d+)?) (B|KB|MB|GB|TB)$")
UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def _bytes(size: str) -> float:
    number, unit = SIZE.match(size).groups()
    return float(number) * UNITS[unit]


def _all_kbs(server: SandboxServer, org: str) -> list[dict]:
    kbs, page = [], 1
    while page:
        answer = lingma_get(server, org, page=page, perPage=20)
        kbs += answer.json()
        page = page + 1 if page < int(answer.headers["x-total-pages"]) else 0
    return kbs


def _all_files(server: SandboxServer, org: str, kb_id: str, **query: object) -> list[dict]:
    files, page = [], 1
    while True:
        answer = lingma_files_get(server, org, kb_id, page=page, perPage=20, **query)
        assert answer.status_code == 200, answer.text
        files += answer.json()
        if page >= int(answer.headers["x-total-pages"]):
            return files
        page += 1


@pytest.fixture(scope="module")
def big_kb(shared: SandboxServer) -> tuple[str, dict]:
    """The organization and knowledge base with the most files (more than one page)."""
    org, kb = max(
        ((org, kb) for org, kbs in shared.dataset.lingma_organizations.items() for kb in kbs),
        key=lambda pair: pair[1]["fileCount"],
    )
    assert kb["fileCount"] > 40
    return org, kb


def test_files_shape_and_paging_headers(shared: SandboxServer, big_kb: tuple[str, dict]) -> None:
    org, kb = big_kb
    answer = lingma_files_get(shared, org, kb["id"], perPage=7, page=2)
    files = answer.json()
    assert isinstance(files, list) and len(files) == 7
    assert answer.headers["x-total"] == str(kb["fileCount"])
    assert answer.headers["x-total-pages"] == str(math.ceil(kb["fileCount"] / 7))
    assert (answer.headers["x-page"], answer.headers["x-next-page"], answer.headers["x-prev-page"]) == (
        "2",
        "3",
        "1",
    )
    for file in files:
        assert set(file) == set(FILE_FIELDS) and all(isinstance(file[k], t) for k, t in FILE_FIELDS.items())
        assert SIZE.match(file["fileSize"])
        assert file["filePath"] == f"lingma/rag_kb/{org}/{kb['id']}/{file['fileId']}/{file['filename']}"
        assert file["gmtCreated"] <= file["gmtAdded"] <= file["gmtModified"] <= kb["gmtModified"]
        assert file["gmtAdded"] >= kb["gmtCreate"] > 10**12  # epoch milliseconds


def test_walking_the_pages_reads_every_file_once_newest_first(
    shared: SandboxServer, big_kb: tuple[str, dict]
) -> None:
    org, kb = big_kb
    files = _all_files(shared, org, kb["id"])
    assert len({f["fileId"] for f in files}) == len(files) == kb["fileCount"]
    added = [f["gmtAdded"] for f in files]
    assert added == sorted(added, reverse=True)  # default: gmt_added, desc


@pytest.mark.parametrize("order_by", ["gmt_added", "gmtAdded", "file_state", "kb_id"])
def test_order_by_and_sort(shared: SandboxServer, big_kb: tuple[str, dict], order_by: str) -> None:
    org, kb = big_kb
    files = _all_files(shared, org, kb["id"], orderBy=order_by, sort="asc")
    key = {"gmt_added": "gmtAdded", "gmtAdded": "gmtAdded", "file_state": "fileState", "kb_id": None}[
        order_by
    ]
    expected = sorted(files, key=lambda f: (f[key] if key else 0, f["fileId"]))
    assert [f["fileId"] for f in files] == [f["fileId"] for f in expected]
    if key == "fileState":
        assert len({f["fileState"] for f in files}) > 1


def test_query_matches_file_names(shared: SandboxServer, big_kb: tuple[str, dict]) -> None:
    org, kb = big_kb
    every = _all_files(shared, org, kb["id"])
    needle = every[0]["filename"][:6].lower()
    found = _all_files(shared, org, kb["id"], query=needle.upper())
    assert found and [f["fileId"] for f in found] == [
        f["fileId"] for f in every if needle in f["filename"].lower()
    ]


def test_every_knowledge_base_adds_up_to_its_files(shared: SandboxServer) -> None:
    for org in shared.dataset.lingma_organizations:
        for kb in _all_kbs(shared, org):
            files = _all_files(shared, org, kb["id"]) if kb["fileCount"] else []
            assert len(files) == kb["fileCount"]
            total = sum(_bytes(f["fileSize"]) for f in files)
            assert total == pytest.approx(_bytes(kb["size"]), rel=0.005, abs=0)


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({"perPage": 21}, 400, "BadRequest"),
        ({"page": 0}, 400, "BadRequest"),
        ({"orderBy": "fileSize"}, 400, "BadRequest"),
        ({"sort": "up"}, 400, "BadRequest"),
    ],
)
def test_bad_parameters(
    shared: SandboxServer, big_kb: tuple[str, dict], query: dict, status: int, code: str
) -> None:
    org, kb = big_kb
    answer = lingma_files_get(shared, org, kb["id"], **query)
    assert answer.status_code == status and answer.json()["errorCode"] == code


def test_unknown_knowledge_base_organization_and_token(
    shared: SandboxServer, big_kb: tuple[str, dict]
) -> None:
    org, kb = big_kb
    missing = lingma_files_get(shared, org, "0" * 24)
    assert missing.status_code == 404 and missing.json()["errorCode"] == "NotFound"
    stranger = lingma_files_get(shared, "f" * 24, kb["id"])
    assert stranger.status_code == 403
    assert stranger.json()["errorCode"] == "Forbidden.InvalidUser.UserNotInCurrentOrganization"
    assert (
        lingma_files_get(shared, org, kb["id"], token="pt-wrong").json()["errorCode"] == "InvalidTokenError"
    )


def test_unserved_operation_is_a_json_error(shared: SandboxServer, big_kb: tuple[str, dict]) -> None:
    org, _ = big_kb
    url = f"{shared.url}/oapi/v1/lingma/organizations/{org}/members"
    reply = httpx.get(url, headers={"x-yunxiao-token": credentials.LINGMA_TOKEN})
    assert reply.status_code == 400 and reply.headers["content-type"].startswith("application/json")
    assert reply.json() == {
        "errorCode": "UnsupportedInCurrentEnv",
        "errorMessage": "API unsupported in current deployed version",
        "requestId": reply.headers["x-request-id"],
    }
