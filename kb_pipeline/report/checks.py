"""Check outcomes as the report shows them: plain values, so the page needs no Dagster to draw them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """The latest evaluation of one asset check."""

    asset: str
    check: str
    passed: bool
    severity: str
    """`ERROR` (the data is wrong) or `WARN` (worth a look)."""
    description: str | None
    evaluated_at: datetime | None
