"""Commands of the persona study: the cost of a partition before any call, and its part of the
summary."""

from __future__ import annotations

from typing import Annotated

import polars as pl
import typer
from sqlalchemy import func, select

from personality_assets import settings
from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.persona_study import ExperimentsGroup, ExperimentsList, Persona, QuestionnaireScore
from personality_assets.defs.persona_study.estimate import estimate_study
from personality_assets.defs.resources import ResearchDatabase, default_llm_resource

app = typer.Typer()


@app.command()
def estimate(
    model: Annotated[str, typer.Option(help="model key, e.g. gpt4o", show_default=False)],
    population: Annotated[str, typer.Option(help="a loaded reference population, e.g. sample", show_default=False)],
    max_people: Annotated[int | None, typer.Option()] = None,
    personas_per_person: Annotated[int, typer.Option()] = 1,
    repetitions: Annotated[int, typer.Option()] = 1,
    questionnaire: Annotated[list[str] | None, typer.Option(help="repeat for several (default: all)")] = None,
) -> None:
    """Calls and cost of a study partition, before any call."""
    research_db = ResearchDatabase()
    engine = default_llm_resource(research_db).engine()  # migrates the schemas
    frame = estimate_study(
        engine,
        research_db.target,
        model,
        population,
        max_people=max_people,
        personas_per_person=personas_per_person,
        questionnaires=questionnaire,
        repetitions=repetitions,
    )
    with pl.Config(tbl_rows=-1, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print(frame)
    print(
        f"total: {int(frame['calls'].sum()):,} calls, about ${frame['cost_usd'].sum():,.2f} "
        f"(prices from the models configuration; outputs estimated at typical lengths)"
    )


def summary(target) -> None:
    study = _study_summary(target)
    if study.height:
        print(f"Persona study (model x population):\n{study}")
        print(f"Parquet: {settings.data_dir() / 'parquet'} (personas/, questionnaire_scores/)")
        report = settings.reports_dir() / "study_report.html"
        if report.exists():
            print(f"Study report (tables and figures, open in a browser): {report}")
            print(f"Report tables (parquet, csv) and figures (png): {settings.reports_dir()}")


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
