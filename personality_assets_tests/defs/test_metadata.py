"""Tables in asset metadata: Dagster's table metadata (inline in the UI), head of a long table with
its row count, described columns, rounded values, empty nulls."""

import json

import dagster as dg
import polars as pl
import pytest

from personality_assets.defs.metadata import TABLE_ROWS, table_entries, table_metadata
from personality_assets.defs.persona_study.reports import columns

DESCRIPTIONS = {"scale": "scale of the questionnaire", "n": "respondents", "r": "Pearson r", "ok": "r > 0"}


def test_a_frame_becomes_table_metadata_with_described_typed_columns():
    frame = pl.DataFrame({"scale": ["EXT", "AGR"], "n": [20, 19], "r": [0.61234, -0.00004], "ok": [True, False]})
    value = table_metadata(frame, DESCRIPTIONS)
    assert isinstance(value, dg.TableMetadataValue)
    assert [(c.name, c.type, c.description) for c in value.schema.columns] == [
        ("scale", "string", "scale of the questionnaire"),
        ("n", "int", "respondents"),
        ("r", "float", "Pearson r"),
        ("ok", "bool", "r > 0"),
    ]
    # Rounded for reading, and no "-0.0".
    assert [record.data for record in value.records] == [
        {"scale": "EXT", "n": 20, "r": 0.612, "ok": True},
        {"scale": "AGR", "n": 19, "r": 0.0, "ok": False},
    ]
    assert str(value.records[1].data["r"]) == "0.0"


def test_nulls_and_nan_are_empty_cells_and_records_are_valid_json():
    frame = pl.DataFrame({"scale": ["EXT", None], "r": [float("nan"), None], "n": [None, 3]})
    value = table_metadata(frame, DESCRIPTIONS)
    assert [record.data for record in value.records] == [
        {"scale": "EXT", "r": None, "n": None},
        {"scale": None, "r": None, "n": 3},
    ]
    # The UI parses each record as JSON: NaN would not parse.
    for record in value.records:
        json.loads(json.dumps(record.data, allow_nan=False))


def test_a_long_table_shows_its_head_and_says_how_long_it_is():
    frame = pl.DataFrame({"n": list(range(120)), "r": [i / 7 for i in range(120)]})
    entries = table_entries("table", frame, DESCRIPTIONS)
    assert len(entries["table"].records) == TABLE_ROWS == 50
    assert [record.data["n"] for record in entries["table"].records] == list(range(50))
    assert entries["table_rows"] == dg.MetadataValue.int(120)
    assert len(table_metadata(frame, DESCRIPTIONS, max_rows=5).records) == 5


def test_decimals_per_column():
    frame = pl.DataFrame({"r": [0.123456], "p_holm": [0.000123456]})
    value = table_metadata(frame, {"r": "r", "p_holm": "p"}, digits=2, precise=columns.P_VALUES)
    assert value.records[0].data == {"r": 0.12, "p_holm": 0.0001}


def test_every_column_needs_a_description():
    with pytest.raises(ValueError, match="columns without a description: extra"):
        table_metadata(pl.DataFrame({"n": [1], "extra": [2]}), DESCRIPTIONS)
