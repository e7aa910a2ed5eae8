"""The project's Dagster definitions, compared with a committed snapshot: an accidental rename,
a lost asset, check, job, schedule or sensor, or a changed partitioning fails here.

After an intended change: ``.venv/bin/python -m pytest personality_assets_tests/test_defs.py --snapshot-update``
and commit the updated ``__snapshots__/test_defs.ambr`` with it."""

import dagster as dg

from personality_assets.definitions import defs


def _partitions(partitions_def) -> object:
    if partitions_def is None:
        return None
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return {dimension.name: _partitions(dimension.partitions_def) for dimension in partitions_def.partitions_defs}
    if isinstance(partitions_def, dg.DynamicPartitionsDefinition):
        return f"dynamic:{partitions_def.name}"
    if isinstance(partitions_def, dg.StaticPartitionsDefinition):
        return {"static": partitions_def.get_partition_keys()}
    return repr(partitions_def)


def definitions_summary(definitions: dg.Definitions) -> dict:
    repository = definitions.get_repository_def()
    checks: dict[str, list[str]] = {}
    for check_key in repository.asset_graph.asset_check_keys:
        checks.setdefault(check_key.asset_key.to_user_string(), []).append(check_key.name)
    assets = {
        spec.key.to_user_string(): {
            "group": spec.group_name,
            "partitions": _partitions(spec.partitions_def),
            "kinds": sorted(spec.kinds),
            "deps": sorted(dep.asset_key.to_user_string() for dep in spec.deps),
            "checks": sorted(checks.get(spec.key.to_user_string(), [])),
            "owners": list(spec.owners),
        }
        for spec in definitions.resolve_all_asset_specs()
    }
    return {
        "assets": dict(sorted(assets.items())),
        "jobs": sorted(job.name for job in repository.get_all_jobs() if not job.name.startswith("__")),
        "schedules": {
            s.name: {
                "cron": s.cron_schedule,
                "job": s.job_name,
                "default_status": s.default_status.value,
                "description": s.description,
            }
            for s in sorted(repository.schedule_defs, key=lambda s: s.name)
        },
        "sensors": {
            s.name: {
                "jobs": sorted(target.job_name for target in s.targets),
                "default_status": s.default_status.value,
                "description": s.description,
            }
            for s in sorted(repository.sensor_defs, key=lambda s: s.name)
        },
        "resources": sorted(definitions.resources),
    }


def test_definitions_match_the_snapshot(snapshot):
    assert definitions_summary(defs) == snapshot
