"""Commands of the persona study: the models it covers (model partitions), the cost of a partition
before any call, and its part of the summary."""

from __future__ import annotations

import sys
from typing import Annotated

import polars as pl
import typer
from dagster import DagsterInstance
from sqlalchemy import func, select

from personality_assets import settings
from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.persona_study import ExperimentsGroup, ExperimentsList, Persona, QuestionnaireScore
from personality_assets.defs.cli import add_partitions
from personality_assets.defs.partitions import model_partitions, model_problem
from personality_assets.defs.persona_study.estimate import estimate_study, pending_cost
from personality_assets.defs.persona_study.presentation import DEFAULT_ORDER_SEED, DEFAULT_SHUFFLES
from personality_assets.defs.persona_study.registration import RegistrationConfig, register_experiments
from personality_assets.defs.resources import ResearchDatabase, default_llm_resource
from personality_assets.llm.config import load_models_config
from personality_assets.questionnaires import all_questionnaires

app = typer.Typer()
models = typer.Typer(help="enable models: the persona study's model partitions")
app.add_typer(models, name="models")

ModelKeys = Annotated[list[str], typer.Argument(metavar="KEY", show_default=False)]


@models.command("add")
def add_models(keys: ModelKeys) -> None:
    """Enable models for the persona study (model partitions; e.g. simulated gpt4o): each a
    configured model key."""
    problems = [f"{key!r}: {problem}" for key in keys if (problem := model_problem(key))]
    if problems:
        print("\n".join(problems) + "\nnothing added", file=sys.stderr)
        sys.exit(2)
    add_partitions(model_partitions, keys, "model")


@models.command("remove")
def remove_models(keys: ModelKeys) -> None:
    """Disable models (delete their model partitions): their runs' history stays in Dagster's event
    log and their personas, experiments and answers in the research database."""
    instance = DagsterInstance.get()
    existing = set(instance.get_dynamic_partitions(model_partitions.name))
    for key in keys:
        if key in existing:
            instance.delete_dynamic_partition(model_partitions.name, key)
    print(
        f"removed model partitions: {[k for k in keys if k in existing] or 'none'}; "
        f"not partitions: {[k for k in keys if k not in existing] or 'none'}"
    )


Model = Annotated[str, typer.Option(help="model key, e.g. gpt4o", show_default=False)]
Population = Annotated[str, typer.Option(help="a loaded reference population, e.g. sample", show_default=False)]
Questionnaires = Annotated[list[str] | None, typer.Option("--questionnaire", help="repeat for several (default: all)")]
Repetitions = Annotated[int, typer.Option(help="experiments per persona, questionnaire and presentation")]
ItemOrder = Annotated[
    str, typer.Option(help="as_defined, or shuffled: the items as defined AND --orders seeded shuffles")
]
Orders = Annotated[int, typer.Option(help="with --item-order shuffled: how many seeded shuffles")]
OrderSeed = Annotated[int, typer.Option(help="seed of the shuffles")]
OptionOrders = Annotated[
    list[str] | None, typer.Option("--option-order", help="ascending and/or descending (repeat; default ascending)")
]
Wordings = Annotated[
    list[str] | None, typer.Option("--wording", help="a variant of the wordings file (repeat; default original)")
]


def _registration(questionnaire, repetitions, item_order, orders, order_seed, option_order, wording):
    return RegistrationConfig(
        questionnaire or [name for name, q in all_questionnaires().items() if q.has_texts],
        repetitions,
        item_order=item_order,
        orders=orders,
        order_seed=order_seed,
        option_orders=option_order or ["ascending"],
        wordings=wording or ["original"],
    )


