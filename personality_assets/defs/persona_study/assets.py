"""The persona study as assets partitioned by model x population:
personas -> experiment_registrations -> questionnaire_answers -> questionnaire_scores."""

from typing import Literal

import dagster as dg
import polars as pl
from pydantic import Field

from personality_assets import settings
from personality_assets.db.tables.persona_study import EvalQuestionnaire, ExperimentsList, Persona
from personality_assets.defs.metadata import explorer_link, sql_table_schema, table_metadata, table_schema
from personality_assets.defs.outputs import output_path
from personality_assets.defs.partitions import experiment_partitions, model_and_population
from personality_assets.defs.persona_study import columns
from personality_assets.defs.persona_study.answering import (
    answer_questionnaires,
    answer_status,
    partition_answers,
)
from personality_assets.defs.persona_study.checks import ANSWER_CHECKS, answer_checks
from personality_assets.defs.persona_study.estimate import pending_cost
from personality_assets.defs.persona_study.personas import generate_personas, population_tag, read_personas
from personality_assets.defs.persona_study.presentation import DEFAULT_ORDER_SEED, DEFAULT_SHUFFLES, FACTORS
from personality_assets.defs.persona_study.prompts import DEFAULT_SYSTEM_ROLE
from personality_assets.defs.persona_study.reference import reference_answers
from personality_assets.defs.persona_study.registration import RegistrationConfig, register_experiments
from personality_assets.defs.persona_study.scoring import score_partition, score_summary, store_scores
from personality_assets.defs.persona_study.wordings import WordingError
from personality_assets.defs.reference.assets import reference_questionnaires
from personality_assets.defs.resources import LLMEngineResource, ResearchDatabase
from personality_assets.defs.steps import SpendCapConfig, model_step
from personality_assets.llm.config import load_models_config
from personality_assets.questionnaires import QuestionnaireError, all_questionnaires

GROUP = "persona_study"
# What every step of the study shares: its group, and a partition per model x population.
STUDY_STEP = {"group_name": GROUP, "partitions_def": experiment_partitions}


def parquet_path(kind: str, model: str, population: str):
    return output_path(settings.data_dir(), "parquet", kind, f"model={model}", f"population={population}.parquet")


class PersonasConfig(SpendCapConfig):
    max_people: int | None = Field(default=None, ge=1, description="only the first N reference people (by id)")
    personas_per_person: int = Field(default=1, ge=1, description="personas written per reference person")


@model_step(
    **STUDY_STEP,
    deps=[reference_questionnaires],
    kinds={"sql", "parquet"},
    metadata={"dagster/column_schema": sql_table_schema(Persona)},
)
def personas(
    context: dg.AssetExecutionContext, config: PersonasConfig, research_db: ResearchDatabase, llm: LLMEngineResource
) -> dg.MaterializeResult:
    """For each reference person, the model writes a persona from that person's answers. Only
    missing personas are asked for, so a re-run or a resumed run pays for nothing twice."""
    model, population = model_and_population(context)
    target = research_db.target
    outcome = generate_personas(
        llm.engine(context, config.max_cost_usd),
        target,
        model,
        population,
        config.max_people,
        config.personas_per_person,
    )
    frame = read_personas(target, model, population)
    path = parquet_path("personas", model, population)
    frame.write_parquet(path)
    demographics = {
        column: table_metadata(
            frame.group_by(column).len().sort("len", descending=True).rename({"len": "personas"}),
            columns.PERSONA_COUNTS,
        )
        for column in ("gender", "race", "sexual_orientation")
    }
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "new_personas": outcome.new,
            "reference_people": outcome.people,
            "population_tag": population_tag(model, population),
            "explorer": explorer_link("/experiments", model=model, population=population),
            "simulated_personas": int(frame["simulated"].sum()) if frame.height else 0,
            "parquet": dg.MetadataValue.path(str(path)),
            **{f"{column}_counts": table for column, table in demographics.items()},
            "preview": table_metadata(
                frame.select("id", "ref_personality_id", "name", "age", "gender", "race", "occupation").head(5),
                columns.PERSONA_PREVIEW,
            ),
            **outcome.summary.metadata(),
        }
    )


