"""Alibaba Cloud signature V3 (ACS3-HMAC-SHA256), as the official tea-openapi SDK computes it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from kb_pipeline.auth.signer import Clock, as_secret, body_sha256, decoded_query, utc_now

ALGORITHM = "ACS3-HMAC-SHA256"

# Headers that a connection, not the application, owns: a proxy may drop or rewrite them, so
# signing them would make a valid request fail verification. Everything else is signed.
UNSIGNED_HEADERS = frozenset(
    {
        "authorization",
        "connection",
        "content-length",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


def new_nonce() -> str:
    """A random 32-hex-digit nonce, the shape of the SDK's md5-based one."""
    return secrets.token_hex(16)


class Acs3Signer:
    """Signs Alibaba Cloud OpenAPI (ROA/RPC) requests with an AccessKey pair.

    Sets `x-acs-date`, `x-acs-signature-nonce`, `x-acs-content-sha256` and `Authorization`.
    Every header already on the request (host included) is signed, so callers set
    `x-acs-action`, `x-acs-version` and `accept` before signing. `clock` and `nonce` exist
    for tests; a fresh nonce is drawn on every call of `sign`.
    """

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str | SecretStr,
        *,
        clock: Clock = utc_now,
        nonce: Callable[[], str] = new_nonce,
    ) -> None:
        self.access_key_id = access_key_id
        self._secret = as_secret(access_key_secret)
        self._clock = clock
        self._nonce = nonce

    def __repr__(self) -> str:
        return f"Acs3Signer(access_key_id={self.access_key_id!r})"

    def sign(self, request: httpx.Request) -> None:
        payload_hash = body_sha256(request)
        request.headers["x-acs-date"] = self._clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        request.headers["x-acs-signature-nonce"] = self._nonce()
        request.headers["x-acs-content-sha256"] = payload_hash
        headers, signed_headers = canonical_headers(request)
        canonical_request = "\n".join(
            [
                request.method,
                canonical_uri(request),
                canonical_query(request),
                headers,
                signed_headers,
                payload_hash,
            ]
        )
        string_to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"
        signature = hmac.new(
            self._secret.get_secret_value().encode(), string_to_sign.encode(), hashlib.sha256
        ).hexdigest()
        request.headers["Authorization"] = (
            f"{ALGORITHM} Credential={self.access_key_id},"
            f"SignedHeaders={signed_headers},Signature={signature}"
        )


def canonical_uri(request: httpx.Request) -> str:
    """The path exactly as sent (path parameters already percent-encoded), or `/`."""
    return request.url.raw_path.split(b"?", 1)[0].decode("ascii") or "/"


def canonical_query(request: httpx.Request) -> str:
    """Keys sorted, each value re-encoded with `quote(value, safe='~')` (a space becomes %20)."""
    pairs = sorted(decoded_query(request))
    return "&".join(f"{key}={quote(value, safe='~')}" for key, value in pairs)


def canonical_headers(request: httpx.Request) -> tuple[str, str]:
    """(`name:value\\n` lines, `;`-joined names) over every signable header, names lowercased.

    Values are stripped; repeated names are joined with `,` after sorting, as the SDK does.
    """
    values: dict[str, list[str]] = {}
    for name, value in request.headers.multi_items():
        if name not in UNSIGNED_HEADERS:
            values.setdefault(name, []).append(value.strip())
    names = sorted(values)
    lines = "".join(f"{name}:{','.join(sorted(values[name]))}\n" for name in names)
    return lines, ";".join(names)
