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

        async def fetcher(name: str) -> None:
            await window.enter()  # before its request goes out
            events.append(f"{name} in")

        await fetcher("a")
        await fetcher("b")
        third = asyncio.create_task(fetcher("c"))
        await asyncio.sleep(0.01)
        events.append("a committed")
        window.leave(0)
        await third
        return events

    assert asyncio.run(scenario()) == ["a in", "b in", "a committed", "c in"]


def test_window_counts_bytes_and_always_admits_a_page_when_empty() -> None:
    async def scenario() -> bool:
        window = extract.Window(pages=10, size=100)
        await window.enter()
        await window.fill(500)  # larger than the whole window: alone, it must still pass
        await window.enter()
        second = asyncio.create_task(window.fill(1))
        await asyncio.sleep(0.01)
        blocked = not second.done()
        window.leave(500)
        await second
        return blocked and window.held_pages == 1 and window.held_bytes == 1

    assert asyncio.run(scenario())


def test_partitions_waiting_for_room_hold_no_fetched_page(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many partitions run at once, no more pages are held, fetched and not yet committed,
    than the window's count: a partition asks for its next page only once there is room for it."""
    monkeypatch.setattr(extract, "WINDOW_PAGES", 2)
    held, most = 0, 0
    measure = extract.page_bytes  # what the engine does first with a page it has fetched

    def fetched(page):  # type: ignore[no-untyped-def]
        nonlocal held, most
        held += 1
        most = max(most, held)
        return measure(page)

    commit = extract.Engine._commit

    def committed(self: extract.Engine, batch):  # type: ignore[no-untyped-def]
        nonlocal held
        commit(self, batch)
        held -= len(batch)

    monkeypatch.setattr(extract, "page_bytes", fetched)
    monkeypatch.setattr(extract.Engine, "_commit", committed)

    report = run_engine(configure(sandbox, tmp_path / "data"))

    assert report.ok
    assert sum(stream.pages for stream in report.streams) > 10
    assert most <= 2


def test_a_small_window_and_small_batches_still_extract_everything(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extract, "WINDOW_PAGES", 6)
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
