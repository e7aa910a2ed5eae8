"""Commands of the reference data: population partitions."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from dagster import DagsterInstance
from sqlalchemy import func, select

from personality_assets.db import migrate
from personality_assets.db.engine import reference_transaction
from personality_assets.db.tables.persona_study import ExperimentsList, Persona
from personality_assets.db.tables.reference import ReferencePopulation
from personality_assets.defs.cli import add_partitions, population_names
from personality_assets.defs.partitions import population_partitions
from personality_assets.defs.resources import ResearchDatabase
from personality_assets.populations.load import delete_population

app = typer.Typer()
populations = typer.Typer(help="manage population partitions")
app.add_typer(populations, name="populations")

Names = Annotated[list[str], typer.Argument(metavar="NAME", show_default=False)]


@populations.command()
def add(names: Names) -> None:
    """Register population partitions (e.g. sample sample_maxN)."""
    add_partitions(population_partitions, population_names(names), "population")


@populations.command()
def remove(
    names: Names,
    delete_data: Annotated[
        bool,
        typer.Option(
            "--delete-data",
            help="also delete the populations' answers from the research database (refused, changing nothing, "
            "while personas, experiments or derived populations use one)",
        ),
    ] = False,
) -> None:
    """Delete population partitions (their history stays in Dagster's event log) and, with
    --delete-data, their rows in the reference schema, in one transaction."""
    instance = DagsterInstance.get()
    if delete_data:
        _delete_population_data(names)
    existing = set(instance.get_dynamic_partitions(population_partitions.name))
    for name in names:
        if name in existing:
            instance.delete_dynamic_partition(population_partitions.name, name)
    print(
        f"removed partitions: {[n for n in names if n in existing] or 'none'}; "
        f"not partitions: {[n for n in names if n not in existing] or 'none'}"
    )
    if not delete_data:
        print("the populations' data stay in the research database (add --delete-data to delete them)")


def _delete_population_data(names: list[str]) -> None:
    """Delete the populations' reference rows, or exit 1 changing nothing when one is still used:
    by a population derived from it (and not removed with it) or by personas or experiments."""
    target = ResearchDatabase().target
    migrate.upgrade(target)
    populations = ReferencePopulation.__table__
    with reference_transaction(target) as connection:
        in_use = []
        for name in names:
            derived = (
                connection.execute(
                    select(populations.c.population)
                    .where(populations.c.derived_from == name, populations.c.population.not_in(names))
                    .order_by(populations.c.population)
                )
                .scalars()
                .all()
            )
            if derived:
                in_use.append(f"{name}: populations derived from it: {derived} (remove them with it)")
            # Personas keep the population they were made from in ref_population (population holds
            # their generated_<model>_<population> tag); experiments reach it through their persona.
            personas = connection.execute(select(func.count()).where(Persona.ref_population == name)).scalar_one()
            experiments = connection.execute(
                select(func.count())
                .select_from(ExperimentsList)
                .join(Persona, Persona.id == ExperimentsList.personality_id)
                .where(Persona.ref_population == name)
            ).scalar_one()
            if personas or experiments:
                in_use.append(f"{name}: {personas} persona(s) and {experiments} experiment(s) use it")
        if in_use:
            print("\n".join(in_use) + "\nnothing removed or deleted", file=sys.stderr)
            sys.exit(1)
        for name in names:
            rows = connection.execute(select(func.count()).where(populations.c.population == name)).scalar_one()
            deleted = delete_population(connection, name)
            print(f"{name}: {deleted:,} answers and {'the' if rows else 'no'} population row deleted")
