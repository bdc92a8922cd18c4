"""Protects the report file: one self-contained page (no external script, style or image), each
chart embedded with its data, the inventory table escaped, and an atomic write that never leaves a
half-written or temporary file behind."""

from __future__ import annotations

import base64
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from itertools import accumulate
from pathlib import Path

import duckdb
import numpy as np
import pytest

from kb_pipeline.report import ReportError, build_report
from kb_pipeline.warehouse.tables import DOCUMENT_STATUSES

CHART_IDS = ("chart-jobs-per-day", "chart-document-status-funnel", "chart-chunk-growth")


class PageOutline(HTMLParser):
    """The external references, element ids, inline scripts and inventory rows of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self.ids: set[str] = set()
        self.scripts: list[str] = []
        self.inventory_rows: list[list[str]] = []
        self._in_script = False
        self._table_id: str | None = None
        self._in_inventory = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.references += [value for name, value in attrs if name in ("src", "href") and value]
        if element_id := attributes.get("id"):
            self.ids.add(element_id)
        self._in_script = tag == "script"
        if tag == "tbody":
            self._in_inventory = self._table_id == "inventory-table"
        elif tag == "table":
            self._table_id = element_id
        elif tag == "tr" and self._in_inventory:
            self.inventory_rows.append([])
        elif tag == "td" and self._in_inventory:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.inventory_rows[-1].append("".join(self._cell))
            self._cell = None
        if tag == "tbody":
            self._in_inventory = False
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)
        if self._cell is not None:
            self._cell.append(data)


def outline(path: Path) -> PageOutline:
    page = PageOutline()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture
def report(warehouse_factory, activity, tmp_path) -> Path:
    path = tmp_path / "out" / "report.html"
    assert build_report(warehouse_factory(activity), path) == path
    return path


def test_the_page_references_nothing_outside_itself(report: Path) -> None:
    page = outline(report)
    external = [ref for ref in page.references if re.match(r"(https?:)?//", ref, re.IGNORECASE)]
    assert external == []
    assert not re.search(
        r"<(script|link|img|iframe)[^>]+(src|href)\s*=\s*[\"']?(https?:)?//", report.read_text()
    )
    assert any("plotly.js v" in script[:2000] and len(script) > 1_000_000 for script in page.scripts)


def chart_traces(text: str, chart_id: str) -> list[dict]:
    """The data argument of the chart's Plotly.newPlot call, numeric arrays decoded."""
    call = re.search(rf'Plotly\.newPlot\(\s*"{chart_id}",\s*', text)
    assert call, chart_id
    traces, _ = json.JSONDecoder().raw_decode(text, call.end())
    return [{key: _decoded(value) for key, value in trace.items()} for trace in traces]


def _decoded(value: object) -> object:
    if isinstance(value, dict) and "bdata" in value:  # plotly's typed-array encoding
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return value


def test_every_chart_is_embedded_once(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert set(CHART_IDS) <= outline(report).ids
    for chart_id in CHART_IDS:
        assert len(re.findall(rf'Plotly\.newPlot\(\s*"{chart_id}"', text)) == 1, chart_id


def test_jobs_chart_stacks_each_days_jobs_by_status(report: Path, activity) -> None:
    expected: dict[str, Counter] = defaultdict(Counter)
    for job in activity["jobs"]:
        expected[job["status"]][job["created_at"].date().isoformat()] += 1

    traces = chart_traces(report.read_text(encoding="utf-8"), "chart-jobs-per-day")

    drawn = {t["name"]: {day[:10]: n for day, n in zip(t["x"], t["y"], strict=True) if n} for t in traces}
    assert drawn == {status: dict(days) for status, days in expected.items()}


def test_funnel_shows_each_sources_documents_per_status(report: Path, activity) -> None:
    expected: dict[str, Counter] = defaultdict(Counter)
    for document in activity["documents"]:
        expected[document["source"]][document["status"]] += 1

    traces = chart_traces(report.read_text(encoding="utf-8"), "chart-document-status-funnel")

    assert {t["name"]: dict(zip(t["y"], t["x"], strict=True)) for t in traces} == {
        source: {status: counts[status] for status in DOCUMENT_STATUSES}
        for source, counts in expected.items()
    }


def test_chunk_chart_draws_one_line_per_growing_knowledge_base(report: Path, activity) -> None:
    snapshots = sorted(
        (row["observed_at"], row["chunk_count"])
        for row in activity["chunk_counts"]
        if row["kb_id"] == "coll-1"
    )
    net_per_day: Counter = Counter()
    for job in activity["jobs"]:
        if job["kb_id"] == "pai-1" and job["status"] == "succeeded":
            net_per_day[job["finished_at"].date()] += job["add_chunk_count"] - job["delete_chunk_count"]
    running_total = list(accumulate(net_per_day[day] for day in sorted(net_per_day)))

    traces = chart_traces(report.read_text(encoding="utf-8"), "chart-chunk-growth")

    lines = {t["name"]: t["y"] for t in traces}
    assert lines == {
        "vikingdb / Support collection": [chunks for _, chunks in snapshots],
        "pai_langstudio / Runbooks": running_total,
    }


def test_inventory_table_lists_live_knowledge_bases_escaped(report: Path, activity) -> None:
    rows = outline(report).inventory_rows
    live = [kb for kb in activity["knowledge_bases"] if kb.get("deleted_at") is None]
    assert sorted(row[2] for row in rows) == sorted(kb["name"] for kb in live)
    assert "Deleted knowledge base" not in report.read_text(encoding="utf-8")
    assert "Product &lt;FAQ&gt; &amp; notes" in report.read_text(encoding="utf-8")
    by_id = {row[3]: row for row in rows}
    qf_documents = sum(1 for doc in activity["documents"] if doc["kb_id"] == "qf-1")
    assert by_id["qf-1"][4] == f"{qf_documents:,}"
    assert by_id["lm-1"][4:7] == ["5", "file_count", "4,096"]


def test_title_and_generation_time(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert "<title>Knowledge-base inventory report</title>" in text
    generated = re.search(r"Generated (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", text)
    assert generated
    stamped = datetime.strptime(generated[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - stamped) < timedelta(minutes=1)


def test_a_rebuild_replaces_the_page_and_leaves_nothing_else(report: Path, warehouse_factory) -> None:
    build_report(warehouse_factory({}), report)
    assert [path.name for path in report.parent.iterdir()] == ["report.html"]
    assert outline(report).inventory_rows == []
    assert "No data yet" in report.read_text(encoding="utf-8")


def test_without_marts_the_previous_page_stays(tmp_path: Path) -> None:
    previous = tmp_path / "report.html"
    previous.write_text("previous report", encoding="utf-8")
    with pytest.raises(ReportError, match="kb_inventory"):
        build_report(duckdb.connect(), previous)
    assert previous.read_text(encoding="utf-8") == "previous report"
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]
