"""Sandbox settings: per-vendor request limits and the quirks whose live form is uncertain.

Where the vendors' own pages disagree with themselves or with their SDKs, the sandbox picks the
form its documentation example shows by default and lets a test choose the others, so a client
can be proven against every variant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Literal

QpsConfig = Mapping[str, float | None] | Literal["default"] | None
"""`"default"`: DEFAULT_QPS; None: no limit at all; a mapping: exactly those limits (others none)."""

CLOCK_SKEW_SECONDS = 15 * 60
"""How far a signed request's timestamp may be from the server clock (both signing schemes)."""

VIKINGDB_REGIONS = ("cn-beijing", "cn-north-1")
"""Credential-scope regions accepted: the SDK default and the signing doc's sample."""

PaiNextToken = Literal["int", "string"]
LingmaLastPage = Literal["same", "empty", "absent", "past"]
QianfanFields = Literal["page", "sdk"]


@dataclass(slots=True)
class Settings:
    """Quirk choices, read on every request (so they may change while serving)."""

    pai_next_token: PaiNextToken = "int"
    """`int`: `"NextToken": 20` as the seed example shows; `string`: `"NextToken": "20"` as typed."""
    lingma_last_page: LingmaLastPage = "same"
    """What `x-next-page` holds on the last page (and `x-prev-page` on the first): `same` (the
    current page, as the seed example shows), `empty`, `absent`, or `past` (page + 1 / page - 1)."""
    qianfan_fields: QianfanFields = "page"
    """`page`: documents as the doc page shows them (`id`, `displayStatus`, meta keys spelled both
    ways across documents); `sdk`: as the official SDK models them (`documentId`, `status`,
    camelCase meta keys, plus `totalCount`)."""

    def update(self, **changes: object) -> None:
        """Change settings by name; an unknown name or value is refused."""
        known = {f.name for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown sandbox setting {name!r}; known: {sorted(known)}")
            allowed = _CHOICES.get(name)
            if allowed is not None and value not in allowed:
                raise ValueError(f"setting {name!r} must be one of {allowed}, not {value!r}")
            setattr(self, name, value)

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_CHOICES: dict[str, tuple[str, ...]] = {
    "pai_next_token": ("int", "string"),
    "lingma_last_page": ("same", "empty", "absent", "past"),
    "qianfan_fields": ("page", "sdk"),
}


def resolve_qps(qps: QpsConfig, defaults: Mapping[str, float]) -> dict[str, float | None]:
    """The limits a QpsConfig stands for (None = unlimited), for each vendor of `defaults`."""
    if qps == "default":
        return dict(defaults)
    if qps is None:
        return dict.fromkeys(defaults)
    unknown = set(qps) - set(defaults)
    if unknown:
        raise ValueError(f"unknown vendor(s) in qps: {sorted(unknown)}; known: {tuple(defaults)}")
    return {vendor: qps.get(vendor) for vendor in defaults}
