"""The report's sections, each an HTML fragment from a bounded query (see `figures`).

Top to bottom, what a reader needs first: what needs attention (failed or stale streams, failed
checks, runs that never finished), the headline figures per source, each stream's last run and
freshness, the check outcomes, the charts, then the largest knowledge bases. Long lists are
capped, each with a pointer to the Parquet feed that holds all of it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

import duckdb

from kb_pipeline.report import figures
from kb_pipeline.report.charts import Chart
from kb_pipeline.report.checks import CheckOutcome
from kb_pipeline.report.tables import Cell, badge, bytes_cell, html_table, number, time_cell

INVENTORY_ROWS = 50
"""Knowledge bases the inventory table shows (the largest); feeds/kb_inventory.parquet has them all."""
CHART_CONFIG = {"displaylogo": False, "responsive": True}
FEEDS = "feeds"
"""The feeds' folder, relative to the report (both live in the data directory)."""


def _section(anchor: str, title: str, note: str, content: str, css_class: str = "") -> str:
    attribute = f' class="{css_class}"' if css_class else ""
    note_html = f'<p class="note">{note}</p>\n' if note else ""
    return (
        f'<section id="{anchor}"{attribute}>\n<h2>{html.escape(title)}</h2>\n{note_html}{content}\n</section>'
    )


def _feed_link(name: str) -> str:
    return f'<a href="{FEEDS}/{name}.parquet">{FEEDS}/{name}.parquet</a>'


def _script_json(value: object) -> str:
    """JSON for inside a <script>: dates as ISO text, and no `</` that could end the script early."""
    return json.dumps(value, default=lambda v: v.isoformat(), ensure_ascii=False).replace("</", "<\\/")


def chart_section(chart: Chart) -> str:
    """The chart as plotly.js draws it (`Plotly.newPlot`), from the figure `charts` built."""
    chart_id = f"chart-{chart.key}"
    figure = chart.figure
    height = figure["layout"]["height"]
    plot = (
        f'<div id="{chart_id}" class="plotly-graph-div" style="height:{height}px; width:100%;"></div>\n'
        f'<script>Plotly.newPlot("{chart_id}", {_script_json(figure["data"])}, '
        f"{_script_json(figure['layout'])}, {_script_json(CHART_CONFIG)})"
        f'.then(function () {{ window.kbReport.rendered("{chart_id}"); }});</script>'
    )
    return _section(chart.key, chart.title, html.escape(chart.note), f'<div class="chart">{plot}</div>')


def attention_section(
    streams: figures.Rows, runs: figures.Rows, checks: Sequence[CheckOutcome] | None
) -> str:
    problems = []
    for stream in streams.dicts():
        if stream["status"] == "failed":
            problems.append(
                f"Stream <b>{html.escape(stream['stream'])}</b> failed in its last run: "
                f"{html.escape(stream['first_error'] or 'no message')}"
            )
        elif stream["status"] == "stale":
            problems.append(
                f"Stream <b>{html.escape(stream['stream'])}</b> has not been extracted "
                f"successfully for {stream['hours_since_success']:,.0f} hours"
            )
    for run in runs.dicts():
        if run["error"]:
            what = f"failed before any stream ran: {run['error']}"
        elif run["status"] == "running":
            what = "never finished (still running, or stopped before it could record its end)"
        else:
            what = f"ended {run['status']} before any stream ran"
        problems.append(
            f"Run {html.escape(run['run_id'])} (started {run['started_at']:%Y-%m-%d %H:%M} UTC) "
            f"{html.escape(what)}"
        )
    for check in checks or ():
        if not check.passed:
            level = "failed" if check.severity == "ERROR" else "warns"
            problems.append(
                f"Check <b>{html.escape(check.asset)} / {html.escape(check.check)}</b> {level}"
                + (f": {html.escape(check.description)}" if check.description else "")
            )
    if not problems and not streams.rows:
        note = "No run has been recorded in this warehouse yet."
        return _section("attention", "No data yet", note, "")
    if problems:
        items = "\n".join(f"<li>{problem}</li>" for problem in problems)
        return _section("attention", f"Needs attention ({len(problems)})", "", f"<ul>\n{items}\n</ul>", "bad")
    checked = f", and all {len(checks)} checks passed" if checks else ""
    return _section(
        "attention", "Nothing needs attention", f"Every stream's last run succeeded{checked}.", "", "ok"
    )


HEADLINE_COLUMNS = {
    "source": "source",
    "knowledge_bases": "knowledge bases",
    "documents": "documents",
    "bytes": "size",
    "chunks": "chunks",
    "jobs": "jobs",
    "running_jobs": "running",
    "failed_jobs": "failed",
    "quarantined": "quarantined rows",
    "last_extracted_at": "last page fetched (UTC)",
}


