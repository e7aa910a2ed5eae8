"""Jobs of the essay track."""

import dagster as dg

from personality_assets.defs.tracks import COLLECTS_BATCHES

essay_generation_job = dg.define_asset_job(
    "essay_generation",
    selection=dg.AssetSelection.assets("research_seeds", "essay_personas", "essays"),
    description="Research seed, plan with personas, and essays of one topic (an essay_topic partition).",
    metadata=COLLECTS_BATCHES,
)
