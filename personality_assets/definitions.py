"""The Dagster definitions of the project (``defs``): everything under ``personality_assets/defs/``,
one folder per research track, loaded by Dagster's defs-folder loader (configured by ``[tool.dg]``
in ``pyproject.toml``). Every asset gets, here and once for all tracks, a code reference (its
function's file and line, shown on the asset's page) and the project's owner when it names none."""

import warnings
from pathlib import Path

import dagster as dg

from personality_assets.defs.metadata import OWNERS


def with_owners_and_code_references(loaded: dg.Definitions) -> dg.Definitions:
    """The same definitions, each asset with the file and line of its function and an owner."""
    with warnings.catch_warnings():
        # Code references are "beta" and map_asset_specs "preview" in Dagster 1.13: said once here,
        # not on every load of the code location (each CLI command, run and daemon tick).
        warnings.simplefilter("ignore", dg.BetaWarning)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _with_owners_and_code_references(loaded)


def _with_owners_and_code_references(loaded: dg.Definitions) -> dg.Definitions:
    # The loader lists an asset once per module that holds it (imported by another track's module);
    # mapped, the copies would no longer be the same object, so keep one of each.
    assets = list({id(asset): asset for asset in loaded.assets or []}.values())
    with_references = dg.Definitions(
        # Steps declared through defs/steps.py name their function's place themselves.
        assets=[
            asset if _has_code_reference(asset) else dg.with_source_code_references([asset])[0] for asset in assets
        ],
        asset_checks=loaded.asset_checks,
        schedules=loaded.schedules,
        sensors=loaded.sensors,
        jobs=loaded.jobs,
        resources=loaded.resources,
        executor=loaded.executor,
        loggers=loaded.loggers,
        metadata=loaded.metadata,
        component_tree=loaded.component_tree,
    )
    return with_references.map_asset_specs(
        func=lambda spec: spec if spec.owners else spec.replace_attributes(owners=OWNERS)
    )


def _has_code_reference(asset) -> bool:
    metadata = asset.metadata_by_key.values() if isinstance(asset, dg.AssetsDefinition) else []
    return any("dagster/code_references" in entry for entry in metadata)


defs = with_owners_and_code_references(dg.load_from_defs_folder(path_within_project=Path(__file__).parent))