def headline_section(rows: figures.Rows) -> str:
    sources = rows.dicts()
    totals = {name: sum(s[name] or 0 for s in sources) for name in list(HEADLINE_COLUMNS)[1:-1]}
    cards = [
        ("knowledge bases", number(totals["knowledge_bases"])),
        ("documents", number(totals["documents"])),
        ("size", bytes_cell(totals["bytes"])),
        ("chunks", number(totals["chunks"])),
        ("jobs running", number(totals["running_jobs"])),
        ("jobs failed", number(totals["failed_jobs"])),
    ]
    cards_html = (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="value">{cell.text}</div><div class="label">{label}</div></div>'
            for label, cell in cards
        )
        + "</div>"
    )

    def cells(row: dict) -> list[Cell]:
        return [
            Cell(html.escape(str(row["source"]))),
            *(number(row[name]) for name in ("knowledge_bases", "documents")),
            bytes_cell(row["bytes"]),
            *(number(row[name]) for name in ("chunks", "jobs", "running_jobs", "failed_jobs", "quarantined")),
            time_cell(row["last_extracted_at"]),
        ]

    body = [cells(row) for row in sources]
    total_row = (
        cells({**totals, "source": "all sources", "last_extracted_at": None}) if len(sources) > 1 else None
    )
    table = html_table("headline-table", list(HEADLINE_COLUMNS.values()), body, total_row)
    note = (
        "Live knowledge bases and what they hold (documents as counted in the inventory below), live jobs "
        "by their current status, rows ever quarantined, and when each source's newest page was fetched."
    )
    return _section("headline", "At a glance", note, cards_html + "\n" + table)


STREAM_COLUMNS = [
    "stream",
    "source",
    "status",
    "last run (UTC)",
    "records",
    "last success (UTC)",
    "hours since",
    "quarantined in last run",
    "error",
]


def streams_section(rows: figures.Rows) -> str:
    body = [
        [
            Cell(html.escape(row["stream"])),
            Cell(html.escape(row["source"] or "")),
            badge(row["status"]),
            time_cell(row["last_run_at"]),
            number(row["records"]),
            time_cell(row["last_success_at"]),
            number(None if row["hours_since_success"] is None else round(row["hours_since_success"], 1)),
            number(row["quarantined_last_run"]),
            Cell(html.escape(row["first_error"] or "")),
        ]
        for row in rows.dicts()
    ]
    note = (
        "Each stream's last run as the warehouse's run log (_kb.runs) records it: failed streams first, then "
        f"streams not extracted successfully for over {figures.STALE_AFTER_HOURS} hours (stale). Hours since "
        "the last success are counted at report time."
    )
    return _section(
        "streams", "Streams: last run and freshness", note, html_table("streams-table", STREAM_COLUMNS, body)
    )


def checks_section(checks: Sequence[CheckOutcome] | None) -> str:
    if checks is None:
        note = "Check results live in the Dagster instance; this page was built outside a Dagster run."
        return _section("checks", "Checks", html.escape(note), "")
    failing = [check for check in checks if not check.passed]
    body = [
        [
            Cell(html.escape(check.asset)),
            Cell(html.escape(check.check)),
            badge("failed" if check.severity == "ERROR" else "warn"),
            Cell(html.escape(check.description or "")),
            time_cell(check.evaluated_at),
        ]
        for check in sorted(failing, key=lambda c: (c.severity != "ERROR", c.asset, c.check))
    ]
    note = (
        f"{len(checks) - len(failing)} of {len(checks)} checks passed at their latest evaluation "
        "(a stream whose run failed has its checks left unevaluated; it is listed above)."
    )
    table = (
        html_table("checks-table", ["asset", "check", "outcome", "why", "evaluated (UTC)"], body)
        if body
        else ""
    )
    return _section("checks", "Checks", html.escape(note), table)


INVENTORY_COLUMNS = [
    "source",
    "scope",
    "knowledge base",
    "id",
    "documents",
    "counted from",
    "bytes",
    "chunks",
    "last activity (UTC)",
]


def inventory_section(con: duckdb.DuckDBPyConnection) -> str:
    top, total = figures.inventory_top(con, INVENTORY_ROWS)
    body = [
        [
            number(value)
            if isinstance(value, int)
            else Cell(html.escape("" if value is None else str(value)))
            for value in row
        ]
        for row in top.rows
    ]
    shown = (
        f"All {total:,} live knowledge bases"
        if total <= INVENTORY_ROWS
        else f"The {INVENTORY_ROWS} largest of {total:,} live knowledge bases (by documents, then bytes)"
    )
    note = (
        f"{shown}, with their documents (from the documents list, the vendor's file count or the latest "
        "snapshot's doc_num, as 'counted from' says), bytes, latest chunk count and last activity. "
        f"Every one of them: {_feed_link('kb_inventory')} (mart kb_inventory)."
    )
    return _section(
        "inventory", "Knowledge-base inventory", note, html_table("inventory-table", INVENTORY_COLUMNS, body)
    )
