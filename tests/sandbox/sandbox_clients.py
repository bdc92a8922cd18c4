"""Clients for the sandbox tests, signing requests the way the official SDKs sign them.

The signing calls the vendors' own SDK code (alibabacloud_tea_openapi, volcengine), never the
sandbox's verifier, so an accepted request means the SDK and the sandbox agree.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import httpx
from alibabacloud_pailangstudio20240710.client import Client as PaiClient
from alibabacloud_tea_openapi.models import Config as PaiConfig
from alibabacloud_tea_openapi.utils import Utils as AcsUtils
from volcengine.auth.SignerV4 import SignerV4
from volcengine.base.Request import Request as VolcRequest
from volcengine.Credentials import Credentials as VolcCredentials
from volcengine.viking_knowledgebase import VikingKnowledgeBaseService

from kb_pipeline.sandbox import SandboxServer, credentials

PAI_BASE = "/api/v1/langstudio/knowledgebases"


class Pai:
    """Signs PAI LangStudio requests with the Alibaba SDK's own ACS3 code and sends them with httpx."""

    def __init__(
        self,
        url: str,
        key_id: str = credentials.PAI_ACCESS_KEY_ID,
        secret: str = credentials.PAI_ACCESS_KEY_SECRET,
    ) -> None:
        self.url, self.key_id, self.secret = url, key_id, secret
        self.host = url.removeprefix("http://")

    def signed(
        self,
        path: str,
        query: dict[str, Any] | None = None,
        action: str = "ListKnowledgeBaseJobs",
        date: str | None = None,
        nonce: str | None = None,
    ) -> tuple[str, dict[str, str]]:
        query = {k: str(v) for k, v in (query or {}).items()}
        headers = {
            "host": self.host,
            "x-acs-version": "2024-07-10",
            "x-acs-action": action,
            "x-acs-date": date or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
            "accept": "application/json",
            "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(),
        }
        request = SimpleNamespace(pathname=path, query=query, headers=headers, method="GET")
        headers["Authorization"] = AcsUtils.get_authorization(
            request, "ACS3-HMAC-SHA256", headers["x-acs-content-sha256"], self.key_id, self.secret
        )
        url = f"{self.url}{path}" + (f"?{urlencode(query)}" if query else "")
        return url, headers

    def get(
        self,
        path: str,
        query: dict[str, Any] | None = None,
        action: str = "ListKnowledgeBaseJobs",
        **signing: Any,
    ) -> httpx.Response:
        url, headers = self.signed(path, query, action, **signing)
        return httpx.get(url, headers=headers)

    def jobs(self, kb_id: str, **query: Any) -> httpx.Response:
        return self.get(f"{PAI_BASE}/{kb_id}/knowledgebasejobs", query)

    def knowledge_bases(self, **query: Any) -> httpx.Response:
        return self.get(PAI_BASE, query, action="ListKnowledgeBases")

    def chunks(self, kb_id: str, **query: Any) -> httpx.Response:
        return self.get(f"{PAI_BASE}/{kb_id}/knowledgebasechunks", query, action="ListKnowledgeBaseChunks")


class Volc:
    """Signs VikingDB requests with the volcengine SDK's SignerV4 and sends them with httpx."""

    def __init__(
        self,
        url: str,
        ak: str = credentials.VOLC_ACCESS_KEY,
        sk: str = credentials.VOLC_SECRET_KEY,
        region: str = "cn-beijing",
    ) -> None:
        self.url = url
        self.credentials = VolcCredentials(ak, sk, "air", region)

    def signed(self, path: str, body: bytes, method: str = "POST") -> tuple[str, dict[str, str]]:
        request = VolcRequest()
        request.set_method(method)
        request.set_path(path)
        request.set_headers(
            {
                "Accept": "application/json",
                "Content-Type": "application/json",
                "Host": self.url.removeprefix("http://"),
            }
        )
        request.set_body(body)
        SignerV4.sign(request, self.credentials)
        return f"{self.url}{path}", dict(request.headers)

    def post(self, path: str, payload: Any) -> httpx.Response:
        body = json.dumps(payload).encode()
        url, headers = self.signed(path, body)
        return httpx.post(url, content=body, headers=headers)


def lingma_get(
    server: SandboxServer, org_id: str, token: str = credentials.LINGMA_TOKEN, **query: Any
) -> httpx.Response:
    path = f"/oapi/v1/lingma/organizations/{org_id}/knowledgeBases"
    return httpx.get(server.url + path, params=query, headers={"x-yunxiao-token": token})


def lingma_files_get(
    server: SandboxServer, org_id: str, kb_id: str, token: str = credentials.LINGMA_TOKEN, **query: Any
) -> httpx.Response:
    path = f"/oapi/v1/lingma/organizations/{org_id}/knowledgeBases/{kb_id}/files"
    return httpx.get(server.url + path, params=query, headers={"x-yunxiao-token": token})


def pai_sdk(server: SandboxServer) -> PaiClient:
    """The official PAI LangStudio client, pointed at the sandbox."""
    config = PaiConfig(
        access_key_id=credentials.PAI_ACCESS_KEY_ID,
        access_key_secret=credentials.PAI_ACCESS_KEY_SECRET,
        endpoint=server.url.removeprefix("http://"),
        protocol="http",
    )
    return PaiClient(config)


def volc_sdk(server: SandboxServer) -> VikingKnowledgeBaseService:
    """The official VikingDB knowledge-base client, pointed at the sandbox (it pings on creation)."""
    return VikingKnowledgeBaseService(
        host=server.url.removeprefix("http://"),
        scheme="http",
        ak=credentials.VOLC_ACCESS_KEY,
        sk=credentials.VOLC_SECRET_KEY,
    )


def qianfan_post(
    server: SandboxServer, action: str, payload: Any, key: str | None = credentials.QIANFAN_API_KEY
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(
        f"{server.url}/v2/knowledgeBase", params={"Action": action}, json=payload, headers=headers
    )
