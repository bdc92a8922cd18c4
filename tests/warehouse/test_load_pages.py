"""Several pages in one transaction end in the same tables as the same pages loaded one by one.

`load_pages` merges all pages at once: the last page's row of a key wins, cursors are the last
page's, scan ends apply where their page stands, job status changes are observed at each page,
children come from a parent's last page, and a failure anywhere leaves nothing, raw included.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from kb_pipeline.pages import Page, ScanEnd, TableRows
from kb_pipeline.warehouse import LoadStats, TableStats, Warehouse, state
from kb_pipeline.warehouse import warehouse as warehouse_module
from tests.warehouse.builders import (
    at,
    chunk_count,
    document,
    job,
    job_file,
    knowledge_base,
    page,
    rows_of,
    tag,
)

DOCS, JOBS, KB1, KB2 = "qianfan.documents", "pai.jobs", "kb-1", "kb-2"
PAI_KB = "d-ksicx823d"


def history() -> list[tuple[Page, TableRows]]:
    """Pages of four streams that repeat keys, change them, quarantine some, and close scans."""
    return [
        (
            page("lingma.knowledge_bases", "org-1", fetched_at=at(0)),
            {"knowledge_bases": [knowledge_base("k1"), knowledge_base("k2")]},
        ),
        (
            page(DOCS, KB1, fetched_at=at(1), cursor={"marker": "m1"}),
            {
                "documents": [document("a"), document("b"), document("c")],
                "document_tags": [tag("a", "topic", "x"), tag("b", "lang", "zh")],
            },
        ),
        (
            page(JOBS, PAI_KB, fetched_at=at(2)),
            {
                "jobs": [job("j1", "running", 10.0), job("j2", "running", 0.0)],
                "job_files": [job_file("j1", "f1")],
            },
        ),
        (
            page(DOCS, KB2, fetched_at=at(3), cursor={"marker": "n1"}),
            {"documents": [document("x", kb_id=KB2)]},
        ),
        (
            page(DOCS, KB1, fetched_at=at(4), cursor={"marker": "m2"}),
            {
                "documents": [
                    document("a", status="failed", status_raw="error"),
                    document("d"),
                    document("e", name="first"),
                    document("e", name="last"),
                    document("bad", status="indexing"),
                ],
                "document_tags": [tag("a", "topic", "z"), tag("bad", "k", "v")],
            },
        ),
        (
            page(JOBS, PAI_KB, fetched_at=at(5)),
            {"jobs": [job("j1", "running", 55.0)], "job_files": [job_file("j1", "f2")]},
        ),
        (
            page("vikingdb.collections", "", fetched_at=at(6)),
            {"chunk_counts": [chunk_count("c1", at(6), 100)]},
        ),
        (
            page(DOCS, KB1, fetched_at=at(8), scan_end=ScanEnd("documents", at(7), "kb_id", KB1)),
            {"documents": [document("a", status="failed", status_raw="error"), document("d")]},
        ),
        (
            page(DOCS, KB1, fetched_at=at(9), cursor={"marker": "m3"}),
            {"documents": [document("b")], "document_tags": [tag("b", "lang", "en")]},
        ),
        (
            page(JOBS, PAI_KB, fetched_at=at(10)),
            {"jobs": [job("j1", "succeeded", 100.0), job("j2", "running", 0.0)]},
        ),
        (
            page("vikingdb.collections", "", fetched_at=at(11)),
            {"chunk_counts": [chunk_count("c1", at(6), 999), chunk_count("c1", at(11), 140)]},
        ),
        (
            page(DOCS, KB2, fetched_at=at(12), scan_end=ScanEnd("documents", at(11.5), "kb_id", KB2)),
            {},
        ),
        (
            page(
                "lingma.knowledge_bases",
                "org-1",
                fetched_at=at(14),
                scan_end=ScanEnd("knowledge_bases", at(13)),
            ),
            {"knowledge_bases": [knowledge_base("k1", name="renamed")]},
        ),
    ]


def tables(warehouse: Warehouse) -> dict[str, list[dict]]:
    """Every table of the contract and the bookkeeping, without the times of the load itself."""
    names = [*warehouse.table_counts(), "_kb.stream_state"]
    snapshot = {
        name: [
            {k: v for k, v in row.items() if k not in ("updated_at", "quarantined_at")}
            for row in rows_of(warehouse, name)
        ]
        for name in names
    }
    snapshot["_kb.pages"] = warehouse.query(
        'SELECT seq, stream, "partition", fetched_at, record_count FROM _kb.pages ORDER BY seq'
    ).to_pylist()
    return snapshot


def load_in_loads(warehouse: Warehouse, items: list, size: int) -> list[LoadStats]:
    stats = []
    for start in range(0, len(items), size):
        stats.extend(warehouse.load_pages(items[start : start + size]))
    return stats


@pytest.fixture
def one_by_one(tmp_path: Path) -> dict[str, list[dict]]:
    with Warehouse(tmp_path / "one-by-one") as warehouse:
        for item in history():
            warehouse.load_page(*item)
        return tables(warehouse)


@pytest.mark.parametrize("size", [2, 3, 5, len(history())])
def test_loading_in_loads_gives_the_tables_of_loading_page_by_page(
    tmp_path: Path, one_by_one: dict, size: int
) -> None:
    with Warehouse(tmp_path / "loads") as warehouse:
        stats = load_in_loads(warehouse, history(), size)
        assert tables(warehouse) == one_by_one
        assert [s.seq for s in stats] == list(range(1, len(history()) + 1))
        assert all(s.raw_path.exists() for s in stats)
        assert list(warehouse.iter_raw_pages()) == [p for p, _ in history()]


def test_the_last_page_of_a_key_wins_without_quarantine(warehouse: Warehouse) -> None:
    stats = warehouse.load_pages(
        [
            (page(fetched_at=at(0)), {"documents": [document("a", name="early"), document("b")]}),
            (page(fetched_at=at(1)), {"documents": [document("c")]}),
            (page(fetched_at=at(2)), {"documents": [document("a", name="late")]}),
        ]
    )
    stored = {row["doc_id"]: row for row in rows_of(warehouse, "documents")}
    assert stored["a"]["name"] == "late"
    assert (stored["a"]["first_seen_at"], stored["a"]["last_seen_at"]) == (at(0), at(2))
    assert (stored["b"]["first_seen_at"], stored["b"]["last_seen_at"]) == (at(0), at(0))
    assert rows_of(warehouse, "_kb.quarantine") == []
    assert [s.tables["documents"] for s in stats] == [
        TableStats(received=2, inserted=1, superseded=1),
        TableStats(received=1, inserted=1),
        TableStats(received=1, inserted=1),
    ]


def test_a_key_twice_on_one_page_of_a_load_is_still_quarantined(warehouse: Warehouse) -> None:
    stats = warehouse.load_pages(
        [
            (page(fetched_at=at(0)), {"documents": [document("a", name="one")]}),
            (page(fetched_at=at(1)), {"documents": [document("a", name="two"), document("a", name="three")]}),
        ]
    )
    assert rows_of(warehouse, "documents")[0]["name"] == "three"
    (entry,) = rows_of(warehouse, "_kb.quarantine")
    assert "duplicate key" in entry["reason"] and '"two"' in entry["raw"]
    assert entry["page_seq"] == stats[1].seq
    assert stats[1].tables["documents"].quarantined == 1 and stats[0].tables["documents"].superseded == 1


def test_each_stream_partition_keeps_its_last_pages_cursor(warehouse: Warehouse) -> None:
    warehouse.load_page(page(DOCS, KB2, fetched_at=at(0), cursor={"marker": "stored"}), {})
    stats = warehouse.load_pages(
        [
            (page(DOCS, KB1, fetched_at=at(0), cursor={"marker": "m1"}), {}),
            (page(DOCS, KB2, fetched_at=at(0), cursor={"marker": "n1"}), {}),
            (page(JOBS, KB1, fetched_at=at(1), cursor={"high_water_mark": "h1"}), {}),
            (page(DOCS, KB1, fetched_at=at(2), cursor={"marker": "m2"}), {}),
            (page(DOCS, KB1, fetched_at=at(3)), {}),
            (page(DOCS, KB2, fetched_at=at(3)), {}),
        ]
    )
    assert warehouse.get_cursors(DOCS).get(KB1) == {"marker": "m2"}
    assert warehouse.get_cursors(DOCS).get(KB2) == {"marker": "n1"}
    assert warehouse.get_cursors(JOBS).get(KB1) == {"high_water_mark": "h1"}
    assert [s.cursor_saved for s in stats] == [False, True, True, True, False, False]


def test_a_scan_end_applies_after_its_page_and_the_pages_before_it(warehouse: Warehouse) -> None:
    warehouse.load_page(page(fetched_at=at(0)), {"documents": [document("a"), document("b"), document("c")]})
    scan = ScanEnd("documents", scan_started_at=at(1), partition_column="kb_id", partition=KB1)
    stats = warehouse.load_pages(
        [
            (page(fetched_at=at(2)), {"documents": [document("a")]}),
            (page(fetched_at=at(3), scan_end=scan), {"documents": [document("d")]}),
            (page(fetched_at=at(4)), {"documents": [document("b", name="back")]}),
            (page(DOCS, KB2, fetched_at=at(4)), {"documents": [document("x", kb_id=KB2)]}),
        ]
    )
    deleted = {row["doc_id"]: row["deleted_at"] for row in rows_of(warehouse, "documents")}
    assert deleted == {"a": None, "b": None, "c": at(3), "d": None, "x": None}
    assert stats[1].tables["documents"].deleted == 2  # b and c, before b comes back on the next page
    assert stats[2].tables["documents"] == TableStats(received=1, updated=1)


def test_every_status_change_within_a_load_is_observed_at_its_page(warehouse: Warehouse) -> None:
    warehouse.load_page(page(JOBS, PAI_KB, fetched_at=at(0)), {"jobs": [job("j1", "running", 10.0)]})
    sightings = [
        (1, job("j1", "running", 10.0)),
        (2, job("j1", "running", 60.0)),
        (3, job("j1", "running", 60.0)),
        (4, job("j1", "succeeded", 100.0)),
        (4, job("j2", "failed", None)),
    ]
    stats = warehouse.load_pages(
        [(page(JOBS, PAI_KB, fetched_at=at(minute)), {"jobs": [row]}) for minute, row in sightings]
    )
    history = [
        (row["job_id"], row["observed_at"], row["status"], row["progress_pct"])
        for row in rows_of(warehouse, "job_status_history", "job_id, observed_at")
    ]
    assert history == [
        ("j1", at(0), "running", 10.0),
        ("j1", at(2), "running", 60.0),
        ("j1", at(4), "succeeded", 100.0),
        ("j2", at(4), "failed", None),
    ]
    observed = [s.tables.get("job_status_history", TableStats()).inserted for s in stats]
    assert observed == [0, 1, 0, 1, 1]
    assert rows_of(warehouse, "jobs", "job_id")[0]["status"] == "succeeded"


def test_a_parent_keeps_the_children_of_its_last_page(warehouse: Warehouse) -> None:
    warehouse.load_page(
        page(fetched_at=at(0)),
        {
            "documents": [document("a"), document("b"), document("c")],
            "document_tags": [tag("a", "k", "stored"), tag("b", "k", "stored"), tag("c", "k", "stored")],
        },
    )
    stats = warehouse.load_pages(
        [
            (
                page(fetched_at=at(1)),
                {
                    "documents": [document("a"), document("b")],
                    "document_tags": [tag("a", "k", "1"), tag("b", "k", "1")],
                },
            ),
            (page(fetched_at=at(2)), {"documents": [document("a")], "document_tags": [tag("a", "k", "2")]}),
            (page(fetched_at=at(3)), {"documents": [document("b")]}),
        ]
    )
    remaining = [(row["doc_id"], row["tag_value"]) for row in rows_of(warehouse, "document_tags")]
    assert remaining == [("a", "2"), ("c", "stored")]
    assert [s.tables.get("document_tags") for s in stats] == [
        TableStats(received=2, superseded=2),
        TableStats(received=1, inserted=1, removed=1),
        TableStats(removed=1),
    ]


def test_a_failed_load_leaves_tables_cursors_and_raw_as_they_were(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = history()
    warehouse.load_pages(items[:3])
    before = tables(warehouse)
    raw_before = sorted(warehouse.raw_dir.rglob("*"))

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(state, "log_pages", fail)  # the last step, after every merge and cursor
    with pytest.raises(RuntimeError, match="disk full"):
        warehouse.load_pages(items[3:])
    assert tables(warehouse) == before
    assert sorted(warehouse.raw_dir.rglob("*")) == raw_before
    monkeypatch.undo()

    landed = []

    def land_two_then_fail(path: Path, landed_page: Page, seq: int) -> None:
        if len(landed) == 2:
            raise OSError("no space left on device")
        landed.append(path)
        write_page(path, landed_page, seq)

    write_page = warehouse_module.write_page
    monkeypatch.setattr(warehouse_module, "write_page", land_two_then_fail)
    with pytest.raises(OSError, match="no space"):
        warehouse.load_pages(items[3:])
    assert len(landed) == 2 and not any(path.exists() for path in landed)
    assert tables(warehouse) == before
    monkeypatch.undo()

    warehouse.load_pages(items[3:])
    assert warehouse.get_cursors(DOCS).get(KB1) == {"marker": "m3"}


def test_a_malformed_page_refuses_the_whole_load_before_anything_is_written(warehouse: Warehouse) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        warehouse.load_pages(
            [
                (page(fetched_at=at(0)), {"documents": [document("a")]}),
                (page(fetched_at=at(1).replace(tzinfo=None)), {"documents": [document("b")]}),
            ]
        )
    assert rows_of(warehouse, "documents") == []
    assert not warehouse.raw_dir.exists()
    assert warehouse.load_pages([]) == []


def summed(all_stats: list[LoadStats]) -> dict[str, Counter[str]]:
    """Figures per table and kind over pages, summed from `by_table()` as the engine sums them."""
    totals: dict[str, Counter[str]] = {}
    for stats in all_stats:
        for name, counts in stats.by_table().items():
            totals.setdefault(name, Counter()).update(counts)
    return totals


def test_figures_split_between_pages_and_sum_like_page_by_page(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "one-by-one") as warehouse:
        single = summed([warehouse.load_page(*item) for item in history()])
    with Warehouse(tmp_path / "loads") as warehouse:
        loaded = warehouse.load_pages(history())

    for stats in loaded:
        for name, figures in stats.tables.items():
            if name != "job_status_history":  # derived rows are inserted without being received
                parts = figures.inserted + figures.updated + figures.unchanged + figures.superseded
                assert figures.received == parts + figures.quarantined, (stats.seq, name)
    batched = summed(loaded)
    comparable = {
        "received": ("knowledge_bases", "documents", "document_tags", "jobs", "job_files", "chunk_counts"),
        "quarantined": ("documents", "document_tags"),
        "deleted": ("knowledge_bases", "documents"),
        "inserted": ("knowledge_bases", "documents", "jobs", "job_status_history", "chunk_counts"),
        "unchanged": ("chunk_counts",),
    }
    for kind, names in comparable.items():
        for name in names:
            assert batched[name][kind] == single[name][kind], (kind, name)
    assert batched["documents"]["deleted"] == 4  # b, c and e of kb-1, then x of kb-2
    assert batched["documents"]["superseded"] > 0 and single["documents"]["superseded"] == 0


def test_without_repeated_keys_every_figure_sums_like_page_by_page(tmp_path: Path) -> None:
    items = [
        (
            page(fetched_at=at(minute), cursor={"marker": f"m{minute}"}),
            {
                "documents": [document(f"d{minute}-{n}") for n in range(3)],
                "document_tags": [tag(f"d{minute}-{n}", "k", "v") for n in range(3)],
            },
        )
        for minute in range(4)
    ]
    ending = ScanEnd("documents", at(0.5), "kb_id", KB1)
    items.append((page(fetched_at=at(5), scan_end=ending), {}))
    with Warehouse(tmp_path / "one-by-one") as warehouse:
        warehouse.load_page(page(fetched_at=at(0)), {"documents": [document("d0-0", name="old")]})
        single = summed([warehouse.load_page(*item) for item in items])
    with Warehouse(tmp_path / "loads") as warehouse:
        warehouse.load_page(page(fetched_at=at(0)), {"documents": [document("d0-0", name="old")]})
        batched = summed(warehouse.load_pages(items))
    assert batched == single
    assert single["documents"]["deleted"] == 3 and single["document_tags"]["removed"] == 0
