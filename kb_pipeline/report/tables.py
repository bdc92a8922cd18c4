"""HTML tables of the report: cells already escaped and formatted, numbers right-aligned."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime

BYTE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    """HTML, escaped already."""
    css_class: str = ""


def number(value: float | None) -> Cell:
    if value is None:
        return Cell("", "number")
    return Cell(f"{value:,}", "number")


def bytes_cell(value: int | None) -> Cell:
    """A size in the largest unit under 1,024 of it (1,536 -> "1.5 KB")."""
    if value is None:
        return Cell("", "number")
    size, unit = float(value), 0
    while size >= 1024 and unit < len(BYTE_UNITS) - 1:
        size, unit = size / 1024, unit + 1
    text = f"{value:,} B" if unit == 0 else f"{size:,.1f} {BYTE_UNITS[unit]}"
    return Cell(text, "number")


def time_cell(value: datetime | None) -> Cell:
    return Cell("" if value is None else f"{value:%Y-%m-%d %H:%M}")


def badge(status: str) -> Cell:
    return Cell(f'<span class="badge {html.escape(status)}">{html.escape(status)}</span>')


def _row(cells: list[Cell], css_class: str = "") -> str:
    attribute = f' class="{css_class}"' if css_class else ""
    tds = "".join(
        f'<td class="{c.css_class}">{c.text}</td>' if c.css_class else f"<td>{c.text}</td>" for c in cells
    )
    return f"<tr{attribute}>{tds}</tr>"


def html_table(
    table_id: str, headers: list[str], rows: list[list[Cell]], total: list[Cell] | None = None
) -> str:
    header = "".join(f"<th>{html.escape(name)}</th>" for name in headers)
    body = "\n".join(_row(cells) for cells in rows)
    foot = f"\n<tfoot>{_row(total, 'total')}</tfoot>" if total else ""
    return f'<table id="{table_id}">\n<thead><tr>{header}</tr></thead>\n<tbody>\n{body}\n</tbody>{foot}\n</table>'
