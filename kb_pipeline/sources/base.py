"""What a vendor module declares: its streams, each a listing strategy plus a normalizer.

A vendor module in this package exposes `SOURCE` (a `Source`) and nothing else is needed in the
core: the engine reads the streams, their partitions and their normalizers from it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from kb_pipeline.http.client import VendorClient
from kb_pipeline.pages import Page, RunningWindow, TableRows


class KnownRecords(Protocol):
    """Read-only questions a stream may ask of what the warehouse already holds."""

    def knowledge_base_ids(self, source: str, scope_id: str | None = None) -> list[str]:
        """Live knowledge bases of a source (of one scope), oldest first."""
        ...

    def running_job_ids(self, source: str) -> list[str]: ...

    def job_ids(self, source: str) -> set[str]: ...

    def running_window(self, source: str, kb_id: str) -> RunningWindow | None: ...


@dataclass(frozen=True, slots=True)
class StreamContext:
    """Everything one stream partition needs for one run."""

    source: str
    stream: str
    client: VendorClient
    settings: Any
    cursor: dict[str, Any] | None
    full_refresh: bool
    run_id: str
    known: KnownRecords


Extract = Callable[[StreamContext, str], AsyncIterator[Page]]
Partitions = Callable[[Any, KnownRecords], list[str]]
Normalize = Callable[[Page], TableRows]


@dataclass(frozen=True, slots=True)
class Stream:
    """One stream (README, "What a scheduled run costs"): the tables it feeds, its partitions, how it extracts and normalizes."""

    name: str
    tables: tuple[str, ...]
    partitions: Partitions
    extract: Extract
    normalize: Normalize
    after: tuple[str, ...] = ()
    """Streams of the same source that must finish first (discovery before per-KB streams)."""


@dataclass(frozen=True, slots=True)
class Source:
    """A vendor: its name in the warehouse, how to build its client, and its streams."""

    name: str
    config_key: str
    client_factory: Callable[[Any, httpx.AsyncClient], VendorClient]
    streams: tuple[Stream, ...]
    default_qps: float
