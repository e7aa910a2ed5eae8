"""Where an asset writes its files: a path under one of the data folders, its folder made."""

from pathlib import Path


def output_path(folder: Path, *parts: str) -> Path:
    """``folder / parts...``, with the folders on the way created."""
    path = folder.joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
