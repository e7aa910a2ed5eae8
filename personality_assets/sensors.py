"""Sensors: the population drop folder."""


import json

import dagster as dg

from personality_assets import settings
from personality_assets.assets.reference import PopulationLoadConfig, reference_questionnaires
from personality_assets.partitions import population_partitions
from personality_assets.populations.load import FILE_SUFFIXES, population_key_for_file

load_population_job = dg.define_asset_job(
    "load_population",
    selection=[reference_questionnaires],
    description="Load one reference population (partition) into the reference schema.",
)


@dg.sensor(job=load_population_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def population_drop_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """Watches the drop folder ($PERSONALITY_ASSETS_DROP_DIR, default data/populations/incoming).
    Each new or changed .csv/.tsv file becomes a population partition (named after the file)
    and a run that loads it."""
    drop = settings.drop_dir()
    if not drop.is_dir():
        return dg.SkipReason(f"drop folder {drop} does not exist yet")
    seen: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    files = sorted(p for p in drop.iterdir() if p.is_file() and p.suffix.lower() in FILE_SUFFIXES)
    changed = [p for p in files if seen.get(p.name) != p.stat().st_mtime_ns]
    if not changed:
        return dg.SkipReason(f"no new population files in {drop}")
    existing = set(context.instance.get_dynamic_partitions(population_partitions.name))
    keys = [population_key_for_file(p) for p in changed]
    run_requests = [
        dg.RunRequest(
            run_key=f"{key}:{path.stat().st_mtime_ns}",
            partition_key=key,
            run_config=dg.RunConfig(ops={"reference_questionnaires": PopulationLoadConfig(path=str(path))}),
            tags={"population_file": str(path)},
        )
        for key, path in zip(keys, changed, strict=True)
    ]
    for path in changed:
        seen[path.name] = path.stat().st_mtime_ns
    context.log.info(f"new or changed population files: {[p.name for p in changed]}")
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[population_partitions.build_add_request(sorted(set(keys) - existing))],
        cursor=json.dumps(seen),
    )
