"""Static-token signers put the token where Qianfan and Lingma look for it, and nowhere else."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from kb_pipeline.auth import BearerSigner, HeaderTokenSigner, Signer


@pytest.mark.parametrize(
    "key", ["bce-v3/ALTAK-abc/def", "Bearer bce-v3/ALTAK-abc/def", SecretStr("bce-v3/ALTAK-abc/def")]
)
def test_bearer_prefix_is_never_doubled(key) -> None:
    request = httpx.Request("POST", "https://qianfan.example.test/v2/knowledgeBase?Action=DescribeDocuments")
    BearerSigner(key).sign(request)
    assert request.headers.get_list("authorization") == ["Bearer bce-v3/ALTAK-abc/def"]


def test_header_token_goes_in_the_named_header() -> None:
    request = httpx.Request(
        "GET", "https://openapi-rdc.example.test/oapi/v1/lingma/organizations/o/knowledgeBases"
    )
    HeaderTokenSigner("x-yunxiao-token", "pt-0fh3abc").sign(request)
    assert request.headers["x-yunxiao-token"] == "pt-0fh3abc"
    assert "authorization" not in request.headers


def test_tokens_never_shown_and_signers_meet_the_protocol() -> None:
    for signer in (BearerSigner("pt-secret-1"), HeaderTokenSigner("x-yunxiao-token", "pt-secret-1")):
        assert isinstance(signer, Signer)
        assert "pt-secret-1" not in repr(signer)
        assert "pt-secret-1" not in str(signer)
