"""Pure helpers the vendor normalizers share: times to UTC, human sizes to bytes, URL credentials out.

Vendors send times as epoch milliseconds (Lingma), epoch seconds (VikingDB) or ISO strings
(Qianfan, PAI), sizes as bytes or as display strings (Lingma's ``"0 B"``), and pre-signed URLs
whose query carries a signature and an access key id. These functions turn each into the one
form the table contract holds, and never guess silently: what they cannot read raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import SplitResult, unquote_plus, urlsplit, urlunsplit

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_MS_THRESHOLD = 100_000_000_000  # 1e11: as seconds that is the year 5138, as ms it is 1973
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def to_utc(value: Any) -> datetime | None:
    """A timezone-aware UTC datetime from an epoch number, a numeric string or an ISO 8601 string.

    Integers and floats of at least 1e11 are epoch milliseconds, smaller ones epoch seconds.
    ISO strings may carry ``Z`` or an offset; a naive one is taken as UTC, as is a naive datetime.
    None and the empty string give None. Anything else raises ValueError (or TypeError for a
    value that is not a time at all, such as a bool).
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, bool):
        raise TypeError(f"cannot read a time from the boolean {value!r}")
    if isinstance(value, int | float):
        return _from_epoch(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if _NUMBER.fullmatch(text):
            number = float(text) if "." in text else int(text)
            return _from_epoch(number)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"cannot read a time from {value!r}: not epoch seconds/ms nor ISO 8601"
            ) from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise TypeError(f"cannot read a time from a {type(value).__name__}: {value!r}")


def _from_epoch(number: float) -> datetime:
    try:
        if abs(number) >= _EPOCH_MS_THRESHOLD:
            return _EPOCH + timedelta(milliseconds=number)
        return _EPOCH + timedelta(seconds=number)
    except OverflowError:
        raise ValueError(f"epoch time {number!r} is out of range") from None


# Binary units, as consoles such as Lingma's display them: 1 KB = 1 KiB = 1024 B.
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "byte": 1,
    "bytes": 1,
    **{
        spelling: 1024**power
        for power, letter in enumerate("kmgtp", start=1)
        for spelling in (letter, f"{letter}b", f"{letter}ib")
    },
}
_SIZE = re.compile(r"(?P<number>\d[\d,]*(?:\.\d+)?|\.\d+)\s*(?P<unit>[A-Za-z]*)")


def parse_size(value: Any) -> int | None:
    """Bytes from an integer or a human size string such as ``"312 KB"``, ``"1.5 MB"`` or ``"1,024 B"``.

    Units are binary whatever their spelling: ``KB``, ``K`` and ``KiB`` all mean 1024 bytes, ``MB``
    1024², and so on up to ``PB``; this is how the vendor consoles compute the sizes they display.
    Fractions are rounded to the nearest byte. None and ``""`` give None; a string that is not a
    size (or a negative number) raises ValueError naming the value.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"cannot read a size from the boolean {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a size cannot be negative: {value!r}")
        return round(value)
    if not isinstance(value, str):
        raise TypeError(f"cannot read a size from a {type(value).__name__}: {value!r}")
    text = value.strip()
    if not text:
        return None
    match = _SIZE.fullmatch(text)
    factor = _SIZE_UNITS.get(match["unit"].lower()) if match else None
    if match is None or factor is None:
        raise ValueError(
            f"cannot read a size from {value!r}: expected a number and a unit such as B, KB, MB, GB"
        )
    return round(float(match["number"].replace(",", "")) * factor)


# Media types of the file extensions the vendors' document listings carry (Lingma file names,
# VikingDB doc_type); a fixed table, so the result does not depend on the machine's mime.types.
_MIME_TYPES = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "txt": "text/plain",
    "md": "text/markdown",
    "html": "text/html",
    "json": "application/json",
    "jsonl": "application/jsonl",
    "py": "text/x-python",
    "java": "text/x-java",
    "ts": "text/x-typescript",
    "go": "text/x-go",
}


def mime_type_of(name: str | None) -> str | None:
    """The media type of a file name's (or a bare type's) extension, None when it is not known."""
    if not name:
        return None
    return _MIME_TYPES.get(name.rsplit(".", 1)[-1].lower())


# Query parameters that carry a signature, a credential or a session token (compared lower-cased).
# Expiry and scope parameters (X-Tos-Expires, X-Tos-Date, Expires, X-Amz-Date, ...) are kept.
CREDENTIAL_PARAMS = frozenset(
    {
        "x-tos-signature",
        "x-tos-credential",
        "x-tos-security-token",
        "authorization",
        "signature",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-oss-signature",
        "x-oss-credential",
        "x-oss-security-token",
        "ossaccesskeyid",
        "awsaccesskeyid",
        "accesskeyid",
        "security-token",
        "x-goog-signature",
        "x-goog-credential",
    }
)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>\\]+")


def strip_url_credentials(url: str) -> str:
    """The URL without the query parameters (and user-info) that carry credentials.

    Signatures, credentials, access key ids and session tokens of pre-signed URLs (TOS, S3, OSS,
    BOS ``authorization``, GCS) are removed, case-insensitively; everything else, the expiry
    included, is kept byte for byte. A URL with nothing to remove is returned unchanged.
    """
    parts = urlsplit(url)
    if not parts.netloc:
        return url
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and unquote_plus(pair.partition("=")[0]).strip().lower() not in CREDENTIAL_PARAMS
    ]
    query = "&".join(kept)
    netloc = parts.netloc.rpartition("@")[2]
    if query == parts.query and netloc == parts.netloc:
        return url
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment))


def strip_credentials_in_text(text: str) -> str:
    """`text` with every URL in it passed through `strip_url_credentials`.

    Works on any text, JSON text included (a URL inside a JSON string ends at its closing quote),
    which lets a serialized record be redacted in one pass.
    """
    return _URL_IN_TEXT.sub(_strip_match, text) if "://" in text else text


def redact_credentials(obj: Any) -> Any:
    """A copy of a JSON-like structure with the credentials of every URL in it removed.

    Walks dicts, lists and tuples; in every string, each URL (a whole-string URL or one embedded
    in text, such as a JSON document held as a string) goes through `strip_url_credentials`.
    Dict keys and non-string values are kept as they are.
    """
    if isinstance(obj, str):
        return strip_credentials_in_text(obj)
    if isinstance(obj, Mapping):
        return {key: redact_credentials(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(redact_credentials(item) for item in obj)
    return obj


def _strip_match(match: re.Match[str]) -> str:
    return strip_url_credentials(match.group(0))
