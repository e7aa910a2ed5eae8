"""One self-contained HTML file of report sections (tables and PNG figures inlined as base64), to
open in any browser or attach to a paper's supplement without the files beside it. Tables and
figures are numbered with captions (``paper.py`` makes them readable and exports them)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from personality_assets.defs.metadata import png_data_uri
from personality_assets.defs.persona_study.reports.paper import (
    Figure,
    Numbered,
    Table,
    is_numeric_column,
    number,
    report_table,
)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 1.5em 2.5em; max-width: 1320px;
       color: #222; line-height: 1.4; box-sizing: border-box; }
h1 { margin-top: 0.3em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.table-box { width: fit-content; max-width: 100%; overflow-x: auto; margin: 0.3em 0 0.2em; border: 1px solid #e4e4e4; }
.table-box.long { max-height: 36em; overflow-y: auto; }
table { border-collapse: collapse; font-size: 12px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #e0e0e0; padding: 3px 8px; text-align: left; white-space: nowrap; }
th { background: #f4f4f4; position: sticky; top: 0; border-bottom: 2px solid #999; }
td.num, th.num { text-align: right; }
.caption { font-size: 14px; margin: 1.4em 0 0.2em; }
.legend { color: #555; font-size: 12px; margin: 0.2em 0 1.2em; }
figure { margin: 1.2em 0; } figcaption { font-size: 14px; color: #333; margin-top: 0.3em; }
img { max-width: 100%; border: 1px solid #eee; } .note { color: #555; font-size: 13px; }
"""
LONG_TABLE_ROWS = 25


@dataclass
class Section:
    title: str
    note: str = ""
    tables: list[pl.DataFrame | Table] = field(default_factory=list)
    images: list[Path | Figure] = field(default_factory=list)


def html_table(frame: pl.DataFrame, digits: int = 3) -> str:
    """A table of strings (``paper.readable``) or raw values, numeric columns right-aligned."""

    def text(value) -> str:
        if value is None:
            return "n/a"
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    rows = [[text(v) for v in row] for row in frame.iter_rows()]
    numeric = [is_numeric_column([row[i] for row in rows]) for i in range(frame.width)]
    head = "".join(
        f"<th{' class=num' if num else ''}>{html.escape(name)}</th>"
        for name, num in zip(frame.columns, numeric, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if num else ''}>{html.escape(v)}</td>" for v, num in zip(row, numeric, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _what(section: Section) -> str:
    return f"{section.title}. {section.note}" if section.note else section.title


def prepare(sections: list[Section]) -> Numbered:
    """Turns each section's raw tables into captioned ``Table``s (the section's title and note as
    caption) and its figure paths into ``Figure``s, then numbers them in the order shown. A figure
    whose file is absent (nothing to plot: no figure was made) is left out, unnumbered."""
    items = []
    for section in sections:
        figures = [i if isinstance(i, Figure) else Figure(i, section.title) for i in section.images]
        section.images = [figure for figure in figures if figure.path.exists()]
        section.tables = [t if isinstance(t, Table) else report_table(t, _what(section)) for t in section.tables]
        items += [*section.tables, *section.images]
    return number(items)


def _table_html(table: Table) -> str:
    long = " long" if table.frame.height > LONG_TABLE_ROWS else ""
    parts = [
        f"<p class='caption' id='table-{table.number}'><b>Table {table.number}.</b> {html.escape(table.caption)}</p>",
        f"<div class='table-box{long}'>{html_table(table.frame)}</div>",
    ]
    if table.legend:
        parts.append(f"<p class='legend'><i>Note.</i> {html.escape(table.legend)}</p>")
    return "\n".join(parts)


def _figure_html(figure: Figure) -> str:
    return (
        f"<figure id='figure-{figure.number}'><img alt='{html.escape(figure.path.stem)}' "
        f"src='{png_data_uri(figure.path)}'><figcaption><b>Figure {figure.number}.</b> "
        f"{html.escape(figure.caption)}</figcaption></figure>"
    )


def render_report(title: str, sections: list[Section], subtitle: str = "") -> str:
    prepare(sections)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<p class='note'>{html.escape(subtitle)} Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.</p>",
    ]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.note:
            parts.append(f"<p class='note'>{html.escape(section.note)}</p>")
        parts.extend(_table_html(table) for table in section.tables)
        parts.extend(_figure_html(figure) for figure in section.images)
    parts.append("</body></html>")
    return "\n".join(parts)
