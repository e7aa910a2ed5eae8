"""What a look at the drop folder finds: new or changed population files that can be loaded
each into a partition of its own, and the files that cannot, with the reason."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from personality_assets.populations.names import RULE, population_name_for_file

FILE_SUFFIXES = (".csv", ".tsv")


def links_out_of_folder(path: Path, folder: Path) -> bool:
    """A link whose target resolves outside ``folder`` (it could expose any file on the machine)."""
    return path.is_symlink() and not path.resolve().is_relative_to(folder.resolve())


@dataclass
class DropScan:
    new: list[tuple[str, Path]] = field(default_factory=list)  # (population, file), sorted by population
    problems: list[str] = field(default_factory=list)  # one line per file or collision, sorted
    refused: dict[str, str] = field(default_factory=dict)  # population -> why its file(s) cannot load


def scan_drop_folder(drop: Path, seen: dict[str, int], loaded_from: dict[str, str]) -> DropScan:
    """``seen``: file name -> modification time already handled; ``loaded_from``: population ->
    the file name it was loaded from. Files of two names that map to one population load neither
    (one would silently replace the other); links leading out of the folder are ignored."""
    scan = DropScan()
    folder = drop.resolve()
    by_population: dict[str, list[Path]] = defaultdict(list)

    def refuse(population: str | None, problem: str) -> None:
        scan.problems.append(problem)
        if population is not None:
            scan.refused[population] = problem

    for path in sorted(drop.iterdir()):
        if path.suffix.lower() not in FILE_SUFFIXES:
            continue
        population = population_name_for_file(path)
        if links_out_of_folder(path, folder):
            refuse(population, f"{path.name}: a link to a file outside the drop folder; ignored")
        elif not path.is_file():
            continue
        elif population is None:
            refuse(None, f"{path.name}: no usable population name in the file name ({RULE}); rename it")
        else:
            by_population[population].append(path)
    for population, paths in sorted(by_population.items()):
        if population in scan.refused:
            continue  # a link out of the folder names it too: nothing loads until that is resolved
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            refuse(population, f"{names}: all name population {population!r}; rename all but one (nothing loaded)")
            continue
        (path,) = paths
        earlier = loaded_from.get(population)
        if earlier is not None and earlier != path.name:
            refuse(
                population,
                f"{path.name}: population {population!r} was loaded from {earlier}; remove it first "
                f"(python -m personality_assets.cli populations remove {population}) or rename the file",
            )
            continue
        if seen.get(path.name) != path.stat().st_mtime_ns:
            scan.new.append((population, path))
    scan.problems.sort()
    return scan
