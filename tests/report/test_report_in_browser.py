"""Protects what a reader sees: the report opened in headless Chromium, with every host name
unresolvable so that anything fetched from the network would fail, draws every chart (SVG marks
inside each chart's trace groups) and raises no script error, with data and with an empty warehouse;
opens on what needs attention (the failed stream and the failed check); and is screenshotted into
the test's output folder (`report-with-data.png` beside the page) for a person to look at."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kb_pipeline.report import build_report
from tests.report.conftest import CHECKS, FAILED_STREAM, FAILURE

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


SCREEN_WIDTH = 1280


def _chromium(page: Path, profile: Path, *action: str) -> str:
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
            *action,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def rendered(page: Path, profile: Path) -> tuple[RenderedCharts, str]:
    """The page's charts as drawn, and the DOM's text after scripts ran."""
    dom = _chromium(page, profile, "--dump-dom")
    charts = RenderedCharts()
    charts.feed(dom)
    return charts, dom


def screenshot(page: Path, profile: Path) -> Path:
    picture = page.with_name(page.stem + ".png")
    _chromium(
        page, profile, "--hide-scrollbars", f"--window-size={SCREEN_WIDTH},4000", f"--screenshot={picture}"
    )
    return picture


@pytest.fixture(scope="module")
def output(tmp_path_factory) -> Path:
    """The test's output folder: the pages, their DOM and the screenshot stay here after the run."""
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="module")
def reports(warehouse_factory, activity, output: Path) -> dict[str, Path]:
    """The report with data (and check outcomes) and the report of an empty warehouse."""
    return {
        "with data": build_report(
            warehouse_factory(activity), output / "report-with-data.html", checks=CHECKS
        ),
        "empty": build_report(warehouse_factory({}), output / "report-empty.html"),
    }


@pytest.fixture(scope="module")
def shown(reports: dict[str, Path], output: Path) -> dict[str, object]:
    """Each page rendered, and the page with data screenshotted, side by side."""
    with ThreadPoolExecutor(max_workers=len(reports) + 1) as browsers:
        futures = {
            name: browsers.submit(rendered, page, output / f"profile-{name}")
            for name, page in reports.items()
        }
        futures["screenshot"] = browsers.submit(
            screenshot, reports["with data"], output / "profile-screenshot"
        )
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(scope="module")
def pages(shown) -> dict[str, RenderedCharts]:
    return {name: shown[name][0] for name in ("with data", "empty")}


@pytest.mark.parametrize("name", ["with data", "empty"])
def test_every_chart_draws_without_script_errors(pages, name: str) -> None:
    page = pages[name]
    assert "data-script-errors" not in page.root_attributes["html"], page.root_attributes["html"]
    assert set(page.charts) == {
        "chart-jobs-per-day",
        "chart-document-status-funnel",
        "chart-chunks-observed",
        "chart-chunks-from-jobs",
    }
    body = page.root_attributes["body"]
    assert body["data-charts-rendered"] == body["data-charts-expected"] == "4"
    for chart, counts in page.charts.items():
        assert page.chart_attributes[chart].get("data-rendered") == "true", chart
        assert counts["svg"] >= 1, chart


def test_with_data_every_trace_has_drawn_marks(pages, activity) -> None:
    charts = pages["with data"].charts
    sources_with_documents = {document["source"] for document in activity["documents"]}
    expected_traces = {
        "chart-jobs-per-day": 3,  # one per job status
        "chart-document-status-funnel": len(sources_with_documents),
        "chart-chunks-observed": 1,  # the VikingDB collection's snapshots
        "chart-chunks-from-jobs": 1,  # the PAI knowledge base's jobs
    }
    assert {chart: counts["traces"] for chart, counts in charts.items()} == expected_traces
    for chart, counts in charts.items():
        assert counts["marks"] >= counts["traces"], chart


def test_an_empty_warehouse_draws_empty_charts(pages) -> None:
    assert {counts["traces"] for counts in pages["empty"].charts.values()} == {0}


def test_the_page_opens_on_the_failed_stream_and_the_failed_check(shown) -> None:
    _, dom = shown["with data"]
    first_section = re.search(r'<section id="(\w+)" class="(\w+)"', dom)
    assert first_section and first_section.groups() == ("attention", "bad")
    attention = dom[first_section.start() : dom.index("</section>", first_section.start())]
    assert FAILED_STREAM in attention and FAILURE in attention
    assert "documents_schema" in attention
    assert re.search(
        rf"<td>{re.escape(FAILED_STREAM)}</td><td>vikingdb</td><td><span class=\"badge failed\"", dom
    )


def test_a_screenshot_of_the_page_is_left_in_the_output_folder(shown, reports) -> None:
    picture = shown["screenshot"]
    assert picture.parent == reports["with data"].parent
    header = picture.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert (width, height) == (SCREEN_WIDTH, 4000)
    assert picture.stat().st_size > 100_000  # drawn charts and tables, not a blank page
