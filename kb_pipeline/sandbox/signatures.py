"""Server-side verification of the two request-signing schemes, recomputed from the request received.

The sandbox re-derives each signature from what arrived on the wire (method, raw path, decoded
query, the headers the client says it signed, the body), so a client that signs anything
differently from the vendor's own SDK is refused here just as the vendor would refuse it.

- Alibaba Cloud V3, `ACS3-HMAC-SHA256` (PAI LangStudio): canonical query rebuilt from the decoded
  query with `quote(v, safe='~')`, keys sorted; canonical headers from `SignedHeaders` as sent
  (which must cover `host` and every `x-acs-*` header); `x-acs-content-sha256` must match the body;
  `x-acs-date` within the allowed skew; `x-acs-signature-nonce` used once.
- Volcengine `HMAC-SHA256` (VikingDB, service `air`): scope `YYYYMMDD/<region>/air/request`,
  query normalised with `quote(safe='-_.~')`, headers from `SignedHeaders` as sent (`host` with
  `:80`/`:443` dropped), body hash recomputed, `X-Date` within the allowed skew.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import quote, unquote

from kb_pipeline.sandbox.settings import CLOCK_SKEW_SECONDS, VIKINGDB_REGIONS

AuthFailure = Literal[
    "missing", "malformed", "unknown_key", "mismatch", "expired", "nonce_reused", "body_hash"
]


class AuthError(Exception):
    """A refused signature: `reason` selects the vendor's error code, `detail` says what is wrong."""

    def __init__(self, reason: AuthFailure, detail: str, string_to_sign: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.string_to_sign = string_to_sign


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What the server received, in the form both verifiers read."""

    method: str
    raw_path: str
    """The path as sent (still percent-encoded), without the query."""
    query: Sequence[tuple[str, str]]
    """Decoded query pairs, in the order received."""
    headers: Sequence[tuple[str, str]]
    """Header names lowercased, values as received, repeated names kept."""
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


class NonceLedger:
    """Remembers Alibaba signature nonces for twice the allowed skew, so a replay is refused."""

    def __init__(self, ttl_seconds: float = 2 * CLOCK_SKEW_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def use(self, nonce: str, now: float) -> bool:
        """Record `nonce`; False if it was already used and has not yet expired."""
        with self._lock:
            if len(self._expiry) > 50_000:
                self._expiry = {n: t for n, t in self._expiry.items() if t > now}
            expires = self._expiry.get(nonce)
            if expires is not None and expires > now:
                return False
            self._expiry[nonce] = now + self._ttl
            return True


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _auth_fields(authorization: str, algorithm: str, separator: str) -> dict[str, str]:
    if not authorization.startswith(algorithm + " "):
        raise AuthError("malformed", f"Authorization must start with {algorithm!r}")
    fields: dict[str, str] = {}
    for part in authorization[len(algorithm) + 1 :].split(separator):
        name, eq, value = part.strip().partition("=")
        if eq:
            fields[name] = value
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if k not in fields]
    if missing:
        raise AuthError("malformed", f"Authorization lacks {', '.join(missing)}")
    return fields


def _check_skew(signed_at: datetime, now: float, header: str) -> None:
    skew = abs(signed_at.timestamp() - now)
    if skew > CLOCK_SKEW_SECONDS:
        raise AuthError("expired", f"{header} is {int(skew)} s away from the server clock (limit 900 s)")


def _canonical_headers(request: SignedRequest, names: Iterable[str], strip_default_port: bool) -> str:
    lines = []
    for name in names:
        values = [v.strip() for v in request.header_values(name)]
        if strip_default_port and name == "host":
            values = [re.sub(r":(80|443)$", "", v) for v in values]
        lines.append(f"{name}:{','.join(sorted(values))}\n")
    return "".join(lines)


def verify_acs3(
    request: SignedRequest,
    secrets: Mapping[str, str],
    nonces: NonceLedger | None,
    now: float | None = None,
) -> str:
    """Verify an Alibaba Cloud V3 (`ACS3-HMAC-SHA256`) request; return its AccessKey id."""
    now = time.time() if now is None else now
    authorization = request.header("authorization")
    if not authorization:
        raise AuthError("missing", "the Authorization header is missing")
    fields = _auth_fields(authorization, "ACS3-HMAC-SHA256", ",")
    key_id = fields["Credential"]
    secret = secrets.get(key_id)
    if secret is None:
        raise AuthError("unknown_key", f"AccessKey id {key_id!r} is not known")
    signed = fields["SignedHeaders"].split(";")
    present = {name for name, _ in request.headers}
    unsigned = sorted(n for n in present if (n.startswith("x-acs-") or n == "host") and n not in signed)
    if unsigned:
        raise AuthError("malformed", f"headers present but not signed: {', '.join(unsigned)}")
    for required in ("x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"):
        if not request.header(required):
            raise AuthError("missing", f"the {required} header is missing")
    date = request.header("x-acs-date") or ""
    try:
        signed_at = datetime.strptime(date, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise AuthError("malformed", f"x-acs-date {date!r} is not YYYY-MM-DDTHH:MM:SSZ") from None
    _check_skew(signed_at, now, "x-acs-date")
    payload_hash = request.header("x-acs-content-sha256") or ""
    if payload_hash != _sha256_hex(request.body):
        raise AuthError("body_hash", "x-acs-content-sha256 does not match the request body")

    query = "&".join(f"{k}={quote(v, safe='~')}" for k, v in sorted(request.query, key=lambda kv: kv[0]))
    canonical = "\n".join(
        [
            request.method,
            request.raw_path or "/",
            query,
            _canonical_headers(request, signed, strip_default_port=False),
            ";".join(signed),
            payload_hash,
        ]
    )
    string_to_sign = f"ACS3-HMAC-SHA256\n{_sha256_hex(canonical.encode())}"
    expected = _hmac(secret.encode(), string_to_sign).hex()
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise AuthError("mismatch", "the signature does not match", string_to_sign)
    if nonces is not None and not nonces.use(request.header("x-acs-signature-nonce") or "", now):
        raise AuthError("nonce_reused", "x-acs-signature-nonce was already used")
    return key_id


def _volc_query(pairs: Sequence[tuple[str, str]]) -> str:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k in sorted(grouped) for v in grouped[k]
    ).replace("+", "%20")


def volc_signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k_date = _hmac(secret.encode(), date)
    return _hmac(_hmac(_hmac(k_date, region), service), "request")


def verify_volc(
    request: SignedRequest,
    secrets: Mapping[str, str],
    now: float | None = None,
    service: str = "air",
    regions: Sequence[str] = VIKINGDB_REGIONS,
) -> str:
    """Verify a Volcengine `HMAC-SHA256` request for `service`; return its AccessKey id."""
    now = time.time() if now is None else now
    authorization = request.header("authorization")
    if not authorization:
        raise AuthError("missing", "the Authorization header is missing")
    fields = _auth_fields(authorization, "HMAC-SHA256", ",")
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "request":
        raise AuthError("malformed", "Credential must be <AK>/<YYYYMMDD>/<region>/<service>/request")
    key_id, date, region, scope_service, _ = scope
    secret = secrets.get(key_id)
    if secret is None:
        raise AuthError("unknown_key", f"AccessKey {key_id!r} is not known")
    if scope_service != service or region not in regions:
        raise AuthError(
            "malformed", f"credential scope {region}/{scope_service} is not one of {list(regions)}/{service}"
        )
    x_date = request.header("x-date")
    if not x_date:
        raise AuthError("missing", "the X-Date header is missing")
    try:
        signed_at = datetime.strptime(x_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise AuthError("malformed", f"X-Date {x_date!r} is not YYYYMMDDTHHMMSSZ") from None
    if x_date[:8] != date:
        raise AuthError("malformed", f"credential date {date} differs from X-Date {x_date}")
    _check_skew(signed_at, now, "X-Date")
    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed or "x-date" not in signed:
        raise AuthError("malformed", "SignedHeaders must include host and x-date")
    body_hash = _sha256_hex(request.body)
    declared = request.header("x-content-sha256")
    if declared is not None and declared != body_hash:
        raise AuthError("body_hash", "X-Content-Sha256 does not match the request body")

    canonical = "\n".join(
        [
            request.method,
            quote(unquote(request.raw_path or "/")),
            _volc_query(request.query),
            _canonical_headers(request, signed, strip_default_port=True),
            ";".join(signed),
            body_hash,
        ]
    )
    string_to_sign = "\n".join(
        ["HMAC-SHA256", x_date, f"{date}/{region}/{service}/request", _sha256_hex(canonical.encode())]
    )
    expected = _hmac(volc_signing_key(secret, date, region, service), string_to_sign).hex()
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise AuthError("mismatch", "the signature does not match", string_to_sign)
    return key_id
