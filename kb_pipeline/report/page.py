"""Assembles the report page from its sections and writes it atomically.

The page embeds plotly.js and opens offline; what it shows, in order, is in `sections`.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from string import Template

import duckdb
from plotly.offline import get_plotlyjs

from kb_pipeline.report import figures, sections
from kb_pipeline.report.charts import CHARTS
from kb_pipeline.report.checks import CheckOutcome

TITLE = "Knowledge-base inventory report"
MARTS_READ = (
    "job_health_daily",
    "document_status_funnel",
    "chunk_growth_daily",
    "chunk_growth_from_jobs",
    "kb_inventory",
)
# Records script errors on <html data-script-errors> and counts drawn charts on
# <body data-charts-rendered>, so that a headless browser's DOM dump shows both.
PAGE_SCRIPT = """
window.kbReport = {
  errors: [],
  recordError: function (message) {
    this.errors.push(String(message));
    document.documentElement.dataset.scriptErrors = this.errors.join("\\n");
  },
  rendered: function (chartId) {
    document.getElementById(chartId).dataset.rendered = "true";
    document.body.dataset.chartsRendered = document.querySelectorAll("[data-rendered]").length;
  }
};
window.addEventListener("error", function (event) { window.kbReport.recordError(event.message); });
window.addEventListener("unhandledrejection", function (event) {
  window.kbReport.recordError(event.reason);
});
"""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; padding: 0 1rem; }
section { margin-top: 2.5rem; }
.note, .generated { color: #555; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; border-top: 2px solid #999; }
.cards { display: flex; flex-wrap: wrap; gap: 1rem; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: 0.8rem 1.2rem; min-width: 9rem; }
.card .value { font-size: 1.8rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .label { color: #555; }
.badge { border-radius: 4px; padding: 0.1rem 0.45rem; font-size: 0.8rem; font-weight: 600; }
.badge.ok { background: #e3f4e3; color: #1d6b1d; }
.badge.failed { background: #fbe3e3; color: #a31515; }
.badge.stale, .badge.warn, .badge.unknown { background: #fff3d6; color: #8a5a00; }
#attention { border-left: 6px solid; padding: 0.5rem 1rem; }
#attention.ok { border-color: #2ca02c; background: #f3faf3; }
#attention.bad { border-color: #d62728; background: #fdf3f3; }
#attention li { margin: 0.2rem 0; }
"""

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>$title</title>
<style>$style</style>
<script>$page_script</script>
<script>$plotly_js</script>
</head>
<body data-charts-expected="$chart_count">
<h1>$title</h1>
<p class="generated">Generated $generated_at UTC; $data_as_of</p>
$sections
</body>
</html>
""")


class ReportError(RuntimeError):
    """The report cannot be built from this database."""


def _check_marts(con: duckdb.DuckDBPyConnection) -> None:
    views = {name for (name,) in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    if missing := [name for name in MARTS_READ if name not in views]:
        raise ReportError(f"marts {', '.join(missing)} not found in the database; create the marts first")


def _write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`: readers never see half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def build_report(
    con: duckdb.DuckDBPyConnection, path: Path, *, checks: Sequence[CheckOutcome] | None = None
) -> Path:
    """Write the report to `path` from the marts and run log in `con` and return `path`.

    `checks` are the latest check outcomes (None when they are not known, outside Dagster).
    Raises ReportError if the marts are missing; the previous page then stays as it was.
    """
    _check_marts(con)
    streams = figures.streams(con)
    charts = [draw(con) for draw in CHARTS]
    parts = [
        sections.attention_section(streams, figures.runs_without_outcomes(con), checks),
        sections.headline_section(figures.headline(con)),
        sections.streams_section(streams),
        sections.checks_section(checks),
        *(sections.chart_section(chart) for chart in charts),
        sections.inventory_section(con),
    ]
    latest = figures.latest_extraction(con)
    data_as_of = f"newest data fetched {latest:%Y-%m-%d %H:%M} UTC." if latest else "no data extracted yet."
    page = PAGE.substitute(
        title=html.escape(TITLE),
        style=STYLE,
        page_script=PAGE_SCRIPT,
        plotly_js=get_plotlyjs(),
        chart_count=len(charts),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        data_as_of=data_as_of,
        sections="\n".join(parts),
    )
    _write_atomically(path, page)
    return path
