"""What a vendor package declares: its settings, its client, its streams (each a listing strategy
plus a normalizer).

A vendor package exposes `SOURCE` (a `Source`) and nothing else is needed in the core: the
configuration, the engine, the Dagster assets and the marts read everything from the registry
(`kb_pipeline.sources`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

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

    def knowledge_base(self, source: str, kb_id: str) -> dict[str, Any] | None:
        """What a live knowledge base last said of itself: scope_id, updated_at, last_activity_at,
        file_count, size_bytes."""
        ...

    def job_state(self, source: str, kb_id: str) -> str | None:
        """A fingerprint of a knowledge base's jobs, None when it has none."""
        ...


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


class Strict(BaseModel):
    """A configuration section: unknown keys are refused (a typo is an error, not a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSettings(Strict):
    """What every source's section of the configuration holds; a vendor adds its own keys."""

    enabled: bool = True
    endpoint: str
    qps: float | None = Field(default=None, gt=0, description="requests per second; unset = vendor default")
    max_pages: int = Field(default=100_000, gt=0, description="most pages one listing may take")
    _credential_variables: tuple[str, ...] = PrivateAttr(default=())

    @property
    def credential_variables(self) -> tuple[str, ...]:
        """The environment variables its credentials came from: what to check when they are refused."""
        return self._credential_variables

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        return value.rstrip("/")


@dataclass(frozen=True, slots=True)
class Source:
    """A vendor: its name (in the warehouse and the configuration), its settings, how to build its
    client, and its streams."""

    name: str
    settings_model: type[SourceSettings]
    client_factory: Callable[[Any, httpx.AsyncClient], VendorClient]
    streams: tuple[Stream, ...]
    default_qps: float
