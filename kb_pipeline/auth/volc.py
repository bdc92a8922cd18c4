"""Volcengine request signing (HMAC-SHA256, SignerV4), as the official volcengine SDK computes it."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from kb_pipeline.auth.signer import Clock, as_secret, body_sha256, decoded_query, utc_now

ALGORITHM = "HMAC-SHA256"
SIGNED_NAMES = frozenset({"content-type", "content-md5", "host"})


class VolcSigner:
    """Signs Volcengine OpenAPI requests (VikingDB knowledge base: service `air`).

    Sets `X-Date`, `X-Content-Sha256` and `Authorization`. Signed headers are `Content-Type`,
    `Content-Md5`, `Host` and every `X-*` header. The SDK picks them by the exact spelling of
    its own dict keys; httpx keeps whatever spelling a caller used (and spells its own
    `Host`/`Content-Type` that way), so they are matched here without regard to case: for the
    SDK's requests the result is identical, and a lowercase `content-type` is still signed.
    """

    def __init__(
        self,
        access_key_id: str,
        secret_access_key: str | SecretStr,
        region: str = "cn-beijing",
        service: str = "air",
        *,
        clock: Clock = utc_now,
    ) -> None:
        self.access_key_id = access_key_id
        self._secret = as_secret(secret_access_key)
        self.region = region
        self.service = service
        self._clock = clock

    def __repr__(self) -> str:
        return (
            f"VolcSigner(access_key_id={self.access_key_id!r}, region={self.region!r}, "
            f"service={self.service!r})"
        )

    def sign(self, request: httpx.Request) -> None:
        x_date = self._clock().strftime("%Y%m%dT%H%M%SZ")
        date = x_date[:8]
        payload_hash = body_sha256(request)
        request.headers["X-Date"] = x_date
        request.headers["X-Content-Sha256"] = payload_hash
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
        scope = f"{date}/{self.region}/{self.service}/request"
        string_to_sign = "\n".join(
            [ALGORITHM, x_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
        )
        key = self._secret.get_secret_value().encode()
        for part in (date, self.region, self.service, "request"):
            key = _hmac(key, part)
        signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        request.headers["Authorization"] = (
            f"{ALGORITHM} Credential={self.access_key_id}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def canonical_uri(request: httpx.Request) -> str:
    """The decoded path re-encoded with `quote` (slashes kept), as the SDK's `norm_uri`."""
    return quote(request.url.path or "/")


def canonical_query(request: httpx.Request) -> str:
    """Keys sorted (repeated keys keep their order), key and value quoted with `safe='-_.~'`."""
    grouped: dict[str, list[str]] = {}
    for key, value in decoded_query(request):
        grouped.setdefault(key, []).append(value)
    return "&".join(
        f"{quote(key, safe='-_.~')}={quote(value, safe='-_.~')}"
        for key in sorted(grouped)
        for value in grouped[key]
    )


def canonical_headers(request: httpx.Request) -> tuple[str, str]:
    """(`name:value\\n` lines, `;`-joined names) over the signed headers; `Host` loses :80/:443."""
    signed: dict[str, str] = {}
    for name, value in request.headers.multi_items():
        if name in SIGNED_NAMES or name.startswith("x-"):
            signed[name] = value
    host = signed.get("host", "")
    if host.endswith((":80", ":443")):
        signed["host"] = host.rsplit(":", 1)[0]
    names = sorted(signed)
    return "".join(f"{name}:{signed[name]}\n" for name in names), ";".join(names)
