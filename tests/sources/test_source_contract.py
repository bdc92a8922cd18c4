"""The contract every registered stream keeps against the sandbox, whatever its vendor.

Parametrized over the registry (`kb_pipeline.sources.SOURCES`), so a vendor package added there is
held to it with no change here. For each stream: a full scan of every partition equals what the
sandbox holds behind the operations the stream called (the sandbox's own records, never the
client's output); resuming from any mid-scan cursor gives no gap and no duplicate; the normalized
rows load with nothing quarantined; throttling (429) and server errors (5xx) are survived with
the same records. Vendor quirks and incremental passes have their own tests beside this one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kb_pipeline.config import PipelineConfig
from kb_pipeline.extract import extract
from kb_pipeline.pages import Page
from kb_pipeline.sandbox import SandboxServer
from kb_pipeline.sources import SOURCES, Source, Stream
from kb_pipeline.warehouse import Warehouse
from kb_pipeline.warehouse.known import KnownSnapshot
from kb_pipeline.warehouse.tables import TABLES
from tests.sources.conftest import config_for, run_partition

STREAMS = [(source, stream) for source in SOURCES.values() for stream in source.streams]
SMALL_PAGES = 4
"""Page size for the scans here (where a source pages by size), so every listing takes several pages."""


def _id(case: tuple[Source, Stream]) -> str:
    return case[1].name


@pytest.fixture(scope="module")
def sandbox_with_kbs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SandboxServer, PipelineConfig, KnownSnapshot]]:
    """A sandbox of the module's own, its configuration, and the knowledge bases a first extraction
    found (what per-knowledge-base streams take as partitions)."""
    data_dir = tmp_path_factory.mktemp("contract")
    with SandboxServer(seed=11, scale=0.1, qps=None) as server:
        config = config_for(server, data_dir)
        with Warehouse(data_dir) as warehouse:
            assert extract(config, warehouse, run_id="discovery").ok
            held = KnownSnapshot.read(warehouse)
            known = KnownSnapshot(knowledge_bases=held.knowledge_bases, parents=held.parents)
        yield server, config, known


def _small(settings: Any) -> dict[str, int]:
    return {"page_size": SMALL_PAGES} if "page_size" in type(settings).model_fields else {}


def keys(stream: Stream, pages: list[Page]) -> list[tuple]:
    """The natural key of every row the pages give the stream's first table, in order, less the
    time a snapshot was observed (when it was read, not what it held)."""
    table = TABLES[stream.tables[0]]
    rows = [row for page in pages for row in stream.normalize(page).get(table.name, [])]
    return [tuple(row[column] for column in table.key if column != "observed_at") for row in rows]


class Scan:
    """Every partition of one stream, scanned in full from no cursor."""

    def __init__(
        self, server: SandboxServer, config: PipelineConfig, known: KnownSnapshot, stream: Stream
    ) -> None:
        self.stream = stream
        self.settings = getattr(config.sources, _source_of(stream).name)
        self.partitions = stream.partitions(self.settings, known)
        self.run = lambda partition, **options: run_partition(
            config, stream.name, partition, known=known, settings_override=_small(self.settings), **options
        )
        self.pages = {partition: self.run(partition) for partition in self.partitions}

    def keys(self) -> list[tuple]:
        return [key for pages in self.pages.values() for key in keys(self.stream, pages)]


def _source_of(stream: Stream) -> Source:
    return next(source for source in SOURCES.values() if stream in source.streams)


@pytest.fixture(params=STREAMS, ids=_id)
def scan(request: pytest.FixtureRequest, sandbox_with_kbs) -> Scan:
    server, config, known = sandbox_with_kbs
    _, stream = request.param
    server.control.clear_requests()
    return Scan(server, config, known, stream)


def test_a_full_scan_equals_what_the_sandbox_holds(scan: Scan, sandbox_with_kbs) -> None:
    server = sandbox_with_kbs[0]
    source = _source_of(scan.stream)
    vendor = server.vendors[source.name]
    operations = {entry["operation"] for entry in server.control.requests(vendor=source.name)}
    truth = [
        Page(source.name, scan.stream.name, scope, list(records), fetched_at=page_time(scan))
        for operation in operations
        for scope, records in vendor.holds(operation).items()
    ]
    assert scan.partitions, "the stream has something to scan"
    got = scan.keys()
    assert got, "the sandbox serves this stream something"
    assert len(got) == len(set(got)), "no record twice"
    assert set(got) == set(keys(scan.stream, truth))


def page_time(scan: Scan):
    return next(page.fetched_at for pages in scan.pages.values() for page in pages)


def test_resuming_from_any_mid_scan_cursor_gives_no_gap_and_no_duplicate(scan: Scan) -> None:
    partition, pages = max(scan.pages.items(), key=lambda item: len(item[1]))
    whole = Counter(keys(scan.stream, pages))
    for stop in range(1, len(pages)):
        head, cursor = pages[:stop], pages[stop - 1].cursor
        rest = scan.run(partition, cursor=cursor)
        resumed = Counter(keys(scan.stream, head)) + Counter(keys(scan.stream, rest))
        assert resumed == whole, f"resumed after page {stop} of {len(pages)}"


def test_normalized_rows_load_with_nothing_quarantined(scan: Scan, tmp_path: Path) -> None:
    with Warehouse(tmp_path) as warehouse:
        stats = warehouse.load_pages(
            [(page, scan.stream.normalize(page)) for pages in scan.pages.values() for page in pages]
        )
    loaded = Counter()
    for page_stats in stats:
        for table, counts in page_stats.by_table().items():
            loaded.update({f"{table}.{kind}": n for kind, n in counts.items()})
    assert loaded[f"{scan.stream.tables[0]}.inserted"] == len(scan.keys())
    assert not [name for name, n in loaded.items() if name.endswith(".quarantined") and n]


@pytest.mark.parametrize(
    ("kind", "extra"), [("throttle", {"retry_after": 0.05}), ("server_error", {"status": 503})]
)
def test_throttling_and_server_errors_are_survived(
    scan: Scan, sandbox_with_kbs, kind: str, extra: dict
) -> None:
    server = sandbox_with_kbs[0]
    source = _source_of(scan.stream)
    partition, pages = max(scan.pages.items(), key=lambda item: len(item[1]))
    server.control.add_fault(source.name, kind, count=2, **extra)
    again = scan.run(partition)
    assert not server.control.pending_faults()
    assert keys(scan.stream, again) == keys(scan.stream, pages)
