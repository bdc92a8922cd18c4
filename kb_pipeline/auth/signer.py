"""The contract every signer meets, and the canonical-request pieces the HMAC signers share."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl

import httpx
from pydantic import SecretStr

Clock = Callable[[], datetime]


@runtime_checkable
class Signer(Protocol):
    """Adds authentication headers to a built request, in place.

    Called anew for every attempt of a request, so that each attempt carries a fresh date and
    nonce: a gateway that refuses a reused nonce then never sees one.
    """

    def sign(self, request: httpx.Request) -> None: ...


def as_secret(value: str | SecretStr) -> SecretStr:
    """Wraps a credential so that repr/str/logs show `**********`, never the value."""
    return value if isinstance(value, SecretStr) else SecretStr(value)


def utc_now() -> datetime:
    """The default clock of the signers (timezone-aware UTC)."""
    return datetime.now(UTC)


def body_sha256(request: httpx.Request) -> str:
    """Hex SHA-256 of the exact body bytes that will be sent (empty body included)."""
    return hashlib.sha256(request.content).hexdigest()


def decoded_query(request: httpx.Request) -> list[tuple[str, str]]:
    """The query as (key, value) pairs decoded from the URL the request will use.

    Signatures are computed over a canonical re-encoding of these values, never over the
    raw query string: the wire form (`+` for a space) differs from the signed form (`%20`).
    """
    return parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True)
