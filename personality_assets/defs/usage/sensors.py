"""Provider batches (a model with ``mode: batch``) finish hours after the step that submitted them
stopped waiting. This sensor notices and starts that run again (same assets, partition and run
config): it finds its requests in the recorded batch and collects the results, submitting nothing.
It knows no track: the run's own record names its job, assets, partition and config, and the run
again is of a job a track marks ``COLLECTS_BATCHES`` (defs/tracks.py): the run's own, else the
one that holds its assets."""

import asyncio

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from personality_assets.defs.resources import ResearchDatabase
from personality_assets.defs.tracks import COLLECTS_BATCHES_KEY, track_modules
from personality_assets.llm.batches import TERMINAL, open_batches
from personality_assets.llm.config import load_models_config
from personality_assets.llm.providers import Providers


def collecting_jobs() -> list[UnresolvedAssetJobDefinition]:  # what dg.define_asset_job returns
    """The jobs the tracks mark as running their model-calling assets (in each track's jobs.py)."""
    jobs = {
        job.name: job
        for module in track_modules("jobs")
        for job in vars(module).values()
        if isinstance(job, UnresolvedAssetJobDefinition) and COLLECTS_BATCHES_KEY in (job.metadata or {})
    }
    return [jobs[name] for name in sorted(jobs)]


# A sensor's runs must be of jobs it declares, so it declares these when the code location loads.
COLLECTING_JOBS = collecting_jobs()


async def _finished(batches: list[dict]) -> list[dict]:
    models, providers = load_models_config(), Providers()
    finished, used = [], {}
    try:
        for row in batches:
            provider = providers.for_model(models.get(row["model"]))
            used[id(provider)] = provider
            state = await provider.batch_state(row["provider_batch_id"])
            if state["status"] in TERMINAL:
                finished.append(row)
    finally:
        for provider in used.values():
            await provider.aclose()
    return finished


@dg.sensor(
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    jobs=COLLECTING_JOBS,
    description="Every 5 minutes: each provider batch that has finished starts the run that submitted it "
    "again (same assets, partition and config), which collects its results. Off by default.",
)
def finished_batches_sensor(context: dg.SensorEvaluationContext, research_db: ResearchDatabase):
    batches = open_batches(research_db.target)
    if not batches:
        return dg.SkipReason("no batch is waiting at a provider")
    requests = []
    finished = asyncio.run(_finished(batches))
    for row in finished:
        run = context.instance.get_run_by_id(row["run_id"]) if row["run_id"] else None
        keys = _planned_assets(context.instance, run.run_id) if run else []
        job = _job_to_repeat(context.repository_def.asset_graph, run, keys)
        if job is None:
            context.log.warning(
                f"batch {row['provider_batch_id']} finished; its run {row['run_id']} cannot be repeated"
            )
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"collect-batch-{row['local_id']}",  # one collecting run per batch
                job_name=job.name,
                asset_selection=keys,
                partition_key=run.tags.get("dagster/partition"),
                run_config=run.run_config,
                tags={"personality_assets/collects_batch": row["provider_batch_id"]},
            )
        )
    if not requests:
        return dg.SkipReason(f"{len(batches) - len(finished)} batches still running at their providers")
    return requests


def _job_to_repeat(asset_graph, run: dg.DagsterRun | None, keys: list[dg.AssetKey]):
    """The run's own job when it is one of the collecting jobs, else the collecting job that holds
    all its assets (a run of some of them, e.g. `dagster asset materialize`, has no job of ours)."""
    if run is None or not keys:
        return None
    holding = [job for job in COLLECTING_JOBS if set(keys) <= job.selection.resolve(asset_graph)]
    own = [job for job in holding if job.name == run.job_name]
    return (own or holding or [None])[0]


def _planned_assets(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetKey]:
    """The assets the run set out to materialise (whatever launched it: a job, the UI, the CLI)."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
    keys = {record.event_log_entry.dagster_event.asset_key for record in records.records}
    return sorted(keys, key=lambda key: key.to_user_string())
