"""The report's charts, one plotly figure per question, each drawn from a mart aggregated in SQL.

A figure is the plain dict plotly.js draws (`data` traces and a `layout`), written without
plotly.py's figure objects, whose validation of every property cost more than the rest of the
report together (see BENCHMARKS.md, "The fixed cost of a run").

Each chart keeps to one clock and says which on its axis: the vendor's times (when a job was
created or finished) or the pipeline's (when a snapshot was observed). The two are never mixed
on one axis: against a sandbox, or after a first run over years of history, they lie far apart.
Every query returns a bounded answer (a day per bar, or the top `TOP_KNOWLEDGE_BASES` lines).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby
from typing import Any

import duckdb

from kb_pipeline.warehouse.tables import DOCUMENT_STATUSES

JOB_STATUS_COLORS = {"succeeded": "#2ca02c", "failed": "#d62728", "running": "#1f77b4"}
TOP_KNOWLEDGE_BASES = 10
"""Lines per chunk chart: the knowledge bases with the most chunks; the feed holds the rest."""
FEW_DAYS = 7
DAY_MS = 86_400_000
JOB_DAYS = 180
"""Days the jobs chart shows, ending at the newest job's day (the data's clock, not the wall clock)."""


Figure = dict[str, Any]
"""A plotly.js figure: `{"data": [trace, ...], "layout": {...}}`."""


@dataclass(frozen=True, slots=True)
class Chart:
    key: str
    """The chart's id in the page (`chart-<key>`)."""
    title: str
    note: str
    figure: Figure


_AXIS = {
    "gridcolor": "#EBF0F8",
    "linecolor": "#EBF0F8",
    "zerolinecolor": "#EBF0F8",
    "zerolinewidth": 2,
    "ticks": "",
    "automargin": True,
    "title": {"standoff": 15},
}
LOOK = {
    "layout": {
        "font": {"color": "#2a3f5f"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "colorway": [
            "#636efa",
            "#EF553B",
            "#00cc96",
            "#ab63fa",
            "#FFA15A",
            "#19d3f3",
            "#FF6692",
            "#B6E880",
            "#FF97FF",
            "#FECB52",
        ],
        "xaxis": _AXIS,
        "yaxis": _AXIS,
        "hovermode": "closest",
        "hoverlabel": {"align": "left"},
        "title": {"x": 0.05},
        "autotypenumbers": "strict",
    }
}
"""The charts' template: the layout of plotly's `plotly_white`, which plotly.js applies itself."""
NO_DATA = {"text": "No data yet", "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}


def _figure(
    traces: list[dict[str, Any]],
    *,
    empty: bool,
    x_title: str = "",
    y_title: str = "",
    xaxis: dict[str, Any] | None = None,
    **layout: Any,
) -> Figure:
    """The traces on the report's layout."""
    return {
        "data": traces,
        "layout": {
            "template": LOOK,
            "height": 420,
            "margin": {"t": 30, "r": 20, "b": 50, "l": 60},
            "xaxis": {**({"title": {"text": x_title}} if x_title else {}), **(xaxis or {})},
            "yaxis": {"title": {"text": y_title}} if y_title else {},
            "annotations": [NO_DATA] if empty else [],
            **layout,
        },
    }


def jobs_per_day(con: duckdb.DuckDBPyConnection) -> Chart:
    days = con.execute(
        """
        SELECT day, sum(succeeded), sum(failed), sum(running)
        FROM job_health_daily
        WHERE day > (SELECT max(day) FROM job_health_daily) - CAST(? AS INTEGER)
        GROUP BY day ORDER BY day
        """,
        [JOB_DAYS],
    ).fetchall()
    columns = [list(column) for column in zip(*days, strict=True)] if days else [[], [], [], []]
    bars = [
        {"type": "bar", "name": status, "x": columns[0], "y": columns[1 + n], "marker": {"color": color}}
        for n, (status, color) in enumerate(JOB_STATUS_COLORS.items())
    ]
    return Chart(
        key="jobs-per-day",
        title="Indexing jobs per day, by status",
        note=f"Jobs of all sources by the UTC day the vendor says they were created (the last {JOB_DAYS} "
        "days of the data), stacked by their current status; running ones have not finished yet. "
        "Per-source figures and durations: mart job_health_daily (feeds/job_health_daily.parquet).",
        figure=_figure(
            bars,
            empty=not days,
            barmode="stack",
            x_title="day the job was created (UTC, vendor's time)",
            y_title="jobs",
        ),
    )


def document_status_funnel(con: duckdb.DuckDBPyConnection) -> Chart:
    totals = ", ".join(f"sum({status})" for status in DOCUMENT_STATUSES)
    sources = con.execute(
        f"SELECT source, {totals} FROM document_status_funnel GROUP BY source ORDER BY source"
    ).fetchall()
    funnels = [
        {"type": "funnel", "name": source, "y": list(DOCUMENT_STATUSES), "x": list(counts)}
        for source, *counts in sources
    ]
    return Chart(
        key="document-status-funnel",
        title="Document status funnel",
        note="Live documents per normalized status, for the sources that list their documents. "
        "Per knowledge base: mart document_status_funnel; old queued or processing ones: documents_stuck.",
        figure=_figure(funnels, empty=not sources, funnelmode="group"),
    )


CHUNK_LINES = """
WITH growth AS (
    SELECT g.source, g.kb_id, g.day, g.chunk_count,
        g.source || ' / ' || coalesce(k.name, g.kb_id) AS knowledge_base
    FROM {growth} AS g
    LEFT JOIN knowledge_bases AS k ON g.source = k.source AND g.kb_id = k.kb_id
),
largest AS (
    SELECT source, kb_id, arg_max(chunk_count, day) AS latest
    FROM growth GROUP BY source, kb_id
    ORDER BY latest DESC NULLS LAST, source, kb_id
    LIMIT ?
)
SELECT g.knowledge_base, g.day, g.chunk_count, (SELECT count(DISTINCT (source, kb_id)) FROM growth)
FROM growth AS g
JOIN largest USING (source, kb_id)
ORDER BY g.knowledge_base, g.day
"""


def _chunk_lines(con: duckdb.DuckDBPyConnection, growth: str, **titles: str) -> tuple[Figure, int]:
    """One line per knowledge base of the `growth` relation, the largest few only, and how many there are."""
    rows = con.execute(CHUNK_LINES.format(growth=growth), [TOP_KNOWLEDGE_BASES]).fetchall()
    lines = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": name,
            "x": [r[1] for r in points],
            "y": [r[2] for r in points],
        }
        for name, points in ((name, list(group)) for name, group in groupby(rows, key=lambda r: r[0]))
    ]
    days = sorted({row[1] for row in rows})
    xaxis = {}
    if days and (days[-1] - days[0]).days < FEW_DAYS:  # whole days only, not hours around one midnight
        padded = [days[0] - timedelta(days=1), days[-1] + timedelta(days=1)]
        xaxis = {"range": padded, "dtick": DAY_MS, "tickformat": "%Y-%m-%d"}
    total = rows[0][3] if rows else 0
    return _figure(lines, empty=not total, xaxis=xaxis, **titles), total