def _print(frame: pl.DataFrame) -> None:
    with pl.Config(tbl_rows=-1, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print(frame)


@app.command()
def estimate(
    model: Model,
    population: Population,
    max_people: Annotated[int | None, typer.Option()] = None,
    personas_per_person: Annotated[int, typer.Option()] = 1,
    repetitions: Repetitions = 1,
    questionnaire: Questionnaires = None,
    item_order: ItemOrder = "as_defined",
    orders: Orders = DEFAULT_SHUFFLES,
    order_seed: OrderSeed = DEFAULT_ORDER_SEED,
    option_order: OptionOrders = None,
    wording: Wordings = None,
) -> None:
    """Calls and cost of a study partition, before any call."""
    research_db = ResearchDatabase()
    engine = default_llm_resource(research_db).engine()  # migrates the schemas
    registration = _registration(questionnaire, repetitions, item_order, orders, order_seed, option_order, wording)
    frame = estimate_study(
        engine,
        research_db.target,
        model,
        population,
        registration,
        max_people=max_people,
        personas_per_person=personas_per_person,
    )
    _print(frame)
    print(
        f"total: {int(frame['calls'].sum()):,} calls, about ${frame['cost_usd'].sum():,.2f} "
        f"(prices from the models configuration; outputs estimated at typical lengths)"
    )


@app.command()
def register(
    model: Model,
    population: Population,
    repetitions: Repetitions = 1,
    questionnaire: Questionnaires = None,
    item_order: ItemOrder = "as_defined",
    orders: Orders = DEFAULT_SHUFFLES,
    order_seed: OrderSeed = DEFAULT_ORDER_SEED,
    option_order: OptionOrders = None,
    wording: Wordings = None,
) -> None:
    """Register a partition's experiments under these presentation conditions (its personas must
    exist); nothing is asked. The persona_study job (or questionnaire_answers) then answers them."""
    research_db = ResearchDatabase()
    engine = default_llm_resource(research_db).engine()  # migrates the schemas
    target = research_db.target
    registration = _registration(questionnaire, repetitions, item_order, orders, order_seed, option_order, wording)
    counts = register_experiments(target, load_models_config(), model, population, registration)
    _print(counts)
    calls, cost = pending_cost(engine, target, model, population)
    print(f"{int(counts['new'].sum()):,} new experiments; {calls:,} pending, about ${cost:,.2f} to answer")


def summary(target) -> None:
    study = _study_summary(target)
    if study.height:
        print(f"Persona study (model x population):\n{study}")
        print(f"Parquet: {settings.data_dir() / 'parquet'} (personas/, questionnaire_scores/)")
        reports = settings.reports_dir()
        report = reports / "study_report.html"
        if report.exists():
            print(f"Study report (tables and figures, open in a browser): {report}")
            print(f"Report tables (parquet, csv) and figures (png): {reports}")
        robustness = reports / "robustness.csv"
        if robustness.exists():
            verdicts = pl.read_csv(robustness).group_by("verdict").len().sort("verdict").rows()
            counted = ", ".join(f"{count} {verdict}" for verdict, count in verdicts)
            print(f"Robustness to item order, option order and wording ({counted}): {robustness}")
        styles = reports / "response_style_comparison.csv"
        if styles.exists():
            print(f"Response styles against the reference people: {styles}")


def _study_summary(target) -> pl.DataFrame:
    """Per partition: personas, experiments (succeeded/pending), mean |persona - reference| score."""
    with experiment_transaction(target) as connection:
        personas = connection.execute(
            select(Persona.model, Persona.ref_population, func.count()).group_by(Persona.model, Persona.ref_population)
        ).all()
        experiments = connection.execute(
            select(
                ExperimentsGroup.model, ExperimentsGroup.population, func.count(), func.count(ExperimentsList.succeeded)
            )  # count() of a column skips NULLs (pending)
            .join(ExperimentsList, ExperimentsList.experiments_group_id == ExperimentsGroup.experiments_group_id)
            .group_by(ExperimentsGroup.model, ExperimentsGroup.population)
        ).all()
        differences = connection.execute(
            select(
                QuestionnaireScore.model,
                QuestionnaireScore.population,
                func.avg(func.abs(QuestionnaireScore.difference)),
            ).group_by(QuestionnaireScore.model, QuestionnaireScore.population)
        ).all()
    rows: dict[tuple, dict] = {}
    for model, population, count in personas:
        rows.setdefault((model, population), {})["personas"] = count
    for model, population, total, answered in experiments:
        rows.setdefault((model, population), {}).update(experiments=total, answered=answered, pending=total - answered)
    for model, population, difference in differences:
        # None (no reference score on those scales) stays empty rather than reading as a perfect 0.
        rows.setdefault((model, population), {})["mean_abs_score_difference"] = (
            None if difference is None else round(float(difference), 3)
        )
    return pl.DataFrame([{"model": m, "population": p, **values} for (m, p), values in sorted(rows.items())])
