"""Protects the bounds on extraction memory: pages fetched and not yet committed are limited by count
and by bytes over every stream, the writer's batches by bytes, and a window far smaller than the
tenant still extracts everything, with no deadlock between the fetchers and the writer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kb_pipeline import extract
from kb_pipeline.sandbox import SandboxServer
from kb_pipeline.warehouse import Warehouse
from tests.pipeline.conftest import configure, rows, run_engine


def test_window_admits_pages_up_to_its_count_then_waits_for_a_commit() -> None:
    async def scenario() -> list[str]:
        window, events = extract.Window(pages=2, size=1_000), []

        async def fetcher(name: str, size: int) -> None:
            await window.enter(size)
            events.append(f"{name} in")

        await fetcher("a", 10)
        await fetcher("b", 10)
        third = asyncio.create_task(fetcher("c", 10))
        await asyncio.sleep(0.01)
        events.append("a committed")
        window.leave(10)
        await third
        return events

    assert asyncio.run(scenario()) == ["a in", "b in", "a committed", "c in"]


def test_window_counts_bytes_and_always_admits_a_page_when_empty() -> None:
    async def scenario() -> bool:
        window = extract.Window(pages=10, size=100)
        await window.enter(500)  # larger than the whole window: alone, it must still pass
        second = asyncio.create_task(window.enter(1))
        await asyncio.sleep(0.01)
        blocked = not second.done()
        window.leave(500)
        await second
        return blocked and window.held_pages == 1 and window.held_bytes == 1

    assert asyncio.run(scenario())


def test_a_small_window_and_small_batches_still_extract_everything(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extract, "WINDOW_PAGES", 3)
    monkeypatch.setattr(extract, "WINDOW_BYTES", 20_000)
    monkeypatch.setattr(extract, "BATCH_BYTES", 10_000)
    batches: list[int] = []
    load_pages = Warehouse.load_pages

    def recorded(self: Warehouse, items, **options):  # type: ignore[no-untyped-def]
        batches.append(sum(extract.page_bytes(page) for page, _ in items) if len(items) > 1 else 0)
        return load_pages(self, items, **options)

    monkeypatch.setattr(Warehouse, "load_pages", recorded)

    config = configure(sandbox, tmp_path / "data")
    report = run_engine(config)

    assert report.ok
    documents = sum(len(docs) for docs in sandbox.dataset.qianfan_documents.values())
    loaded = rows(tmp_path / "data", "SELECT count(*) AS n FROM documents WHERE source = 'qianfan'")
    assert loaded == [{"n": documents}]
    assert any(batches)  # the writer did commit several pages at once
    assert max(batches) <= 10_000  # and such a batch stays within BATCH_BYTES
