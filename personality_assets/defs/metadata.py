"""Helpers that turn polars frames into Dagster metadata."""

from __future__ import annotations

import polars as pl
from dagster import MetadataValue, TableColumn, TableSchema

_DAGSTER_TYPES = {pl.String: "string", pl.Boolean: "bool", pl.Float64: "float", pl.Float32: "float"}


def markdown_table(frame: pl.DataFrame) -> MetadataValue:
    with pl.Config(
        tbl_formatting="MARKDOWN",
        tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True,
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=10_000,
        fmt_str_lengths=200,
    ):
        return MetadataValue.md(str(frame))


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
