"""Acs3Signer agrees byte for byte with Alibaba's official SDK (alibabacloud_tea_openapi driving
alibabacloud_pailangstudio20240710), so PAI LangStudio accepts what the pipeline sends.

The SDK runs end to end with only its clock, nonce and transport patched; the request it would
send is captured and the same request, built the way the pipeline builds it (httpx params,
`expand_path`, orjson body), is signed by Acs3Signer.
"""

from __future__ import annotations

import io
import itertools
import re
from datetime import UTC, datetime, timedelta
from unittest import mock

import httpx
import orjson
import pytest
from alibabacloud_pailangstudio20240710 import models
from alibabacloud_pailangstudio20240710.client import Client
from alibabacloud_tea_openapi import utils as openapi_utils
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.core import DaraCore
from darabonba.response import DaraResponse
from darabonba.runtime import RuntimeOptions

from kb_pipeline.auth import Acs3Signer
from kb_pipeline.http import expand_path

AK, SK = "AKIDEXAMPLE", "SECRETEXAMPLE"
ENDPOINT = "pailangstudio.cn-hangzhou.aliyuncs.com"
DATE = "2026-01-01T00:00:00Z"
NONCE = "0123456789abcdef0123456789abcdef"
SET_BY_SIGNER = {"authorization", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"}
UA = "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2"
RESERVED = "a b/中文+=&*~%"


def fixed_signer() -> Acs3Signer:
    return Acs3Signer(AK, SK, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC), nonce=lambda: NONCE)


def sdk_request(operation):
    """Run one SDK operation; return the DaraRequest it would have sent."""
    sent = []

    def capture(request, runtime=None):
        sent.append(request)
        response = DaraResponse()
        response.status_code = 200
        response.headers = {"content-type": "application/json"}
        response.body = io.BytesIO(b'{"RequestId": "sdk-test"}')
        return response

    with (
        mock.patch.object(openapi_utils.Utils, "get_timestamp", return_value=DATE),
        mock.patch.object(openapi_utils.Utils, "get_nonce", return_value=NONCE),
        mock.patch.object(DaraCore, "do_action", side_effect=capture),
    ):
        operation(Client(Config(access_key_id=AK, access_key_secret=SK, endpoint=ENDPOINT)))
    (request,) = sent
    return request


def pipeline_request(sdk, *, path: str, params=None, json=None) -> httpx.Request:
    """The request as the pipeline builds it, with the SDK's own non-signature headers."""
    headers = {name: value for name, value in sdk.headers.items() if name.lower() not in SET_BY_SIGNER}
    content = orjson.dumps(json) if json is not None else None
    return httpx.Request(
        sdk.method, f"https://{ENDPOINT}{path}", params=params, headers=headers, content=content
    )


def assert_same_signed_headers(sdk, mine: httpx.Request) -> None:
    expected = {name.lower(): value for name, value in sdk.headers.items()}
    got = {name: value for name, value in mine.headers.items() if name != "content-length"}
    assert got == expected


