"""Static-token authentication: a bearer API key (Qianfan) or a token in a named header (Lingma)."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from kb_pipeline.auth.signer import as_secret


class BearerSigner:
    """Sends `Authorization: Bearer <api key>`; a key that already starts with `Bearer ` is not doubled."""

    def __init__(self, api_key: str | SecretStr) -> None:
        self._api_key = as_secret(api_key)

    def __repr__(self) -> str:
        return "BearerSigner(api_key='**********')"

    def sign(self, request: httpx.Request) -> None:
        key = self._api_key.get_secret_value()
        request.headers["Authorization"] = key if key.startswith("Bearer ") else f"Bearer {key}"


class HeaderTokenSigner:
    """Sends a token in one named header, e.g. Lingma's `x-yunxiao-token`."""

    def __init__(self, header_name: str, token: str | SecretStr) -> None:
        self.header_name = header_name
        self._token = as_secret(token)

    def __repr__(self) -> str:
        return f"HeaderTokenSigner(header_name={self.header_name!r}, token='**********')"

    def sign(self, request: httpx.Request) -> None:
        request.headers[self.header_name] = self._token.get_secret_value()
