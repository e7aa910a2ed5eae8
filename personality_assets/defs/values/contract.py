"""The value-alignment track's binding data contract, the value-alignment system's published
parquet contract: the persona registry and the judge labels, column by column, and a check that
names what differs."""

from __future__ import annotations

import polars as pl

from personality_assets.defs.values.replies import SCHWARTZ_VALUES

# How the registry's core_values and the prompts name each value (the published system's example queries map
# these names onto the label columns).
VALUE_NAMES = {
    "self_direction": "Self-Direction",
    "stimulation": "Stimulation",
    "hedonism": "Hedonism",
    "achievement": "Achievement",
    "power": "Power",
    "security": "Security",
    "conformity": "Conformity",
    "tradition": "Tradition",
    "benevolence": "Benevolence",
    "universalism": "Universalism",
}
VALUE_COLUMNS = [f"alignment_{value}" for value in SCHWARTZ_VALUES]

REGISTRY_SCHEMA = pl.Schema(
    {
        "persona_id": pl.String,
        "name": pl.String,
        "age": pl.String,
        "profession": pl.String,
        "culture": pl.String,
        "core_values": pl.List(pl.String),
        "entry_count": pl.Int64,
        "created_at": pl.Datetime("us", "UTC"),
        "stage_synthetic": pl.Boolean,
        "stage_wrangled": pl.Boolean,
        "stage_labeled": pl.Boolean,
        "nudge_enabled": pl.Boolean,
    }
)

LABEL_SCHEMA = pl.Schema(
    {
        "persona_id": pl.String,
        "t_index": pl.Int64,
        "date": pl.String,
        "alignment_vector": pl.List(pl.Int64),
        **dict.fromkeys(VALUE_COLUMNS, pl.Int64),
    }
)
# judge_labels.parquet carries the contract's columns plus the judge's reasons (value -> rationale).
LABEL_FILE_SCHEMA = pl.Schema({**LABEL_SCHEMA, "rationales_json": pl.String})


def schema_problems(frame: pl.DataFrame | pl.Schema, expected: pl.Schema, *, allow_extra: bool = False) -> list[str]:
    """What differs from the contract, column by column (empty when it matches exactly).
    ``allow_extra``: columns the contract does not name are allowed (a published registry's
    ``annotation_order``, a consensus file's confidence columns); the contract's own columns must
    still be there, with its types, in its order relative to each other."""
    actual = frame if isinstance(frame, pl.Schema) else frame.schema
    problems = [f"missing column {name} ({dtype})" for name, dtype in expected.items() if name not in actual]
    if not allow_extra:
        problems += [f"unexpected column {name}" for name in actual if name not in expected]
    problems += [
        f"column {name} is {actual[name]}, the contract says {dtype}"
        for name, dtype in expected.items()
        if name in actual and actual[name] != dtype
    ]
    named = [name for name in actual if name in expected]
    if not problems and named != list(expected):
        problems.append(f"columns in another order: {named}")
    return problems


def alignment_vector() -> pl.Expr:
    """The ten label columns as the contract's fixed-order list."""
    return pl.concat_list(VALUE_COLUMNS).cast(pl.List(pl.Int64)).alias("alignment_vector")
