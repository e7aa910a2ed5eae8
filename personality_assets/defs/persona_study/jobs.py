"""Jobs and schedules of the persona study."""

import dagster as dg
from dagster_celery import celery_executor
from sqlalchemy import select

from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.persona_study import ExperimentsGroup, ExperimentsList
from personality_assets.defs.partitions import experiment_partitions
from personality_assets.defs.resources import ResearchDatabase
from personality_assets.defs.tracks import COLLECTS_BATCHES

persona_study_job = dg.define_asset_job(
    "persona_study",
    selection=dg.AssetSelection.groups("persona_study"),
    description="Personas, registrations, answers and scores of one model x population partition.",
    metadata=COLLECTS_BATCHES,
)

# The same steps on Dagster's Celery executor: each step a task on a Celery worker (any machine that
# reaches the broker, the instance's PostgreSQL and the research database). Broker and result
# backend come from the run config (celery.yaml); see docs/scale.md.
persona_study_celery_job = dg.define_asset_job(
    "persona_study_celery",
    selection=dg.AssetSelection.groups("persona_study"),
    executor_def=celery_executor,
    description="persona_study with each step on a Celery worker (start the workers first; run config: celery.yaml).",
)

answer_pending_job = dg.define_asset_job(
    "answer_pending_experiments",
    selection=dg.AssetSelection.assets("questionnaire_answers", "questionnaire_scores"),
    description="Run the pending experiments of a partition, then score it.",
)


def partitions_with_pending(research_db: ResearchDatabase) -> list[dg.MultiPartitionKey]:
    experiments, groups = ExperimentsList.__table__, ExperimentsGroup.__table__
    with experiment_transaction(research_db.target) as connection:
        rows = connection.execute(
            select(groups.c.model, groups.c.population)
            .distinct()
            .join(experiments, experiments.c.experiments_group_id == groups.c.experiments_group_id)
            .where(experiments.c.succeeded.is_(None))
        ).all()
    return [dg.MultiPartitionKey({"model": model, "population": population}) for model, population in sorted(rows)]


@dg.schedule(
    job=answer_pending_job,
    cron_schedule="0 * * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Hourly: an answer_pending_experiments run per partition that still has pending experiments "
    "(failed ones are retried this way). Off by default: turn it on in the UI (Automation) while a study runs.",
)
def pending_experiments_schedule(context: dg.ScheduleEvaluationContext, research_db: ResearchDatabase):
    """Hourly: one run per partition that still has pending experiments (failed ones are retried
    this way). Turn it on in the UI (Automation) when a study is running. Experiments of a model
    disabled since (`models remove`) or of a removed population wait until it is a partition again."""
    pending = partitions_with_pending(research_db)
    with dg.partition_loading_context(dynamic_partitions_store=context.instance):
        keys = [key for key in pending if experiment_partitions.has_partition_key(key)]
    if not keys and pending:
        outside = ", ".join(str(key) for key in pending)
        return dg.SkipReason(f"pending experiments only in {outside}: not partitions (models add / populations add)")
    if not keys:
        return dg.SkipReason("no pending experiments")
    return [
        dg.RunRequest(run_key=f"{key}:{context.scheduled_execution_time:%Y%m%d%H}", partition_key=str(key))
        for key in keys
    ]
