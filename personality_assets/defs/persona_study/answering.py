"""Answering: the partition's pending experiments through the call engine. Each result is written
in the writer's transaction (answers, request metadata and the success flag, or the failure reason),
so a killed run keeps what was answered and a re-run asks only for what is pending."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from sqlalchemy import bindparam, delete, insert, select, update

from personality_assets.db.engine import DatabaseTarget, experiment_transaction, read_frame
from personality_assets.db.tables.persona_study import (
    EvalQuestionnaire,
    ExperimentRequestMetadata,
    ExperimentsGroup,
    ExperimentsList,
    Persona,
)
from personality_assets.defs.persona_study.presentation import FACTORS, own_code, presented_numbers
from personality_assets.defs.persona_study.prompts import system_prompt
from personality_assets.defs.persona_study.reference import Reference
from personality_assets.defs.persona_study.replies import answers_model
from personality_assets.defs.persona_study.simulate import answer_hints
from personality_assets.llm.engine import CallEngine
from personality_assets.llm.types import CallResult, ChatRequest, RunSummary
from personality_assets.questionnaires import get_questionnaire


def pending_experiments(target: DatabaseTarget, model: str, population: str, limit: int | None = None) -> pl.DataFrame:
    experiments, groups, personas = ExperimentsList.__table__, ExperimentsGroup.__table__, Persona.__table__
    query = (
        select(
            experiments.c.experiment_id,
            experiments.c.questionnaire,
            experiments.c.repeated,
            experiments.c.experiments_group_id,
            groups.c.option_order,
            groups.c.system_role,
            groups.c.base_prompt,
            groups.c.temperature,
            groups.c.top_p,
            personas.c.description,
            personas.c.ref_personality_id,
        )
        .join(groups, groups.c.experiments_group_id == experiments.c.experiments_group_id)
        .join(personas, personas.c.id == experiments.c.personality_id)
        .where(groups.c.model == model, groups.c.population == population, experiments.c.succeeded.is_(None))
        .order_by(experiments.c.experiment_id)
        .limit(limit)
    )
    with experiment_transaction(target) as connection:
        return pl.read_database(query, connection, infer_schema_length=None)


def group_orders(target: DatabaseTarget, group_ids: list[int]) -> dict[int, list[int] | None]:
    """Experiment group -> the question numbers in the order its items were shown (None: as defined)."""
    groups = ExperimentsGroup.__table__
    with experiment_transaction(target) as connection:
        rows = connection.execute(
            select(groups.c.experiments_group_id, groups.c.presentation).where(
                groups.c.experiments_group_id.in_(group_ids)
            )
        ).all()
    return {group_id: (presentation or {}).get("order") for group_id, presentation in rows}


def presentation_positions(target: DatabaseTarget, groups: pl.DataFrame) -> pl.DataFrame:
    """experiments_group_id, question_number, position (0-based, in the order shown) of ``groups``
    (columns experiments_group_id, questionnaire)."""
    orders = group_orders(target, groups["experiments_group_id"].to_list())
    rows = [
        (group_id, number, position)
        for group_id, name in groups.select("experiments_group_id", "questionnaire").unique().iter_rows()
        for position, number in enumerate(presented_numbers(get_questionnaire(name), orders.get(group_id)))
    ]
    return pl.DataFrame(
        rows, schema={"experiments_group_id": pl.Int64, "question_number": pl.Int64, "position": pl.Int64}, orient="row"
    )


def answer_requests(
    target: DatabaseTarget, model: str, population: str, reference: Reference, limit: int | None = None
) -> list[ChatRequest]:
    """One request per pending experiment of this partition, presented as its group says."""
    pending = pending_experiments(target, model, population, limit)
    orders = group_orders(target, pending["experiments_group_id"].unique().to_list())
    requests = []
    for (name,), group in pending.group_by("questionnaire", maintain_order=True):
        questionnaire = get_questionnaire(name)
        hints = answer_hints(questionnaire, reference.answers, reference.traits)
        reply_models = {}
        for row in group.iter_rows(named=True):
            option_order, order = row["option_order"], orders.get(row["experiments_group_id"])
            if option_order not in reply_models:
                reply_models[option_order] = answers_model(questionnaire, option_order)
            person = hints[row["ref_personality_id"]]
            # The simulator's hints say how the items were shown (only where not as the base).
            if order is not None:
                person = {**person, "order": order}
            if option_order != FACTORS["option_order"]:
                person = {**person, "option_order": option_order}
            # The experiment runs with its group's recorded prompt and sampling, whatever the
            # configuration says today (a changed configuration registers a new group).
            requests.append(
                ChatRequest(
                    model=model,
                    purpose="questionnaire",
                    response_model=reply_models[option_order],
                    repetition=row["repeated"],
                    messages=(
                        ("system", system_prompt(row["system_role"], row["description"])),
                        ("user", row["base_prompt"]),
                    ),
                    temperature=row["temperature"],
                    top_p=row["top_p"],
                    hints=person,
                    tag=(row["experiment_id"], name, option_order),
                )
            )
    return requests


def answer_questionnaires(
    engine: CallEngine, target: DatabaseTarget, model: str, population: str, limit: int | None = None
) -> RunSummary:
    """Run the pending experiments of this partition. Each result is written in the writer's
    transaction: answers + request metadata + the success flag, or the failure reason."""
    requests = answer_requests(target, model, population, Reference.load(target, population), limit)
    summary = engine.run(requests, persist=_persist_answers)
    _conclude_groups(target, model, population)
    return summary


def _persist_answers(connection, results: list[CallResult]) -> None:
    now = datetime.now(UTC)
    metadata_rows, answers, succeeded, failed = [], [], [], []
    for result in results:
        experiment_id, questionnaire, option_order = result.request.tag
        metadata_rows.append(
            {
                "experiment_id": experiment_id,
                "request_json": result.raw_request,
                "response_json": result.raw_response,
                "request_metadata": {
                    "status": result.status,
                    "attempts": result.attempts,
                    "cached": result.cached,
                    "input_tokens": result.input_tokens,
                    "output_tokens": result.output_tokens,
                    "latency_s": round(result.latency_s, 4),
                    "cost_usd": result.cost_usd,
                    "simulated": result.simulated,
                    "model": result.model.key,
                    "provider_model_id": result.model.model_id,
                    "error": result.error,
                },
            }
        )
        if result.ok:
            succeeded.append(experiment_id)
            # Stored in the questionnaire's own codes, whichever way the scale was shown.
            definition = get_questionnaire(questionnaire)
            answers += [
                {
                    "experiment_id": experiment_id,
                    "questionnaire": questionnaire,
                    "question_number": number,
                    "answer": own_code(definition, answer, option_order),
                }
                for number, answer in sorted(result.parsed.answers.items())
            ]
        else:
            failed.append({"id": experiment_id, "reason": result.error})
    connection.execute(insert(ExperimentRequestMetadata), metadata_rows)
    if succeeded:
        # Re-processing replaces an experiment's answers; its request-metadata history stays.
        connection.execute(delete(EvalQuestionnaire).where(EvalQuestionnaire.experiment_id.in_(succeeded)))
        connection.execute(insert(EvalQuestionnaire), answers)
        connection.execute(
            update(ExperimentsList)
            .where(ExperimentsList.experiment_id.in_(succeeded))
            .values(succeeded=True, llm_explanation=None, updated=now)
        )
    if failed:
        table = ExperimentsList.__table__
        connection.execute(
            update(table)
            .where(table.c.experiment_id == bindparam("id"))
            .values(llm_explanation=bindparam("reason"), updated=now),
            failed,
        )


def _conclude_groups(target: DatabaseTarget, model: str, population: str) -> None:
    experiments = ExperimentsList.__table__
    with experiment_transaction(target) as connection:
        pending_groups = select(experiments.c.experiments_group_id).where(experiments.c.succeeded.is_(None))
        connection.execute(
            update(ExperimentsGroup)
            .where(
                ExperimentsGroup.model == model,
                ExperimentsGroup.population == population,
                ExperimentsGroup.experiments_group_id.not_in(pending_groups),
            )
            .values(concluded=True)
        )


def answer_status(target: DatabaseTarget, model: str, population: str) -> pl.DataFrame:
    """Per questionnaire: experiments registered, succeeded, pending, and the failure reasons."""
    experiments, groups = ExperimentsList.__table__, ExperimentsGroup.__table__
    with experiment_transaction(target) as connection:
        return pl.read_database(
            select(
                experiments.c.experiment_id,
                experiments.c.questionnaire,
                experiments.c.succeeded,
                experiments.c.llm_explanation,
            )
            .join(groups, groups.c.experiments_group_id == experiments.c.experiments_group_id)
            .where(groups.c.model == model, groups.c.population == population),
            connection,
            infer_schema_length=None,
        ).cast(
            {
                "experiment_id": pl.Int64,
                "questionnaire": pl.String,
                "succeeded": pl.Boolean,
                "llm_explanation": pl.String,
            }
        )  # typed even when empty


def partition_answers(target: DatabaseTarget, model: str, population: str) -> pl.DataFrame:
    """Answers of the partition's succeeded experiments, with the persona and reference person."""
    return study_answers(target, model=model, population=population)


