"""The Dagster definitions of the project (``defs``): everything under ``personality_assets/defs/``,
one folder per research track, loaded by Dagster's defs-folder loader."""

from pathlib import Path

import dagster as dg

from personality_assets import defs as defs_folder

defs = dg.load_defs(defs_root=defs_folder, project_root=Path(__file__).resolve().parent.parent)
