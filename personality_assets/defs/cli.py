"""The commands of what the tracks share (the research database, Dagster runs, the summary) and the
helpers the tracks' commands use. Each track adds its own in ``<track>/cli.py`` (defs/tracks.py)."""

from __future__ import annotations

import sys
from typing import Annotated

import polars as pl
import typer
from dagster import DagsterInstance
from sqlalchemy import select

from personality_assets import settings
from personality_assets.db import migrate
from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.reference import ReferencePopulation
from personality_assets.defs.resources import ResearchDatabase
from personality_assets.defs.run_health import fail_runs, find_dead_runs
from personality_assets.defs.tracks import track_modules
from personality_assets.populations.names import PopulationNameError, check_population_name

app = typer.Typer()
SUMMARY_WIDTH = 120  # the summary's tables fit a terminal this wide


def population_names(names: list[str]) -> list[str]:
    """The names, or exit 2 naming every bad one and the rule (before anything is changed)."""
    problems = []
    for name in names:
        try:
            check_population_name(name)
        except PopulationNameError as exc:
            problems.append(str(exc))
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(2)
    return names


def add_partitions(definition, keys: list[str], what: str) -> None:
    instance = DagsterInstance.get()  # needs DAGSTER_HOME, as every persistent Dagster command does
    existing = set(instance.get_dynamic_partitions(definition.name))
    new = [key for key in dict.fromkeys(keys) if key not in existing]
    if new:
        instance.add_dynamic_partitions(definition.name, new)
    print(f"{what} partitions added: {new or 'none'}; already there: {sorted(set(keys) & existing) or 'none'}")


db = typer.Typer(help="research database migrations")
app.add_typer(db, name="db")
REVISION_HELP = "r<NNNN> moves the reference schema, e<NNNN> the experiment schema"


def _print_revisions(target) -> None:
    print(f"{target.safe_url}: {migrate.current_revisions(target)}")


@db.command()
def upgrade(revision: Annotated[str, typer.Argument(help=f"default head; {REVISION_HELP}")] = "head") -> None:
    """Migrate the schemas up to the revision."""
    target = ResearchDatabase().target
    migrate.upgrade(target, revision)
    _print_revisions(target)


@db.command()
def downgrade(
    revision: Annotated[str | None, typer.Argument(help=f"required (base drops every table); {REVISION_HELP}")] = None,
) -> None:
    """Migrate a schema down to the revision."""
    if not revision:
        raise typer.BadParameter("downgrade needs a revision (e.g. e0002, or base to drop every table)")
    target = ResearchDatabase().target
    migrate.downgrade(target, revision)
    _print_revisions(target)


@db.command()
def current() -> None:
    """The revision of each schema."""
    _print_revisions(ResearchDatabase().target)


runs = typer.Typer(
    help="runs whose worker died (kill -9): list them, or mark them failed and free their concurrency slots"
)
app.add_typer(runs, name="runs")


@runs.command()
def dead() -> None:
    """List the runs whose worker process is gone."""
    _runs("dead", [])


@runs.command()
def free(
    run_ids: Annotated[list[str] | None, typer.Argument(help="these runs (default: every dead run)")] = None,
) -> None:
    """Mark runs failed and free their concurrency slots."""
    _runs("free", run_ids or [])


def _runs(action: str, run_ids: list[str]) -> None:
    instance = DagsterInstance.get()
    if action == "dead" or not run_ids:
        dead_runs = find_dead_runs(instance)
        for run in dead_runs:
            print(f"{run.run_id}  {run.partition or run.job_name}  worker pid {run.pid} is gone")
        print(
            f"{len(dead_runs)} dead run(s)" + ("; free them with: runs free" if dead_runs and action == "dead" else "")
        )
        if action == "dead":
            return
        run_ids = [run.run_id for run in dead_runs]
    failed = fail_runs(instance, run_ids, "freed by hand (python -m personality_assets.cli runs free)")
    print(f"marked failed: {failed or 'none'}; concurrency slots freed for: {run_ids or 'none'}")


@app.command()
def summary() -> None:
    """Print what the research database holds: the reference populations, then each track's part."""
    settings.drop_dir().mkdir(parents=True, exist_ok=True)  # the folder the summary tells the user about
    target = ResearchDatabase().target
    with experiment_transaction(target) as connection:
        table = ReferencePopulation.__table__
        rows = connection.execute(select(table).order_by(table.c.population)).all()
    frame = pl.DataFrame(
        [
            {
                "population": r.population,
                "respondents": r.respondents,
                "answers": r.answers,
                "excluded_rows": r.excluded_rows,
                "excluded_people": r.excluded_people,
                "synthetic": r.synthetic,
            }
            for r in rows
        ]
    )
    # Every track's tables too: compact (a markdown table is two lines shorter than a boxed one), a
    # row within SUMMARY_WIDTH characters, a longer cell wrapped onto more lines rather than cut.
    with pl.Config(
        tbl_rows=-1,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_formatting="ASCII_MARKDOWN",
        fmt_str_lengths=1000,
        tbl_width_chars=SUMMARY_WIDTH,
    ):
        print(f"Research database: {target.safe_url}")
        if target.dialect == "sqlite":
            print(f"  reference schema  -> {target.sqlite_file(target.reference_schema)}")
            print(f"  experiment schema -> {target.sqlite_file(target.experiment_schema)}")
        print(f"Reference populations ({len(rows)}), their sources below the table:")
        if rows:  # the sources below the table, in full (a file path or a derivation can be long)
            width = max(len(r.population) for r in rows)
            print(f"{frame}\n" + "\n".join(f"  {r.population:<{width}}  {r.source}" for r in rows))
        for module in track_modules("cli"):
            if hasattr(module, "summary"):
                module.summary(target)
        print(f"Drop new population files into {settings.drop_dir()} (the sensor loads them while `make ui` runs).")
