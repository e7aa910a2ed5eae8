"""The Dagster definitions of the project (``defs``): everything under ``personality_assets/defs/``,
one folder per research track, loaded by Dagster's defs-folder loader (configured by ``[tool.dg]``
in ``pyproject.toml``)."""

from pathlib import Path

import dagster as dg

defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