CASES = {
    "list jobs, NextToken paging": (
        lambda c: c.list_knowledge_base_jobs_with_options(
            "d-ksicx823d",
            models.ListKnowledgeBaseJobsRequest(max_results=10, next_token="20", sort_by="GmtCreateTime"),
            {},
            RuntimeOptions(),
        ),
        {
            "path": "/api/v1/langstudio/knowledgebases/d-ksicx823d/knowledgebasejobs",
            "params": {"MaxResults": 10, "NextToken": "20", "SortBy": "GmtCreateTime"},
        },
    ),
    "query values with spaces, Chinese and reserved characters": (
        lambda c: c.list_knowledge_bases_with_options(
            models.ListKnowledgeBasesRequest(name=RESERVED, workspace_id="w 1", creator="~tilde*star"),
            {},
            RuntimeOptions(),
        ),
        {
            "path": "/api/v1/langstudio/knowledgebases",
            "params": {"Name": RESERVED, "WorkspaceId": "w 1", "Creator": "~tilde*star"},
        },
    ),
    "path parameter needing encoding": (
        lambda c: c.get_knowledge_base_with_options(
            RESERVED, models.GetKnowledgeBaseRequest(workspace_id="ws-1"), {}, RuntimeOptions()
        ),
        {
            "path": expand_path(
                "/api/v1/langstudio/knowledgebases/{KnowledgeBaseId}", KnowledgeBaseId=RESERVED
            ),
            "params": {"WorkspaceId": "ws-1"},
        },
    ),
    "POST with a JSON body": (
        lambda c: c.create_knowledge_base_with_options(
            models.CreateKnowledgeBaseRequest(name="知识 库 +/=", description="d&*~", workspace_id="1"),
            {},
            RuntimeOptions(),
        ),
        {
            "path": "/api/v1/langstudio/knowledgebases",
            "json": {"Description": "d&*~", "Name": "知识 库 +/=", "WorkspaceId": "1"},
        },
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_signature_matches_the_official_sdk(case: str) -> None:
    operation, build = CASES[case]
    sdk = sdk_request(operation)
    mine = pipeline_request(sdk, **build)
    fixed_signer().sign(mine)
    assert_same_signed_headers(sdk, mine)
    assert sdk.headers["Authorization"].startswith("ACS3-HMAC-SHA256 Credential=AKIDEXAMPLE,SignedHeaders=")


def test_wire_form_differs_from_signed_form_yet_signature_agrees() -> None:
    """The SDK sends `+` for a space (urlencode), httpx may not; both sign `%20`."""
    sdk = sdk_request(CASES["query values with spaces, Chinese and reserved characters"][0])
    assert "Name=a+b%2F" in DaraCore.compose_url(sdk)
    mine = pipeline_request(sdk, path="/api/v1/langstudio/knowledgebases", params=dict(sdk.query))
    fixed_signer().sign(mine)
    assert mine.headers["authorization"] == sdk.headers["Authorization"]


def test_vector_a1_end_to_end_sdk_headers() -> None:
    request = httpx.Request(
        "GET",
        f"https://{ENDPOINT}/api/v1/langstudio/knowledgebases/d-ksicx823d/knowledgebasejobs",
        params={"MaxResults": 10, "NextToken": "20"},
        headers={
            "host": ENDPOINT,
            "x-acs-version": "2024-07-10",
            "x-acs-action": "ListKnowledgeBaseJobs",
            "user-agent": UA,
            "accept": "application/json",
            "x-acs-credentials-provider": "static_ak",
        },
    )
    fixed_signer().sign(request)
    assert request.headers["x-acs-date"] == DATE
    assert request.headers["x-acs-signature-nonce"] == NONCE
    assert request.headers["x-acs-content-sha256"] == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert request.headers["authorization"] == (
        "ACS3-HMAC-SHA256 Credential=AKIDEXAMPLE,SignedHeaders=accept;host;user-agent;x-acs-action;"
        "x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=d2cce31bd04c48ab55127843e0ff2fbe1dc78790cee167038a247cddff0d42f7"
    )


def test_vector_a2_minimal_header_set() -> None:
    request = httpx.Request(
        "GET",
        f"https://{ENDPOINT}/api/v1/langstudio/knowledgebases/d-ksicx823d/knowledgebasejobs?MaxResults=10&NextToken=20",
        headers={
            "x-acs-version": "2024-07-10",
            "x-acs-action": "ListKnowledgeBaseJobs",
            "accept": "application/json",
        },
    )
    fixed_signer().sign(request)
    assert request.headers["authorization"] == (
        "ACS3-HMAC-SHA256 Credential=AKIDEXAMPLE,SignedHeaders=accept;host;x-acs-action;x-acs-content-sha256;"
        "x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=61a8a8c11ea6766b31709fdacda74c79a5e09bf3a018fc12340d42a6a39cf2ad"
    )


def test_every_header_on_the_request_is_signed_but_connection_ones() -> None:
    """httpx's client adds accept-encoding, connection and user-agent; only end-to-end ones are signed."""
    with httpx.Client() as client:
        request = client.build_request(
            "POST", f"https://{ENDPOINT}/p", headers={"x-acs-action": "A", "X-Custom": "v"}, json={"a": 1}
        )
    fixed_signer().sign(request)
    signed = re.search(r"SignedHeaders=([^,]+)", request.headers["authorization"]).group(1).split(";")
    assert signed == sorted(signed)
    assert {
        "accept",
        "accept-encoding",
        "content-type",
        "host",
        "user-agent",
        "x-acs-action",
        "x-custom",
    } <= set(signed)
    assert not {"connection", "content-length", "authorization"} & set(signed)


def test_each_signing_draws_a_fresh_date_and_nonce() -> None:
    ticks = itertools.count()
    signer = Acs3Signer(
        AK, SK, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=next(ticks))
    )
    request = httpx.Request("GET", f"https://{ENDPOINT}/p")
    seen = []
    for _ in range(3):
        signer.sign(request)
        seen.append(
            (
                request.headers["x-acs-date"],
                request.headers["x-acs-signature-nonce"],
                request.headers["authorization"],
            )
        )
    for field in zip(*seen, strict=True):
        assert len(set(field)) == 3
    assert all(re.fullmatch(r"[0-9a-f]{32}", nonce) for _, nonce, _ in seen)


def test_resigning_ignores_the_previous_authorization() -> None:
    once, twice = httpx.Request("GET", f"https://{ENDPOINT}/p"), httpx.Request("GET", f"https://{ENDPOINT}/p")
    fixed_signer().sign(once)
    fixed_signer().sign(twice)
    fixed_signer().sign(twice)
    assert twice.headers.get_list("authorization") == [once.headers["authorization"]]


def test_secret_never_shown() -> None:
    signer = Acs3Signer(AK, "very-secret-value")
    assert "very-secret-value" not in repr(signer)
    assert "very-secret-value" not in str(signer)
    assert AK in repr(signer)
