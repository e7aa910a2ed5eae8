"""Jobs that select a whole group of another track, so assets added to the group join them."""

import dagster as dg

reports_job = dg.define_asset_job(
    "reports",
    selection=dg.AssetSelection.groups("reports"),
    description="Every report across the persona study's partitions (the assets of group reports).",
)
