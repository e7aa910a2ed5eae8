"""The one rule for population names, shared by the CLI, the drop-folder sensor and the loader.

A population name becomes a Dagster partition key, a part of every model × population key
(``'<model>|<population>'``), a file and table value: so no separators, paths or quotes.
"""

from __future__ import annotations

import re
from pathlib import Path

MAX_LENGTH = 64
RULE = f"use letters, digits and _, starting with a letter or digit, at most {MAX_LENGTH} characters"
_VALID = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_]{{0,{MAX_LENGTH - 1}}}$")


class PopulationNameError(ValueError):
    """A population name breaks the rule; the message names it and says what is allowed."""


def check_population_name(name: str) -> str:
    """``name`` when it is a usable population name, else :class:`PopulationNameError`."""
    if not _VALID.match(name):
        shown = name if len(name) <= 80 else f"{name[:80]}... ({len(name)} characters)"
        raise PopulationNameError(f"population name {shown!r} is not allowed: {RULE}")
    return name


def population_name_for_file(path: Path) -> str | None:
    """The population a dropped file loads into: its name without extension, runs of other
    characters as _ (``Wave 2 (IPIP).tsv`` -> ``Wave_2_IPIP``); None when nothing usable is left."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", path.stem).strip("_")
    try:
        return check_population_name(name)
    except PopulationNameError:
        return None