def study_answers(
    target: DatabaseTarget, *, model: str | None = None, population: str | None = None, base_only: bool = False
) -> pl.DataFrame:
    """Answers of every succeeded experiment (or of one model and/or population): experiment,
    group, model, population (the condition), repetition, questionnaire, item, answer (in the
    questionnaire's own codes), persona and reference person, the group's presentation levels
    (item_order, option_order, wording) and the item's position in the order it was shown.
    ``base_only``: only experiments presented as the original study presented them (filtered
    in the database, so the other presentations' answers are never read)."""
    answers, experiments, groups, personas = (
        EvalQuestionnaire.__table__,
        ExperimentsList.__table__,
        ExperimentsGroup.__table__,
        Persona.__table__,
    )
    query = (
        select(
            answers.c.experiment_id,
            experiments.c.experiments_group_id,
            groups.c.model,
            groups.c.population,
            experiments.c.repeated,
            answers.c.questionnaire,
            answers.c.question_number,
            answers.c.answer,
            experiments.c.personality_id.label("persona_id"),
            personas.c.ref_personality_id,
            *(groups.c[factor] for factor in FACTORS),
        )
        .join(experiments, experiments.c.experiment_id == answers.c.experiment_id)
        .join(groups, groups.c.experiments_group_id == experiments.c.experiments_group_id)
        .join(personas, personas.c.id == experiments.c.personality_id)
        .where(experiments.c.succeeded.is_(True))
    )
    if model is not None:
        query = query.where(groups.c.model == model)
    if population is not None:
        query = query.where(groups.c.population == population)
    if base_only:
        query = query.where(*(groups.c[factor] == base for factor, base in FACTORS.items()))
    schema = {
        **dict.fromkeys(("experiment_id", "experiments_group_id"), pl.Int64),
        **dict.fromkeys(("model", "population"), pl.String),
        "repeated": pl.Int64,
        "questionnaire": pl.String,
        **dict.fromkeys(("question_number", "answer", "persona_id", "ref_personality_id"), pl.Int64),
        **dict.fromkeys(FACTORS, pl.String),
    }
    with experiment_transaction(target) as connection:
        answers = read_frame(connection, query, schema)
    positions = presentation_positions(target, answers.select("experiments_group_id", "questionnaire").unique())
    return answers.join(positions, on=["experiments_group_id", "question_number"], how="left")
