"""Protects what a reader sees: the report opened in headless Chromium, with every host name
unresolvable so that anything fetched from the network would fail, draws every chart (SVG marks
inside each chart's trace groups) and raises no script error, with data and with an empty warehouse."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kb_pipeline.report import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install -y chromium)"
)

VOID_ELEMENTS = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


class RenderedCharts(HTMLParser):
    """Per chart container (`id="chart-..."`): its attributes, SVG roots, trace groups, and the
    drawn marks (paths with a drawing command) inside trace groups."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, Counter] = {}
        self.chart_attributes: dict[str, dict[str, str | None]] = {}
        self.root_attributes: dict[str, dict[str, str | None]] = {}
        self._open: list[tuple[str | None, bool]] = []  # (chart id, inside a trace group) per open element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("html", "body"):
            self.root_attributes[tag] = attributes
        chart, in_trace = self._open[-1] if self._open else (None, False)
        element_id = attributes.get("id") or ""
        if element_id.startswith("chart-"):
            chart = element_id
            self.charts[chart] = Counter()
            self.chart_attributes[chart] = attributes
        if chart:
            counts = self.charts[chart]
            counts["svg"] += tag == "svg"
            if "trace" in (attributes.get("class") or "").split():
                counts["traces"] += 1
                in_trace = True
            if in_trace and tag == "path" and (attributes.get("d") or "").startswith("M"):
                counts["marks"] += 1
        if tag not in VOID_ELEMENTS:
            self._open.append((chart, in_trace))

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID_ELEMENTS:
            self._open.pop()


def rendered(page: Path, profile: Path) -> RenderedCharts:
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=3000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    charts = RenderedCharts()
    charts.feed(result.stdout)
    return charts


@pytest.fixture(scope="module")
def pages(warehouse_factory, activity, tmp_path_factory) -> dict[str, RenderedCharts]:
    """The report with data and the report of an empty warehouse, rendered side by side."""
    directory = tmp_path_factory.mktemp("browser")
    reports = {
        name: build_report(warehouse_factory(rows), directory / f"{name}.html")
        for name, rows in (("with data", activity), ("empty", {}))
    }
    with ThreadPoolExecutor(max_workers=len(reports)) as browsers:
        shown = {
            name: browsers.submit(rendered, page, directory / f"profile-{name}")
            for name, page in reports.items()
        }
        return {name: future.result() for name, future in shown.items()}


@pytest.mark.parametrize("name", ["with data", "empty"])
def test_every_chart_draws_without_script_errors(pages, name: str) -> None:
    page = pages[name]
    assert "data-script-errors" not in page.root_attributes["html"], page.root_attributes["html"]
    assert set(page.charts) == {"chart-jobs-per-day", "chart-document-status-funnel", "chart-chunk-growth"}
    body = page.root_attributes["body"]
    assert body["data-charts-rendered"] == body["data-charts-expected"] == "3"
    for chart, counts in page.charts.items():
        assert page.chart_attributes[chart].get("data-rendered") == "true", chart
        assert counts["svg"] >= 1, chart


def test_with_data_every_trace_has_drawn_marks(pages, activity) -> None:
    charts = pages["with data"].charts
    sources_with_documents = {document["source"] for document in activity["documents"]}
    expected_traces = {
        "chart-jobs-per-day": 3,  # one per job status
        "chart-document-status-funnel": len(sources_with_documents),
        "chart-chunk-growth": 2,  # the VikingDB collection's snapshots, the PAI knowledge base's jobs
    }
    assert {chart: counts["traces"] for chart, counts in charts.items()} == expected_traces
    for chart, counts in charts.items():
        assert counts["marks"] >= counts["traces"], chart


def test_an_empty_warehouse_draws_empty_charts(pages) -> None:
    assert {counts["traces"] for counts in pages["empty"].charts.values()} == {0}
