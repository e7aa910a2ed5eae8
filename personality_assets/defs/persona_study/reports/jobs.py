"""The job of the persona study's reports: the whole group, so a report added to it joins it."""

import dagster as dg

reports_job = dg.define_asset_job(
    "reports",
    selection=dg.AssetSelection.groups("reports"),
    description="Every report across the persona study's partitions (the assets of group reports).",
)
