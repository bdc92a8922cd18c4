"""Lingma pinned to its ListKnowledgeBases reference page: a bare JSON array, paging only in `x-*` headers, perPage capped at 20,
what `x-next-page` holds on the last page, filters and the error-code-center envelope."""

from __future__ import annotations

import math
import re

import pytest
from sandbox_clients import lingma_get

from kb_pipeline.sandbox import SandboxServer

KB_FIELDS = {
    "accessLevel": int,
    "creator": dict,
    "description": str,
    "fileCount": int,
    "gmtCreate": int,
    "gmtModified": int,
    "id": str,
    "lastActivityTime": int,
    "memberCount": int,
    "name": str,
    "organizationId": str,
    "sceneType": str,
    "size": str,
    "state": str,
}
SIZE = re.compile(r"^\d+(\.\d+)? (B|KB|MB|GB|TB)$")
PAGING_HEADERS = ("x-page", "x-per-page", "x-total", "x-total-pages", "x-next-page", "x-prev-page")


@pytest.fixture(scope="module")
def big_org(shared: SandboxServer) -> str:
    orgs = shared.dataset.lingma_organizations
    return max(orgs, key=lambda org: len(orgs[org]))


def test_bare_array_of_seed_objects(shared: SandboxServer, big_org: str) -> None:
    answer = lingma_get(shared, big_org)
    kbs = answer.json()
    assert isinstance(kbs, list) and len(kbs) == 20  # default perPage
    for kb in kbs:
        assert set(kb) == set(KB_FIELDS) and all(isinstance(kb[k], t) for k, t in KB_FIELDS.items())
        assert set(kb["creator"]) == {"avatarUrl", "displayName", "id", "userName"}
        assert kb["accessLevel"] in (0, 10) and kb["sceneType"] in ("chat", "complement")
        assert kb["state"] in ("enable", "disable") and SIZE.match(kb["size"])
        assert kb["gmtCreate"] > 10**12 and kb["organizationId"] == big_org  # epoch milliseconds
        assert (kb["size"] == "0 B") == (kb["fileCount"] == 0)
    assert all(h in answer.headers for h in PAGING_HEADERS)


def test_walking_the_pages_reads_every_kb_once(shared: SandboxServer, big_org: str) -> None:
    expected = shared.dataset.lingma_organizations[big_org]
    assert len(expected) > 20
    seen, page = [], 1
    while True:
        answer = lingma_get(shared, big_org, page=page, perPage=20)
        seen += [kb["id"] for kb in answer.json()]
        assert int(answer.headers["x-total"]) == len(expected)
        assert int(answer.headers["x-total-pages"]) == math.ceil(len(expected) / 20)
        if int(answer.headers["x-page"]) >= int(answer.headers["x-total-pages"]):
            break
        assert answer.headers["x-next-page"] == str(page + 1)
        page += 1
    assert sorted(seen) == sorted(kb["id"] for kb in expected) and len(seen) == len(set(seen))
    kinds = {(kb["sceneType"], kb["state"]) for kb in expected}
    assert {s for s, _ in kinds} == {"chat", "complement"} and {s for _, s in kinds} == {"enable", "disable"}


def test_last_page_next_header_defaults_to_the_current_page(shared: SandboxServer, big_org: str) -> None:
    last = math.ceil(len(shared.dataset.lingma_organizations[big_org]) / 20)
    answer = lingma_get(shared, big_org, page=last)
    assert answer.headers["x-next-page"] == str(last)  # what the seed example shows
    assert lingma_get(shared, big_org).headers["x-prev-page"] == "1"


@pytest.mark.parametrize(
    ("choice", "next_page", "prev_page"), [("empty", "", ""), ("past", "+1", "0"), ("absent", None, None)]
)
def test_last_page_setting(
    fresh: SandboxServer, choice: str, next_page: str | None, prev_page: str | None
) -> None:
    fresh.control.configure(lingma_last_page=choice)
    org = max(fresh.dataset.lingma_organizations, key=lambda o: len(fresh.dataset.lingma_organizations[o]))
    answer = lingma_get(fresh, org, perPage=20)
    pages = int(answer.headers["x-total-pages"])
    last = lingma_get(fresh, org, perPage=20, page=pages)
    assert last.headers.get("x-next-page") == (str(pages + 1) if next_page == "+1" else next_page)
    assert answer.headers.get("x-prev-page") == prev_page


@pytest.mark.parametrize(
    "query",
    [
        {"perPage": 21},
        {"perPage": 0},
        {"page": 0},
        {"page": "x"},
        {"sceneType": "other"},
        {"orderBy": "id"},
        {"sort": "up"},
    ],
)
def test_bad_parameters_are_400(shared: SandboxServer, big_org: str, query: dict) -> None:
    answer = lingma_get(shared, big_org, **query)
    assert answer.status_code == 400
    body = answer.json()
    assert body["errorCode"] == "BadRequest" and body["requestId"] == answer.headers["x-request-id"]


def test_unknown_organization_is_forbidden(shared: SandboxServer) -> None:
    answer = lingma_get(shared, "0" * 24)
    assert answer.status_code == 403
    assert answer.json()["errorCode"] == "Forbidden.InvalidUser.UserNotInCurrentOrganization"


def test_filters_and_order(shared: SandboxServer, big_org: str) -> None:
    kbs = shared.dataset.lingma_organizations[big_org]
    chat = lingma_get(shared, big_org, sceneType="chat", perPage=20)
    assert int(chat.headers["x-total"]) == sum(kb["sceneType"] == "chat" for kb in kbs)
    needle = kbs[0]["name"][:4]
    found = lingma_get(shared, big_org, query=needle.upper(), perPage=20)
    assert int(found.headers["x-total"]) == sum(needle.lower() in kb["name"].lower() for kb in kbs)
    names = [kb["name"] for kb in lingma_get(shared, big_org, orderBy="name", sort="asc").json()]
    assert names == sorted(names)
    created = [kb["gmtCreate"] for kb in lingma_get(shared, big_org).json()]
    assert created == sorted(created, reverse=True)
