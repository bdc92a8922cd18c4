"""The report's charts, one plotly figure per question, each drawn from a mart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pandas as pd
import plotly.graph_objects as go

from kb_pipeline.warehouse.tables import DOCUMENT_STATUSES

JOB_STATUS_COLORS = {"succeeded": "#2ca02c", "failed": "#d62728", "running": "#1f77b4"}


@dataclass(frozen=True, slots=True)
class Chart:
    key: str
    """The chart's id in the page (`chart-<key>`)."""
    title: str
    note: str
    figure: go.Figure


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


def _layout(figure: go.Figure, *, empty: bool, **layout: object) -> go.Figure:
    figure.update_layout(
        template="plotly_white", height=420, margin={"t": 30, "r": 20, "b": 50, "l": 60}, **layout
    )
    if empty:
        figure.add_annotation(text="No data yet", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    return figure


def jobs_per_day(con: duckdb.DuckDBPyConnection) -> Chart:
    days = _frame(
        con,
        """
        SELECT day, sum(succeeded) AS succeeded, sum(failed) AS failed, sum(running) AS running
        FROM job_health_daily GROUP BY day ORDER BY day
        """,
    )
    figure = go.Figure(
        [
            go.Bar(name=status, x=days["day"], y=days[status], marker_color=color)
            for status, color in JOB_STATUS_COLORS.items()
        ]
    )
    return Chart(
        key="jobs-per-day",
        title="Indexing jobs per day, by status",
        note="Jobs of all sources by the UTC day they were created, stacked by their current status; "
        "running ones have not finished yet. Per-source figures and durations: mart job_health_daily.",
        figure=_layout(
            figure, empty=days.empty, barmode="stack", xaxis_title="day (UTC)", yaxis_title="jobs"
        ),
    )


def document_status_funnel(con: duckdb.DuckDBPyConnection) -> Chart:
    totals = ", ".join(f"sum({status}) AS {status}" for status in DOCUMENT_STATUSES)
    sources = _frame(
        con, f"SELECT source, {totals} FROM document_status_funnel GROUP BY source ORDER BY source"
    )
    figure = go.Figure(
        [
            go.Funnel(name=row["source"], y=list(DOCUMENT_STATUSES), x=[row[s] for s in DOCUMENT_STATUSES])
            for _, row in sources.iterrows()
        ]
    )
    return Chart(
        key="document-status-funnel",
        title="Document status funnel",
        note="Live documents per normalized status, for the sources that list their documents. "
        "Per knowledge base: mart document_status_funnel; old queued or processing ones: documents_stuck.",
        figure=_layout(figure, empty=sources.empty, funnelmode="group"),
    )


def chunk_growth(con: duckdb.DuckDBPyConnection) -> Chart:
    days = _frame(
        con,
        """
        SELECT g.source || ' / ' || coalesce(i.kb_name, g.kb_id) AS knowledge_base, g.day, g.chunk_count
        FROM chunk_growth_daily AS g
        LEFT JOIN kb_inventory AS i ON g.source = i.source AND g.kb_id = i.kb_id
        ORDER BY knowledge_base, g.day
        """,
    )
    figure = go.Figure(
        [
            go.Scatter(name=name, x=kb_days["day"], y=kb_days["chunk_count"], mode="lines+markers")
            for name, kb_days in days.groupby("knowledge_base", sort=True)
        ]
    )
    return Chart(
        key="chunk-growth",
        title="Chunks per knowledge base",
        note="Chunk count at the end of each UTC day: from the day's last snapshot where the vendor reports "
        "one (VikingDB), otherwise the running total of succeeded jobs' added minus deleted chunks (PAI).",
        figure=_layout(figure, empty=days.empty, xaxis_title="day (UTC)", yaxis_title="chunks"),
    )


CHARTS: tuple[Callable[[duckdb.DuckDBPyConnection], Chart], ...] = (
    jobs_per_day,
    document_status_funnel,
    chunk_growth,
)
