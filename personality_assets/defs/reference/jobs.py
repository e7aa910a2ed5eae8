"""Jobs of the reference data."""

import dagster as dg

reference_data_job = dg.define_asset_job(
    "reference_data",
    selection=dg.AssetSelection.groups("reference"),
    description="The questionnaire definitions and one reference population (partition): questionnaires and "
    "reference_questionnaires.",
)
