"""Authentication is checked for real: the official SDKs get in, the SDKs' published test vectors verify, and a
request with one byte changed, a wrong secret, a stale time, a reused nonce or no credentials at all
gets the vendor's own refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from alibabacloud_pailangstudio20240710 import models as pai_models
from alibabacloud_pailangstudio20240710.client import Client as PaiClient
from alibabacloud_tea_openapi.models import Config
from sandbox_clients import PAI_BASE, Pai, Volc, lingma_get, qianfan_post
from volcengine.auth.SignerV4 import SignerV4
from volcengine.viking_knowledgebase import VikingKnowledgeBaseService

from kb_pipeline.sandbox import SandboxServer, credentials
from kb_pipeline.sandbox.signatures import AuthError, NonceLedger, SignedRequest, verify_acs3, verify_volc

VECTOR_NOW = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
EXAMPLE_KEYS = {"AKIDEXAMPLE": "SECRETEXAMPLE"}
EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
A1_HEADERS = [
    ("host", "pailangstudio.cn-hangzhou.aliyuncs.com"),
    ("x-acs-version", "2024-07-10"),
    ("x-acs-action", "ListKnowledgeBaseJobs"),
    ("user-agent", "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2"),
    ("x-acs-date", "2026-01-01T00:00:00Z"),
    ("x-acs-signature-nonce", "0123456789abcdef0123456789abcdef"),
    ("accept", "application/json"),
    ("x-acs-content-sha256", EMPTY_SHA),
    ("x-acs-credentials-provider", "static_ak"),
    (
        "authorization",
        "ACS3-HMAC-SHA256 Credential=AKIDEXAMPLE,SignedHeaders=accept;host;user-agent;x-acs-action;"
        "x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=d2cce31bd04c48ab55127843e0ff2fbe1dc78790cee167038a247cddff0d42f7",
    ),
]
A1_PATH = "/api/v1/langstudio/knowledgebases/d-ksicx823d/knowledgebasejobs"
A1_QUERY = [("MaxResults", "10"), ("NextToken", "20")]
B_BODY = b'{"project": "default", "brief": false}'


def _b_headers(region: str, signature: str) -> list[tuple[str, str]]:
    return [
        ("accept", "application/json"),
        ("content-type", "application/json"),
        ("host", "api-knowledgebase.mlp.cn-beijing.volces.com"),
        ("user-agent", "volc-sdk-python/v1.0.229"),
        ("x-date", "20260101T000000Z"),
        ("x-content-sha256", "0fbdaeec8d66ac1500d590500eda2a1016e7ce94dd237522b8d9e44082bef767"),
        (
            "authorization",
            f"HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/{region}/air/request, "
            f"SignedHeaders=content-type;host;x-content-sha256;x-date, Signature={signature}",
        ),
    ]


B1 = _b_headers("cn-beijing", "556b2cbc8673cf1d067ae0dd949413d700eaf04126f67b97ef7a63ba53627641")
B2 = _b_headers("cn-north-1", "127dd6590860c2518211cab93a91cbaa5c118839f5ccc2f38f8a625b62fb6619")


def test_vector_a1_verifies() -> None:
    request = SignedRequest("GET", A1_PATH, A1_QUERY, A1_HEADERS, b"")
    assert verify_acs3(request, EXAMPLE_KEYS, NonceLedger(), now=VECTOR_NOW) == "AKIDEXAMPLE"


def test_vector_a1_with_one_query_byte_changed_is_refused() -> None:
    request = SignedRequest("GET", A1_PATH, [("MaxResults", "11"), ("NextToken", "20")], A1_HEADERS, b"")
    with pytest.raises(AuthError) as refused:
        verify_acs3(request, EXAMPLE_KEYS, None, now=VECTOR_NOW)
    assert refused.value.reason == "mismatch"
    assert refused.value.string_to_sign.startswith("ACS3-HMAC-SHA256\n")


@pytest.mark.parametrize("headers", [B1, B2], ids=["cn-beijing", "cn-north-1"])
def test_vectors_b1_b2_verify(headers: list[tuple[str, str]]) -> None:
    request = SignedRequest("POST", "/api/knowledge/collection/list", [], headers, B_BODY)
    assert verify_volc(request, EXAMPLE_KEYS, now=VECTOR_NOW) == "AKIDEXAMPLE"


def test_vector_b1_with_one_body_byte_changed_is_refused() -> None:
    request = SignedRequest(
        "POST", "/api/knowledge/collection/list", [], B1, B_BODY.replace(b"false", b"fals3")
    )
    with pytest.raises(AuthError) as refused:
        verify_volc(request, EXAMPLE_KEYS, now=VECTOR_NOW)
    assert refused.value.reason == "body_hash"


def test_vector_b1_is_stale_an_hour_later() -> None:
    request = SignedRequest("POST", "/api/knowledge/collection/list", [], B1, B_BODY)
    with pytest.raises(AuthError) as refused:
        verify_volc(request, EXAMPLE_KEYS, now=VECTOR_NOW + 3600)
    assert refused.value.reason == "expired"


def test_official_pai_sdk_lists_jobs(sandbox: SandboxServer) -> None:
    workspace = sandbox.dataset.pai_workspaces[0]
    kb = sandbox.dataset.pai_knowledge_bases[workspace][0]
    jobs = sandbox.dataset.pai_jobs[kb["KnowledgeBaseId"]]
    config = Config(
        access_key_id=credentials.PAI_ACCESS_KEY_ID,
        access_key_secret=credentials.PAI_ACCESS_KEY_SECRET,
        endpoint=sandbox.url.removeprefix("http://"),
        protocol="http",
    )
    request = pai_models.ListKnowledgeBaseJobsRequest(workspace_id=workspace, max_results=100, order="ASC")
    answer = PaiClient(config).list_knowledge_base_jobs(kb["KnowledgeBaseId"], request)
    assert answer.status_code == 200
    assert answer.body.total_count == len(jobs)
    assert [j.knowledge_base_job_id for j in answer.body.knowledge_base_jobs] == [
        j["KnowledgeBaseJobId"] for j in jobs
    ]


def test_official_volcengine_sdk_lists_collections(sandbox: SandboxServer) -> None:
    service = VikingKnowledgeBaseService(
        host=sandbox.url.removeprefix("http://"),
        scheme="http",
        ak=credentials.VOLC_ACCESS_KEY,
        sk=credentials.VOLC_SECRET_KEY,
    )  # the constructor pings the sandbox with a signed GET /ping
    names = {c.collection_name for c in service.list_collections()}
    assert names == {c["collection_name"] for cs in sandbox.dataset.vikingdb_collections.values() for c in cs}


def _pai_refusal(answer: httpx.Response, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert body["Code"] == code
    assert body["RequestId"] == answer.headers["x-acs-request-id"]
    return body


@pytest.fixture
def pai_jobs_path(sandbox: SandboxServer) -> str:
    kb_id = next(iter(sandbox.dataset.pai_jobs))
    return f"{PAI_BASE}/{kb_id}/knowledgebasejobs"


def test_pai_signed_request_is_accepted(sandbox: SandboxServer, pai_jobs_path: str) -> None:
    assert Pai(sandbox.url).get(pai_jobs_path, {"MaxResults": 5}).status_code == 200


def test_pai_wrong_secret_is_refused(sandbox: SandboxServer, pai_jobs_path: str) -> None:
    answer = Pai(sandbox.url, secret="not-the-secret").get(pai_jobs_path, {"MaxResults": 5})
    body = _pai_refusal(answer, 403, "SignatureDoesNotMatch")
    assert "string to sign" in body["Message"]


def test_pai_unknown_key_is_refused(sandbox: SandboxServer, pai_jobs_path: str) -> None:
    _pai_refusal(
        Pai(sandbox.url, key_id="LTAI5tNobody").get(pai_jobs_path), 404, "InvalidAccessKeyId.NotFound"
    )


def test_pai_tampered_query_is_refused(sandbox: SandboxServer, pai_jobs_path: str) -> None:
    url, headers = Pai(sandbox.url).signed(pai_jobs_path, {"MaxResults": 10})
    _pai_refusal(
        httpx.get(url.replace("MaxResults=10", "MaxResults=11"), headers=headers),
        403,
        "SignatureDoesNotMatch",
    )


def test_pai_tampered_signed_header_is_refused(sandbox: SandboxServer, pai_jobs_path: str) -> None:
    url, headers = Pai(sandbox.url).signed(pai_jobs_path, {"MaxResults": 10})
    headers["x-acs-action"] = "ListKnowledgeBases"
    _pai_refusal(httpx.get(url, headers=headers), 403, "SignatureDoesNotMatch")


def test_pai_stale_timestamp_is_refused(sandbox: SandboxServer, pai_jobs_path: str) -> None:
    stale = (datetime.now(UTC) - timedelta(minutes=16)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _pai_refusal(Pai(sandbox.url).get(pai_jobs_path, date=stale), 400, "InvalidTimeStamp.Expired")


def test_pai_reused_nonce_is_refused(sandbox: SandboxServer, pai_jobs_path: str) -> None:
    url, headers = Pai(sandbox.url).signed(pai_jobs_path, {"MaxResults": 3})
    assert httpx.get(url, headers=headers).status_code == 200
    _pai_refusal(httpx.get(url, headers=headers), 400, "SignatureNonceUsed")


def test_pai_unsigned_request_is_refused(sandbox: SandboxServer, pai_jobs_path: str) -> None:
    _pai_refusal(httpx.get(sandbox.url + pai_jobs_path), 401, "IncompleteSignature")


def _volc_refusal(answer: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    body = answer.json()
    assert body["code"] == 1000001 and body["message"].startswith("unauthorized")
    assert body["request_id"] == answer.headers["x-tt-logid"]


def test_volc_north_region_is_accepted(sandbox: SandboxServer) -> None:
    answer = Volc(sandbox.url, region="cn-north-1").post("/api/knowledge/collection/list", {})
    assert answer.status_code == 200 and answer.json()["code"] == 0


def test_volc_other_region_is_refused(sandbox: SandboxServer) -> None:
    _volc_refusal(Volc(sandbox.url, region="cn-shanghai").post("/api/knowledge/collection/list", {}))


def test_volc_wrong_secret_is_refused(sandbox: SandboxServer) -> None:
    _volc_refusal(Volc(sandbox.url, sk="not-the-secret").post("/api/knowledge/collection/list", {}))


def test_volc_tampered_body_is_refused(sandbox: SandboxServer) -> None:
    volc = Volc(sandbox.url)
    body = b'{"project": "default"}'
    url, headers = volc.signed("/api/knowledge/collection/list", body)
    _volc_refusal(httpx.post(url, content=body.replace(b"default", b"defaulT"), headers=headers))


def test_volc_stale_date_is_refused(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = (datetime.now(UTC) - timedelta(minutes=20)).strftime("%Y%m%dT%H%M%SZ")
    monkeypatch.setattr(SignerV4, "get_current_format_date", staticmethod(lambda: stale))
    _volc_refusal(Volc(sandbox.url).post("/api/knowledge/collection/list", {}))


def test_volc_unsigned_request_is_refused(sandbox: SandboxServer) -> None:
    _volc_refusal(httpx.post(sandbox.url + "/api/knowledge/collection/list", json={}))


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("", "Unauthorized"),
        ("pt-wrong", "InvalidTokenError"),
        (credentials.LINGMA_EXPIRED_TOKEN, "ExpiredTokenError"),
    ],
)
def test_lingma_token_is_checked(sandbox: SandboxServer, token: str, code: str) -> None:
    org_id = next(iter(sandbox.dataset.lingma_organizations))
    answer = lingma_get(sandbox, org_id, token=token)
    assert answer.status_code == 401
    assert answer.json() == {
        "errorCode": code,
        "errorMessage": answer.json()["errorMessage"],
        "requestId": answer.headers["x-request-id"],
    }


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [
        (None, 401, "UnauthorizedError"),
        ("bce-v3/ALTAK-wrong/none", 401, "InvalidApiKey"),
        (credentials.QIANFAN_FORBIDDEN_API_KEY, 403, "PermissionDeniedError"),
    ],
)
def test_qianfan_api_key_is_checked(sandbox: SandboxServer, key: str | None, status: int, code: str) -> None:
    answer = qianfan_post(sandbox, "DescribeKnowledgeBases", {}, key=key)
    assert answer.status_code == status
    body = answer.json()
    assert set(body) == {"requestId", "code", "message"} and body["code"] == code
    assert body["requestId"] == answer.headers["x-appbuilder-request-id"]
