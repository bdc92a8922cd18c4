"""Protects the report file: one self-contained page (no external script, style or image) that
opens on what needs attention (failed and stale streams, unfinished runs, failed checks), then
each source's totals and each stream's last run; each chart embedded with its data and on one
named clock; the inventory capped, escaped and pointing to its feed; and an atomic write that
never leaves a half-written or temporary file behind."""

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
from kb_pipeline.report.sections import INVENTORY_ROWS
from kb_pipeline.warehouse.tables import DOCUMENT_STATUSES
from tests.report.conftest import (
    CHECKS,
    FAILED_STREAM,
    FAILURE,
    NOW,
    QUARANTINED_LAST_RUN,
    RUN_ERROR,
    STALE_STREAM,
    STREAMS,
)

CHART_IDS = (
    "chart-jobs-per-day",
    "chart-document-status-funnel",
    "chart-chunks-observed",
    "chart-chunks-from-jobs",
)


class PageOutline(HTMLParser):
    """The external references, element ids, inline scripts, the text of each section and the body
    rows (tbody, then tfoot) of each table, by id."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self.ids: set[str] = set()
        self.scripts: list[str] = []
        self.sections: dict[str, str] = {}
        self.section_order: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._in_script = False
        self._section: str | None = None
        self._table: str | None = None
        self._in_rows = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.references += [value for name, value in attrs if name in ("src", "href") and value]
        if element_id := attributes.get("id"):
            self.ids.add(element_id)
        self._in_script = tag == "script"
        if tag == "section" and element_id:
            self._section = element_id
            self.section_order.append(element_id)
            self.sections[element_id] = ""
        elif tag == "table":
            self._table = element_id
            self.tables[element_id or ""] = []
        elif tag in ("tbody", "tfoot"):
            self._in_rows = True
        elif tag == "tr" and self._in_rows:
            self.tables[self._table or ""].append([])
        elif tag == "td" and self._in_rows:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.tables[self._table or ""][-1].append("".join(self._cell))
            self._cell = None
        if tag in ("tbody", "tfoot"):
            self._in_rows = False
        if tag == "section":
            self._section = None
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)
        elif self._section:
            self.sections[self._section] += data
        if self._cell is not None:
            self._cell.append(data)


def outline(path: Path) -> PageOutline:
    page = PageOutline()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def report(warehouse_factory, activity, tmp_path_factory) -> Path:
    """The page of the shared activity, built once for the tests that only read it."""
    path = tmp_path_factory.mktemp("out") / "report.html"
    assert build_report(warehouse_factory(activity), path, checks=CHECKS) == path
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


def chart_layout(text: str, chart_id: str) -> dict:
    """The layout argument of the chart's Plotly.newPlot call."""
    call = re.search(rf'Plotly\.newPlot\(\s*"{chart_id}",\s*', text)
    assert call, chart_id
    decoder = json.JSONDecoder()
    _, end = decoder.raw_decode(text, call.end())
    layout, _ = decoder.raw_decode(text, text.index("{", end))
    return layout


def test_each_chunk_chart_keeps_to_one_clock_and_names_it(report: Path, activity) -> None:
    snapshots = sorted(
        (row["observed_at"].date(), row["chunk_count"])
        for row in activity["chunk_counts"]
        if row["kb_id"] == "coll-1"
    )
    net_per_day: Counter = Counter()
    for job in activity["jobs"]:
        if job["kb_id"] == "pai-1" and job["status"] == "succeeded":
            net_per_day[job["finished_at"].date()] += job["add_chunk_count"] - job["delete_chunk_count"]
    job_days = sorted(net_per_day)
    running_total = list(accumulate(net_per_day[day] for day in job_days))
    text = report.read_text(encoding="utf-8")

    observed = chart_traces(text, "chart-chunks-observed")
    from_jobs = chart_traces(text, "chart-chunks-from-jobs")

    assert [(t["name"], t["y"]) for t in observed] == [
        ("vikingdb / Support collection", [chunks for _, chunks in snapshots])
    ]
    assert [x[:10] for x in observed[0]["x"]] == [day.isoformat() for day, _ in snapshots]
    assert [(t["name"], t["y"]) for t in from_jobs] == [("pai_langstudio / Runbooks", running_total)]
    assert [x[:10] for x in from_jobs[0]["x"]] == [day.isoformat() for day in job_days]
    assert "pipeline" in chart_layout(text, "chart-chunks-observed")["xaxis"]["title"]["text"]
    assert "vendor" in chart_layout(text, "chart-chunks-from-jobs")["xaxis"]["title"]["text"]


