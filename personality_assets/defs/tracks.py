"""The research tracks: each package under ``defs/`` is one. Dagster's defs-folder loader finds a
track's assets, jobs and sensors; what a track contributes beyond them is found here by convention,
so that adding a track is adding a folder:

- ``<track>/cli.py``: ``app``, a Typer app whose commands join the command line, and optionally
  ``summary(target)``, its part of ``python -m personality_assets.cli summary``;
- ``<track>/jobs.py``: the job that runs the track's model-calling assets, marked with
  ``metadata=COLLECTS_BATCHES``: a provider batch one of them submitted is collected by a run of it.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from types import ModuleType

import personality_assets.defs as defs_package

COLLECTS_BATCHES_KEY = "collects_provider_batches"
# The job's metadata (shown on its page in the UI): finished_batches_sensor starts runs of it.
COLLECTS_BATCHES = {COLLECTS_BATCHES_KEY: True}


def track_names() -> list[str]:
    """The packages under defs/, by name."""
    return sorted(info.name for info in pkgutil.iter_modules(defs_package.__path__) if info.ispkg)


def track_modules(module: str) -> list[ModuleType]:
    """Each track's module of that name (e.g. "cli"), imported, in the order of the tracks' names;
    tracks without one are left out."""
    found = []
    for track in track_names():
        name = f"{defs_package.__name__}.{track}.{module}"
        if importlib.util.find_spec(name) is not None:
            found.append(importlib.import_module(name))
    return found
