"""The Dagster definitions of the project (``defs``)."""

import dagster as dg

from personality_assets.assets import experiments, reference
from personality_assets.run_health import dead_run_sensor
from personality_assets.resources import ResearchDatabase, default_llm_resource
from personality_assets.schedules import answer_pending_job, pending_experiments_schedule, persona_study_job
from personality_assets.sensors import load_population_job, population_drop_sensor

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([reference, experiments]),
    jobs=[load_population_job, persona_study_job, answer_pending_job],
    schedules=[pending_experiments_schedule],
    sensors=[population_drop_sensor, dead_run_sensor],
    resources={"research_db": ResearchDatabase(), "llm": default_llm_resource()},
)