def _shown(total: int) -> str:
    if total <= TOP_KNOWLEDGE_BASES:
        return "Every knowledge base"
    return f"The {TOP_KNOWLEDGE_BASES} knowledge bases with the most chunks, of {total:,}"


def chunks_observed(con: duckdb.DuckDBPyConnection) -> Chart:
    figure, total = _chunk_lines(
        con,
        "(SELECT * FROM chunk_growth_daily WHERE method = 'snapshot')",
        x_title="day observed (UTC, the pipeline's clock)",
        y_title="chunks",
    )
    return Chart(
        key="chunks-observed",
        title="Chunks per knowledge base, as observed",
        note=f"{_shown(total)} that the vendor reports a chunk count for (VikingDB point_num, PAI "
        "ListKnowledgeBaseChunks TotalCount): the count "
        "of the last snapshot of each UTC day, placed on the day the pipeline observed it. "
        "All of them: mart chunk_growth_daily, method 'snapshot' (feeds/chunk_growth_daily.parquet).",
        figure=figure,
    )


def chunks_from_jobs(con: duckdb.DuckDBPyConnection) -> Chart:
    figure, total = _chunk_lines(
        con, "chunk_growth_from_jobs", x_title="day the jobs finished (UTC, vendor's time)", y_title="chunks"
    )
    return Chart(
        key="chunks-from-jobs",
        title="Chunks per knowledge base, from indexing jobs",
        note=f"{_shown(total)} whose jobs report chunk counts (PAI): the running total of succeeded "
        "jobs' added minus deleted chunks, on the UTC day the vendor says each job finished, an estimate "
        "to hold against the snapshots. All of them: mart chunk_growth_from_jobs "
        "(feeds/chunk_growth_from_jobs.parquet).",
        figure=figure,
    )


CHARTS: tuple[Callable[[duckdb.DuckDBPyConnection], Chart], ...] = (
    jobs_per_day,
    document_status_funnel,
    chunks_observed,
    chunks_from_jobs,
)
