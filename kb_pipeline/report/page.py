"""Assembles the report page: inline plotly.js, the charts, the inventory table; written atomically."""

from __future__ import annotations

import html
import uuid
from datetime import UTC, datetime
from pathlib import Path
from string import Template

import duckdb
import plotly.io as pio
from plotly.offline import get_plotlyjs

from kb_pipeline.report.charts import CHARTS, Chart

TITLE = "Knowledge-base inventory report"
MARTS_READ = ("job_health_daily", "document_status_funnel", "chunk_growth_daily", "kb_inventory")
INVENTORY_COLUMNS = {
    "source": "source",
    "scope": "scope",
    "kb_name": "knowledge base",
    "kb_id": "id",
    "documents": "documents",
    "documents_basis": "counted from",
    "bytes": "bytes",
    "chunks": "chunks",
    "last_activity": "last activity (UTC)",
}

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
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
section { margin-top: 2.5rem; }
.note, .generated { color: #555; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.5rem; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
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
<p class="generated">Generated $generated_at UTC.</p>
$sections
</body>
</html>
""")


class ReportError(RuntimeError):
    """The report cannot be built from this database."""


def _section(anchor: str, title: str, note: str, content: str) -> str:
    return (
        f'<section id="{anchor}">\n<h2>{html.escape(title)}</h2>\n'
        f'<p class="note">{html.escape(note)}</p>\n{content}\n</section>'
    )


def _chart_section(chart: Chart) -> str:
    chart_id = f"chart-{chart.key}"
    figure_html = pio.to_html(
        chart.figure,
        include_plotlyjs=False,
        full_html=False,
        div_id=chart_id,
        config={"displaylogo": False, "responsive": True},
        post_script=f"window.kbReport.rendered('{chart_id}');",
    )
    return _section(chart.key, chart.title, chart.note, f'<div class="chart">{figure_html}</div>')


def _inventory_section(con: duckdb.DuckDBPyConnection) -> str:
    cursor = con.execute(
        """
        SELECT source, concat_ws(' ', scope_type, scope_id) AS scope, kb_name, kb_id,
            documents, documents_basis, bytes, chunks,
            strftime(timezone('UTC', last_activity_at), '%Y-%m-%d %H:%M') AS last_activity
        FROM kb_inventory
        ORDER BY source, scope, kb_name, kb_id
        """
    )
    columns = [description[0] for description in cursor.description]
    header = "".join(f"<th>{html.escape(INVENTORY_COLUMNS[c])}</th>" for c in columns)
    body = "\n".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in cursor.fetchall())
    note = (
        "Live knowledge bases with their documents (from the documents list, the vendor's file count or the "
        "latest snapshot's doc_num, as 'counted from' says), bytes, latest chunk count and last activity."
    )
    table = (
        f'<table id="inventory-table">\n<thead><tr>{header}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>'
    )
    return _section("inventory", "Knowledge-base inventory", note, table)


def _cell(value: object) -> str:
    if isinstance(value, int):
        return f'<td class="number">{value:,}</td>'
    return f"<td>{html.escape('' if value is None else str(value))}</td>"


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


def build_report(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """Write the report to `path` from the marts in `con` and return `path`.

    The page embeds plotly.js, so it opens without a network. Raises ReportError if the marts are missing.
    """
    _check_marts(con)
    charts = [draw(con) for draw in CHARTS]
    sections = [_chart_section(chart) for chart in charts] + [_inventory_section(con)]
    page = PAGE.substitute(
        title=html.escape(TITLE),
        style=STYLE,
        page_script=PAGE_SCRIPT,
        plotly_js=get_plotlyjs(),
        chart_count=len(charts),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        sections="\n".join(sections),
    )
    _write_atomically(path, page)
    return path
