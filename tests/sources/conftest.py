"""Run one stream partition against a live sandbox and collect its pages, with no warehouse."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb_pipeline.config import PipelineConfig, parse_config
from kb_pipeline.demo import export_sandbox_environment, sandbox_config
from kb_pipeline.http.client import create_http_client
from kb_pipeline.pages import Page
from kb_pipeline.sandbox import SandboxServer
from kb_pipeline.sources import SOURCES, stream
from kb_pipeline.sources.base import StreamContext
from kb_pipeline.warehouse.known import KnownSnapshot


@pytest.fixture
def live() -> Iterator[SandboxServer]:
    """A sandbox of its own (tests here change data and arm faults): seed 5, ~300 documents."""
    with SandboxServer(seed=5, scale=0.3, qps=None) as server:
        yield server


def config_for(server: SandboxServer, tmp_path: Path) -> PipelineConfig:
    export_sandbox_environment()
    return parse_config(sandbox_config(server.url, server.dataset, tmp_path), tmp_path / "pipeline.yaml")


def settings_of(config: PipelineConfig, stream_name: str):
    source = next(s for s in SOURCES.values() if any(st.name == stream_name for st in s.streams))
    return source, getattr(config.sources, source.name)


def run_partition(
    config: PipelineConfig,
    stream_name: str,
    partition: str,
    *,
    cursor: dict | None = None,
    full_refresh: bool = False,
    known: KnownSnapshot | None = None,
    settings_override: dict | None = None,
) -> list[Page]:
    source, settings = settings_of(config, stream_name)
    if settings_override:
        settings = settings.model_copy(update=settings_override)

    async def collect() -> list[Page]:
        async with create_http_client() as http:
            ctx = StreamContext(
                source=source.name,
                stream=stream_name,
                client=source.client_factory(settings, http),
                settings=settings,
                cursor=cursor,
                full_refresh=full_refresh,
                run_id="test-run",
                known=known or KnownSnapshot(),
            )
            return [page async for page in stream(stream_name).extract(ctx, partition)]

    return asyncio.run(collect())


def ids(pages: list[Page], field: str) -> list[str]:
    return [record[field] for page in pages for record in page.records]
