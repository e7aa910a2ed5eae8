"""Jobs of the value-alignment track."""

import dagster as dg

from personality_assets.defs.tracks import COLLECTS_BATCHES

value_alignment_job = dg.define_asset_job(
    "value_alignment",
    selection=dg.AssetSelection.assets("value_personas", "journal_entries", "judge_labels"),
    description="Personas, journal entries and judge labels of one batch (a value_batch partition).",
    metadata=COLLECTS_BATCHES,
)
