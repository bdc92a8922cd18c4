"""Times as the warehouse stores them: aware, in UTC. Every module that hands datetimes to pyarrow
goes through here."""

from __future__ import annotations

from datetime import UTC, datetime


def in_utc(value: datetime) -> datetime:
    """`value` in UTC, as pyarrow must get it.

    pyarrow converts an aware datetime by its UTC offset, but in a process that has imported
    pandera (pyarrow 26) it takes the wall time of a non-UTC datetime as UTC instead.
    """
    return value.astimezone(UTC)
