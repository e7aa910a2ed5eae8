"""Sensors: the population drop folder."""

import json

import dagster as dg

from personality_assets import settings
from personality_assets.defs.partitions import population_partitions
from personality_assets.defs.reference.assets import PopulationLoadConfig, reference_questionnaires
from personality_assets.populations.drop_folder import scan_drop_folder

load_population_job = dg.define_asset_job(
    "load_population",
    selection=[reference_questionnaires],
    description="Load one reference population (partition) into the reference schema.",
)


@dg.sensor(
    job=load_population_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 30 s: each new or changed .csv/.tsv file in the population drop folder "
    "(data/populations/incoming or $PERSONALITY_ASSETS_DROP_DIR) becomes a population partition and a "
    "load_population run. On by default.",
)
def population_drop_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """Watches the drop folder ($PERSONALITY_ASSETS_DROP_DIR, default data/populations/incoming).
    Each new or changed .csv/.tsv file becomes a population partition (named after the file)
    and a run that loads it. Files whose names map to one population, or to a population loaded
    from another file, are refused with the reason; links out of the folder are ignored."""
    drop = settings.drop_dir()
    if not drop.is_dir():
        return dg.SkipReason(f"drop folder {drop} does not exist yet")
    cursor = json.loads(context.cursor) if context.cursor else {}
    if "seen" not in cursor:  # the cursor of earlier versions: file name -> mtime
        cursor = {"seen": cursor, "loaded_from": {}}
    existing = set(context.instance.get_dynamic_partitions(population_partitions.name))
    seen = cursor["seen"]
    # A population removed since (populations remove) may be loaded again, from any file.
    loaded_from = {key: name for key, name in cursor["loaded_from"].items() if key in existing}
    scan = scan_drop_folder(drop, seen, loaded_from)
    for problem in scan.problems:
        context.log.warning(problem)
    if not scan.new:
        return dg.SkipReason("; ".join(scan.problems) or f"no new population files in {drop}")
    run_requests = [
        dg.RunRequest(
            run_key=f"{key}:{path.stat().st_mtime_ns}",
            partition_key=key,
            run_config=dg.RunConfig(ops={"reference_questionnaires": PopulationLoadConfig(path=str(path))}),
            tags={"population_file": path.name},
        )
        for key, path in scan.new
    ]
    for key, path in scan.new:
        seen[path.name] = path.stat().st_mtime_ns
        loaded_from[key] = path.name
    context.log.info(f"new or changed population files: {[path.name for _, path in scan.new]}")
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[
            population_partitions.build_add_request(sorted({key for key, _ in scan.new} - existing))
        ],
        cursor=json.dumps({"seen": seen, "loaded_from": loaded_from}),
    )