def test_attention_lists_the_failed_and_stale_streams_the_unfinished_run_and_failed_checks(
    report: Path,
) -> None:
    page = outline(report)
    assert page.section_order[0] == "attention"
    attention = page.sections["attention"]
    assert "Needs attention (6)" in attention
    assert f"Stream {FAILED_STREAM} failed in its last run: {FAILURE}" in attention
    assert f"Stream {STALE_STREAM} has not been extracted successfully for 30 hours" in attention
    assert (
        f"Run run-3 (started {(NOW - timedelta(minutes=40)):%Y-%m-%d %H:%M} UTC) failed before any stream ran: {RUN_ERROR}"
        in attention
    )
    assert "Run run-4" in attention and "never finished" in attention
    assert "run-1" not in attention and "run-2" not in attention
    assert "qianfan/documents / documents_schema failed: 3 rows fail: status" in attention
    assert "qianfan/documents / nothing_quarantined warns" in attention
    assert "documents_unique_key" not in attention


def test_the_headline_gives_each_sources_totals(report: Path, activity) -> None:
    rows = {row[0]: row for row in outline(report).tables["headline-table"]}
    live = [kb for kb in activity["knowledge_bases"] if kb.get("deleted_at") is None]
    for source in ("qianfan", "vikingdb", "pai_langstudio", "lingma"):
        jobs = [job for job in activity["jobs"] if job["source"] == source]
        assert rows[source][1] == str(sum(kb["source"] == source for kb in live)), source
        assert rows[source][5] == str(len(jobs)), source
        assert rows[source][7] == str(sum(job["status"] == "failed" for job in jobs)), source
    assert rows["qianfan"][2] == str(len(activity["documents"]))
    assert rows["qianfan"][8] == str(len(activity["_kb.quarantine"]))
    assert rows["all sources"][1] == str(len(live))
    assert rows["all sources"][5] == str(len(activity["jobs"]))


def test_streams_show_their_last_run_failed_and_stale_first(report: Path, activity) -> None:
    rows = outline(report).tables["streams-table"]
    status = {row[0]: row[2] for row in rows}
    assert status == {
        stream: "failed" if stream == FAILED_STREAM else "stale" if stream == STALE_STREAM else "ok"
        for stream in STREAMS
    }
    assert [row[2] for row in rows[:2]] == ["failed", "stale"]
    by_stream = {row[0]: row for row in rows}
    assert by_stream[FAILED_STREAM][8] == FAILURE
    assert by_stream["qianfan.documents"][7] == str(QUARANTINED_LAST_RUN)
    since_fixture = (datetime.now(UTC) - NOW).total_seconds() / 3600  # the run log was written 1 h before NOW
    assert 0.95 <= float(by_stream["pai.jobs"][6]) <= 1.05 + since_fixture


def test_checks_count_the_passed_and_list_the_rest(report: Path) -> None:
    page = outline(report)
    assert "2 of 4 checks passed" in page.sections["checks"]
    assert [row[:3] for row in page.tables["checks-table"]] == [
        ["qianfan/documents", "documents_schema", "failed"],
        ["qianfan/documents", "nothing_quarantined", "warn"],
    ]


def _many_knowledge_bases(con: duckdb.DuckDBPyConnection, count: int) -> None:
    con.execute(
        """
        INSERT INTO knowledge_bases (source, kb_id, name, file_count, size_bytes)
        SELECT 'lingma', 'kb-' || i, 'Knowledge base ' || i, i % 997, i * 10 FROM range(?) AS t(i)
        """,
        [count],
    )


def test_the_inventory_shows_the_largest_and_points_to_the_feed_for_the_rest(
    warehouse_factory, tmp_path
) -> None:
    con = warehouse_factory({})
    _many_knowledge_bases(con, 3000)
    path = build_report(con, tmp_path / "report.html")
    page = outline(path)
    rows = page.tables["inventory-table"]
    assert len(rows) == INVENTORY_ROWS
    largest = sorted((n % 997 for n in range(3000)), reverse=True)[:INVENTORY_ROWS]
    assert [int(row[4].replace(",", "")) for row in rows] == largest
    assert f"The {INVENTORY_ROWS} largest of 3,000 live knowledge bases" in page.sections["inventory"]
    assert "feeds/kb_inventory.parquet" in page.references


def test_inventory_table_lists_live_knowledge_bases_escaped(report: Path, activity) -> None:
    rows = outline(report).tables["inventory-table"]
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


def test_a_rebuild_replaces_the_page_and_leaves_nothing_else(warehouse_factory, activity, tmp_path) -> None:
    report = build_report(warehouse_factory(activity), tmp_path / "report.html")
    build_report(warehouse_factory({}), report)
    assert [path.name for path in report.parent.iterdir()] == ["report.html"]
    page = outline(report)
    assert page.tables["inventory-table"] == [] and page.tables["headline-table"] == []
    assert "No data yet" in report.read_text(encoding="utf-8")
    assert "No run has been recorded" in page.sections["attention"]


def test_without_marts_the_previous_page_stays(tmp_path: Path) -> None:
    previous = tmp_path / "report.html"
    previous.write_text("previous report", encoding="utf-8")
    with pytest.raises(ReportError, match="kb_inventory"):
        build_report(duckdb.connect(), previous)
    assert previous.read_text(encoding="utf-8") == "previous report"
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]