class RegistrationsConfig(dg.Config):
    questionnaires: list[str] | None = Field(
        default=None, description="default: every questionnaire whose item texts are available"
    )
    repetitions: int = Field(default=1, ge=1, description="experiments per persona, questionnaire and presentation")
    description: str = Field(default="", description="experiment group description")
    system_role: str = Field(default=DEFAULT_SYSTEM_ROLE, description="system prompt; {description} = the persona's")
    item_order: Literal["as_defined", "shuffled"] = Field(
        default="as_defined",
        description="shuffled: every persona answers the items as defined AND in `orders` seeded shuffles",
    )
    orders: int = Field(
        default=DEFAULT_SHUFFLES, ge=1, description="with item_order shuffled: how many seeded shuffles"
    )
    order_seed: int = Field(default=DEFAULT_ORDER_SEED, description="seed of the shuffles (stored with each group)")
    option_orders: list[str] = Field(
        default=["ascending"],
        description="ascending (the scale as defined) and/or descending (shown reversed; replies are mapped "
        "back to the questionnaire's codes)",
    )
    wordings: list[str] = Field(
        default=["original"],
        description="wording variants from the wordings file (PERSONALITY_ASSETS_WORDINGS): system role, "
        "instruction and item texts; original = the study's own",
    )

    def registration(self, questionnaires: list[str]) -> RegistrationConfig:
        return RegistrationConfig(
            questionnaires,
            self.repetitions,
            self.description,
            self.system_role,
            item_order=self.item_order,
            orders=self.orders,
            order_seed=self.order_seed,
            option_orders=list(self.option_orders),
            wordings=list(self.wordings),
        )


@dg.asset(
    **STUDY_STEP,
    deps=[personas],
    kinds={"sql"},
    metadata={"dagster/column_schema": sql_table_schema(ExperimentsList)},
)
def experiment_registrations(
    context: dg.AssetExecutionContext,
    config: RegistrationsConfig,
    research_db: ResearchDatabase,
    llm: LLMEngineResource,
) -> dg.MaterializeResult:
    """An experiments_groups row per questionnaire, presentation (item order, answer-scale
    direction, wording) and configuration, and an experiments_list row per persona and repetition.
    The same configuration never registers twice; a changed one makes a new group. Nothing is
    asked here: the metadata says how many experiments are pending and what answering them will
    cost. The columns shown are experiments_list's."""
    model, population = model_and_population(context)
    # The simulator answers from the persona's hints, not the texts: it can run every questionnaire.
    simulated = load_models_config().get(model).provider == "simulated"
    available = [name for name, q in all_questionnaires().items() if q.has_texts or simulated]
    names = config.questionnaires or available
    if "{description}" not in config.system_role:
        raise dg.Failure("system_role must contain {description}, where the persona's description goes")
    missing_texts = [name for name in names if name not in available]
    if missing_texts:
        raise dg.Failure(
            f"questionnaires {missing_texts} have no item texts: supply them (see the questionnaires "
            f"asset's metadata) or leave them out of `questionnaires`"
        )
    skipped = sorted(set(all_questionnaires()) - set(names))
    if skipped and config.questionnaires is None:
        context.log.info(f"not registered (no item texts): {skipped}")
    target = research_db.target
    try:
        counts = register_experiments(target, load_models_config(), model, population, config.registration(names))
    except (ValueError, QuestionnaireError, WordingError) as error:  # e.g. a wording that does not exist
        raise dg.Failure(str(error), allow_retries=False) from error
    calls, cost = pending_cost(llm.engine(context), target, model, population)
    context.log.info(f"{int(counts['new'].sum())} new experiments; {calls} pending, about ${cost:,.4f} to answer")
    return dg.MaterializeResult(
        metadata={
            "registrations": table_metadata(counts, columns.REGISTRATIONS),
            "new_experiments": int(counts["new"].sum()),
            "presentations": counts.select(*FACTORS).unique().height,
            "pending_experiments": calls,
            "estimated_cost_usd": round(cost, 4),
            "dagster/row_count": int(counts["registered"].sum()),
            "questionnaires": names,
        }
    )


class AnswersConfig(SpendCapConfig):
    max_experiments: int | None = Field(default=None, description="process at most N pending experiments")
    max_failed_share: float = Field(
        default=0.05,
        description="the step fails (after storing everything) when a larger share of this run's "
        "experiments failed; also the threshold of the failed_share check",
    )


