"""VolcSigner agrees byte for byte with the official volcengine SDK (SignerV4), so VikingDB
accepts what the pipeline sends.

The SDK's services run with only their clock and `requests.Session.request` patched; what they
would send is captured, and the same request, built the way the pipeline builds it, is signed
by VolcSigner.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from unittest import mock

import httpx
import orjson
import pytest
import requests
from volcengine.ApiInfo import ApiInfo
from volcengine.auth.SignerV4 import SignerV4
from volcengine.base.Request import Request
from volcengine.base.Service import Service
from volcengine.Credentials import Credentials
from volcengine.ServiceInfo import ServiceInfo
from volcengine.viking_knowledgebase import VikingKnowledgeBaseService

from kb_pipeline.auth import VolcSigner

AK, SK = "AKIDEXAMPLE", "SECRETEXAMPLE"
HOST = "api-knowledgebase.mlp.cn-beijing.volces.com"
X_DATE = "20260101T000000Z"
SET_BY_SIGNER = {"authorization", "x-date", "x-content-sha256"}
RESERVED = "a b/中文+=&*~%"
SPACED_BODY = json.dumps({"project": "default", "brief": False})


def fixed_signer(region: str = "cn-beijing") -> VolcSigner:
    return VolcSigner(AK, SK, region=region, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))


def sdk_requests(drive) -> list[tuple[str, str, dict[str, str], bytes]]:
    """Run `drive()` against the SDK; return (method, url, headers, body) of every request it sent."""
    sent = []

    def capture(self, method, url, **kwargs):
        body = kwargs.get("data") or b""
        sent.append((method, url, dict(kwargs["headers"]), body.encode() if isinstance(body, str) else body))
        response = requests.Response()
        response.status_code = 200
        response._content = b'{"code": 0, "data": {}, "request_id": "sdk-test"}'
        return response

    with (
        mock.patch.object(SignerV4, "get_current_format_date", return_value=X_DATE),
        mock.patch.object(requests.Session, "request", capture),
    ):
        drive()
    return sent


def generic_service(region: str = "cn-beijing") -> Service:
    info = ServiceInfo(
        HOST, {"Accept": "application/json"}, Credentials(AK, SK, "air", region), 5, 5, "https"
    )
    return Service(
        info,
        {
            "Get": ApiInfo("GET", "/api/knowledge/x", {}, {}, {}),
            "PostEncodedPath": ApiInfo(
                "POST", "/api/knowledge/a b/中文", {}, {}, {"Content-Type": "application/json"}
            ),
        },
    )


def pipeline_request(method, url, sdk_headers, body, *, params=None, lowercase=False) -> httpx.Request:
    headers = {
        (name.lower() if lowercase else name): value
        for name, value in sdk_headers.items()
        if name.lower() not in SET_BY_SIGNER
    }
    return httpx.Request(method, url, params=params, headers=headers, content=body or None)


def assert_agrees(sdk_headers: dict[str, str], mine: httpx.Request) -> None:
    expected = {name.lower(): value for name, value in sdk_headers.items()}
    got = {name: value for name, value in mine.headers.items() if name != "content-length"}
    assert got == expected


def test_get_with_spaces_unicode_and_reserved_query_values() -> None:
    params = {"b": RESERVED, "a": "1", "empty": "", "tilde": "~x*y"}
    ((method, _, headers, body),) = sdk_requests(lambda: generic_service().get("Get", dict(params)))
    mine = pipeline_request(method, f"https://{HOST}/api/knowledge/x", headers, body, params=params)
    fixed_signer().sign(mine)
    assert_agrees(headers, mine)


def test_post_json_to_a_path_needing_encoding() -> None:
    payload = {"name": "知识 库", "filter": None, "limit": -1, "q": RESERVED}
    ((method, _, headers, _),) = sdk_requests(
        lambda: generic_service().json("PostEncodedPath", {}, orjson.dumps(payload).decode())
    )
    mine = pipeline_request(
        method, f"https://{HOST}/api/knowledge/a%20b/%E4%B8%AD%E6%96%87", headers, orjson.dumps(payload)
    )
    fixed_signer().sign(mine)
    assert_agrees(headers, mine)


@pytest.mark.parametrize("region", ["cn-beijing", "cn-north-1"])
def test_header_name_casing_does_not_change_the_signature(region: str) -> None:
    """httpx keeps the caller's spelling: a lowercase `content-type` is signed like `Content-Type`."""
    ((method, url, headers, body),) = sdk_requests(
        lambda: generic_service(region).json("PostEncodedPath", {"k": "v w"}, SPACED_BODY)
    )
    mine = pipeline_request(method, url, headers, body, lowercase=True)
    assert ("content-type", "application/json") in [(k.decode(), v.decode()) for k, v in mine.headers.raw]
    fixed_signer(region).sign(mine)
    assert_agrees(headers, mine)


