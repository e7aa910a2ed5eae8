"""One self-contained HTML file of report sections (tables and PNG figures inlined as base64), to
open in any browser or attach to a paper's supplement without the files beside it."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from personality_assets.defs.metadata import png_data_uri

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
table { border-collapse: collapse; font-size: 12px; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; } .note { color: #555; font-size: 13px; }
"""


@dataclass
class Section:
    title: str
    note: str = ""
    tables: list[pl.DataFrame] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)


def html_table(frame: pl.DataFrame, digits: int = 3) -> str:
    def cell(value) -> str:
        if value is None:
            return "<td>n/a</td>"
        if isinstance(value, float):
            return f"<td>{value:.{digits}f}</td>"
        return f"<td>{html.escape(str(value))}</td>"

    head = "".join(f"<th>{html.escape(name)}</th>" for name in frame.columns)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in frame.iter_rows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_report(title: str, sections: list[Section], subtitle: str = "") -> str:
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<p class='note'>{html.escape(subtitle)} Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.</p>",
    ]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.note:
            parts.append(f"<p class='note'>{html.escape(section.note)}</p>")
        parts.extend(f"<img alt='{html.escape(path.stem)}' src='{png_data_uri(path)}'>" for path in section.images)
        parts.extend(html_table(table) for table in section.tables)
    parts.append("</body></html>")
    return "\n".join(parts)
