"""Commands of the value-alignment track: batch partitions, and its part of the summary."""

from __future__ import annotations

from typing import Annotated

import polars as pl
import typer

from personality_assets.defs.cli import add_partitions, population_names
from personality_assets.defs.values.assets import LABELS, REGISTRY
from personality_assets.defs.values.partitions import value_batch_partitions
from personality_assets.defs.values.storage import values_store

app = typer.Typer()
batches = typer.Typer(help="add value-alignment batch partitions")
app.add_typer(batches, name="batches")


@batches.command()
def add(names: Annotated[list[str], typer.Argument(metavar="NAME", show_default=False)]) -> None:
    """Register value-alignment batch partitions (e.g. batch1)."""
    # the same name rule as populations: a partition key of ours
    add_partitions(value_batch_partitions, population_names(names), "value batch")


def summary(target) -> None:
    store = values_store()
    registry, labels = store.read(REGISTRY), store.read(LABELS)
    if registry is None:
        return
    flags = registry.select(
        pl.len().alias("personas"),
        pl.col("entry_count").sum().alias("entries"),
        pl.col("stage_synthetic").sum().alias("synthetic"),
        pl.col("stage_wrangled").sum().alias("wrangled"),
        pl.col("stage_labeled").sum().alias("labeled"),
    )
    print(f"Value alignment (registry {store.uri(REGISTRY)}):\n{flags}")
    if labels is not None:
        print(
            f"Labelled entries: {labels.height:,} in {store.uri(LABELS)} (training data in the published value-alignment schema)"
        )