@model_step(
    retry_policy=None,
    **STUDY_STEP,
    deps=[experiment_registrations],
    kinds={"sql"},
    check_specs=ANSWER_CHECKS,
    metadata={"dagster/column_schema": sql_table_schema(EvalQuestionnaire)},
)
def questionnaire_answers(
    context: dg.AssetExecutionContext, config: AnswersConfig, research_db: ResearchDatabase, llm: LLMEngineResource
) -> dg.MaterializeResult:
    """Runs the partition's pending experiments (succeeded IS NULL) through the call engine.
    Each experiment's answers, request metadata and success flag are written in one
    transaction; a failed one stays pending with its reason in llm_explanation."""
    model, population = model_and_population(context)
    target = research_db.target
    summary = answer_questionnaires(
        llm.engine(context, config.max_cost_usd), target, model, population, config.max_experiments
    )
    status = answer_status(target, model, population)
    answers = partition_answers(target, model, population)
    per_questionnaire = (
        status.group_by("questionnaire")
        .agg(
            pl.len().alias("experiments"),
            pl.col("succeeded").fill_null(False).sum().alias("succeeded"),
            pl.col("succeeded").is_null().sum().alias("pending"),
        )
        .sort("questionnaire")
    )
    failures = (
        status.filter(pl.col("succeeded").is_null() & pl.col("llm_explanation").is_not_null())
        .group_by("llm_explanation")
        .agg(pl.len().alias("experiments"))
        .sort("experiments", descending=True)
        .head(10)
    )
    metadata = {
        "dagster/row_count": answers.height,
        "experiments": table_metadata(per_questionnaire, columns.ANSWERS),
        "failure_reasons": table_metadata(failures, columns.FAILURES),
        "explorer": explorer_link("/experiments", model=model, population=population),
        "explorer_failures": explorer_link("/experiments", model=model, population=population, status="failed"),
        **summary.metadata(),
    }
    failed = summary.failed + summary.invalid
    if summary.calls and failed / summary.calls > config.max_failed_share:
        # Everything is stored (failed experiments stay pending); a green run here would hide it.
        reasons = "; ".join(
            f"{row['experiments']} x {row['llm_explanation'][:300]}" for row in failures.head(3).iter_rows(named=True)
        )
        raise dg.Failure(
            description=f"{failed} of {summary.calls} experiments failed ({failed / summary.calls:.0%}, above "
            f"max_failed_share {config.max_failed_share:.0%}). They stay pending: a re-run retries only them. "
            f"Top reasons: {reasons}. Fix the model's configuration or prompt, or raise max_failed_share.",
            metadata=metadata,
        )
    return dg.MaterializeResult(
        metadata=metadata, check_results=answer_checks(answers, status, config.max_failed_share, context.partition_key)
    )


@dg.asset(
    **STUDY_STEP,
    deps=[questionnaire_answers],
    kinds={"sql", "parquet"},
    automation_condition=dg.AutomationCondition.eager(),
)
def questionnaire_scores(context: dg.AssetExecutionContext, research_db: ResearchDatabase) -> dg.MaterializeResult:
    """Scale scores per experiment (keyed and reversed items), the reference person's score on
    the same scale and the difference; a table in the experiment schema and parquet."""
    model, population = model_and_population(context)
    target = research_db.target
    scores = score_partition(partition_answers(target, model, population), reference_answers(target, population))
    store_scores(target, model, population, scores)
    path = parquet_path("questionnaire_scores", model, population)
    scores.write_parquet(path)
    per_persona = scores.group_by("persona_id", "questionnaire", "scale").agg(
        pl.col("score").mean(), pl.col("reference_score").first(), pl.col("difference").mean()
    )
    per_scale = score_summary(scores.drop("experiments_group_id"))  # every configuration together
    r_with_reference = per_scale["r_with_reference"].fill_nan(None).drop_nulls()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": scores.height,
            "experiments": scores["experiment_id"].n_unique(),
            "personas": per_persona["persona_id"].n_unique(),
            "explorer": explorer_link("/compare"),
            "parquet": dg.MetadataValue.path(str(path)),
            "summary": table_metadata(score_summary(scores), columns.SCORE_SUMMARY),
            "dagster/column_schema": table_schema(dict(scores.schema)),
            # Headline numbers the UI charts from run to run (per scale: the summary; across
            # partitions: the reports).
            "min_r_with_reference": _number(r_with_reference.min()),
            "median_r_with_reference": _number(r_with_reference.median()),
        }
    )


def _number(value) -> float | None:
    return None if value is None else round(float(value), 4)
