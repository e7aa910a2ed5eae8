"""Jobs of the value-alignment track."""

import dagster as dg

value_alignment_job = dg.define_asset_job(
    "value_alignment",
    selection=dg.AssetSelection.assets("value_personas", "journal_entries", "judge_labels"),
    description="Personas, journal entries and judge labels of one batch (a value_batch partition).",
)
