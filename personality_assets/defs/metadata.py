"""Helpers that turn polars frames and database tables into Dagster metadata, and the owner of the
project's assets."""

from __future__ import annotations

import base64
import datetime
import math
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlencode

import polars as pl
from dagster import MetadataValue, TableColumn, TableColumnConstraints, TableRecord, TableSchema

# Owner of every asset (definitions.py sets it on those that name none). Dagster takes an email
# address or "team:<name>".
OWNERS = ["team:persona-research"]

_DAGSTER_TYPES = {pl.String: "string", pl.Boolean: "bool", pl.Float64: "float", pl.Float32: "float"}


def table_schema(schema: dict[str, pl.DataType], descriptions: dict[str, str] | None = None) -> TableSchema:
    descriptions = descriptions or {}
    return TableSchema(
        columns=[
            TableColumn(
                name, "int" if dtype.is_integer() else _DAGSTER_TYPES.get(dtype, str(dtype)), descriptions.get(name)
            )
            for name, dtype in schema.items()
        ]
    )


def explorer_link(path: str, **filters: str) -> MetadataValue:
    """A link to a page of the results explorer (``make ui`` serves it beside the Dagster UI, at
    PERSONALITY_ASSETS_EXPLORER_URL) with these filters: the prompts and replies behind a number."""
    from personality_assets import settings

    query = urlencode({name: value for name, value in filters.items() if value})
    return MetadataValue.url(f"{settings.explorer_url()}{path}" + (f"?{query}" if query else ""))


# Rows of a table shown in the UI's metadata; the rest are in the CSV file named beside it.
TABLE_ROWS = 50


def _cell(value, digits: int):
    """A value as a table record holds it: floats rounded (no -0.0), NaN/inf and nulls empty (None:
    the UI shows an empty cell), anything else that is not a JSON scalar as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, digits) + 0.0
    return str(value)


def table_metadata(
    frame: pl.DataFrame,
    descriptions: Mapping[str, str],
    *,
    max_rows: int = TABLE_ROWS,
    digits: int = 3,
    precise: Mapping[str, int] | None = None,
) -> MetadataValue:
    """The first ``max_rows`` rows of ``frame`` as Dagster table metadata, which the UI shows inline
    (its "Show schema" link lists the columns with ``descriptions``). Floats are rounded to
    ``digits`` decimals (``precise``: other decimals per column, e.g. 4 for p values); nulls and
    NaN are empty cells. Every column needs a description: a table nobody can read is an error."""
    missing = [name for name in frame.columns if not descriptions.get(name)]
    if missing:
        raise ValueError(f"columns without a description: {', '.join(missing)}")
    precise = precise or {}
    schema = table_schema(dict(frame.schema), descriptions)
    records = [
        TableRecord(data={name: _cell(value, precise.get(name, digits)) for name, value in row.items()})
        for row in frame.head(max_rows).iter_rows(named=True)
    ]
    return MetadataValue.table(records=records, schema=schema)


def table_entries(key: str, frame: pl.DataFrame, descriptions: Mapping[str, str], **kwargs) -> dict:
    """``key``: the table's head (``table_metadata``), ``<key>_rows``: how many rows it has in all."""
    return {key: table_metadata(frame, descriptions, **kwargs), f"{key}_rows": MetadataValue.int(frame.height)}


_SQL_TYPES = {int: "int", float: "float", bool: "bool", datetime.datetime: "datetime", dict: "json"}


def sql_table_schema(model) -> TableSchema:
    """The columns of a SQLAlchemy model's table, for an asset's ``dagster/column_schema``: name,
    type, description (the column's ``doc``, plain text: the UI renders it as markdown),
    nullability, uniqueness and the primary key. Foreign keys are left out: the UI shows each as a
    truncated tag, and composite ones repeat on every column."""
    columns = []
    for column in model.__table__.columns:
        python_type = column.type.python_type
        if python_type is str:
            length = getattr(column.type, "length", None)
            type_name = f"string({length})" if length else "string"
        else:
            type_name = _SQL_TYPES.get(python_type, python_type.__name__)
        columns.append(
            TableColumn(
                column.name,
                type_name,
                description=column.doc,
                constraints=TableColumnConstraints(
                    nullable=bool(column.nullable),
                    unique=bool(column.unique or column.primary_key),
                    other=["primary key"] if column.primary_key else [],
                ),
            )
        )
    return TableSchema(columns=columns)


def figure_metadata(path: Path, caption: str) -> MetadataValue:
    """A PNG shown inline in the UI's metadata (markdown image with a data URI)."""
    return MetadataValue.md(f"**{caption}** ({path})\n\n![{caption}]({png_data_uri(path)})")


def png_data_uri(path: Path) -> str:
    """A PNG file as a data URI, for markdown metadata and self-contained HTML."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