def vikingdb_collection_list(body: str):
    def drive() -> None:
        service = VikingKnowledgeBaseService(host=HOST, region="cn-beijing", ak=AK, sk=SK, scheme="https")
        service.json("ListCollections", {}, body)

    _ping, listing = sdk_requests(drive)
    return listing


@pytest.mark.parametrize(
    ("body", "content_sha256", "signature"),
    [
        (
            SPACED_BODY,
            "0fbdaeec8d66ac1500d590500eda2a1016e7ce94dd237522b8d9e44082bef767",
            "556b2cbc8673cf1d067ae0dd949413d700eaf04126f67b97ef7a63ba53627641",
        ),
        (
            '{"project":"default","brief":false}',
            "013e0631d9791ca126aa3960b771abc071d3d0b8a54327e6b80a43a1c28590b2",
            "688998ce37591ba8292e3f8e8e36323255e684536a4f86e21af77526f06ab857",
        ),
    ],
    ids=["spaced body", "compact body"],
)
def test_vector_b1_vikingdb_collection_list(body: str, content_sha256: str, signature: str) -> None:
    method, url, headers, sent_body = vikingdb_collection_list(body)
    assert url == f"https://{HOST}/api/knowledge/collection/list?"
    mine = pipeline_request(method, url, headers, sent_body)
    fixed_signer().sign(mine)
    assert_agrees(headers, mine)
    assert mine.headers["x-date"] == X_DATE
    assert mine.headers["x-content-sha256"] == content_sha256
    assert mine.headers["authorization"] == (
        "HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/cn-beijing/air/request, "
        f"SignedHeaders=content-type;host;x-content-sha256;x-date, Signature={signature}"
    )


def test_vector_b2_bare_signer_with_the_docs_region() -> None:
    sdk = Request()
    sdk.method, sdk.path, sdk.body = "POST", "/api/knowledge/collection/list", SPACED_BODY
    sdk.headers = {"Accept": "application/json", "Content-Type": "application/json", "Host": HOST}
    with mock.patch.object(SignerV4, "get_current_format_date", return_value=X_DATE):
        SignerV4.sign(sdk, Credentials(AK, SK, "air", "cn-north-1"))
    mine = httpx.Request(
        "POST",
        f"https://{HOST}/api/knowledge/collection/list",
        headers={"Accept": "application/json", "Content-Type": "application/json"},
        content=SPACED_BODY.encode(),
    )
    fixed_signer("cn-north-1").sign(mine)
    assert_agrees(sdk.headers, mine)
    assert mine.headers["authorization"] == (
        "HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/cn-north-1/air/request, "
        "SignedHeaders=content-type;host;x-content-sha256;x-date, "
        "Signature=127dd6590860c2518211cab93a91cbaa5c118839f5ccc2f38f8a625b62fb6619"
    )


def test_default_port_is_not_signed() -> None:
    explicit = httpx.Request("POST", f"https://{HOST}/p", headers={"Host": f"{HOST}:443"}, content=b"{}")
    implicit = httpx.Request("POST", f"https://{HOST}/p", content=b"{}")
    fixed_signer().sign(explicit)
    fixed_signer().sign(implicit)
    assert explicit.headers["authorization"] == implicit.headers["authorization"]


def test_each_signing_draws_a_fresh_date() -> None:
    ticks = itertools.count()
    signer = VolcSigner(
        AK, SK, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(ticks))
    )
    request = httpx.Request("POST", f"https://{HOST}/p", content=b"{}")
    seen = set()
    for _ in range(3):
        signer.sign(request)
        seen.add((request.headers["x-date"], request.headers["authorization"]))
        assert len(request.headers.get_list("authorization")) == 1
    assert len(seen) == 3


def test_secret_never_shown() -> None:
    signer = VolcSigner(AK, "very-secret-value")
    assert "very-secret-value" not in repr(signer)
    assert "very-secret-value" not in str(signer)
