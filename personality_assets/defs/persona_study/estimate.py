"""What a partition's study will cost from where it stands, before any call."""

from __future__ import annotations

import polars as pl
from sqlalchemy import func, select

from personality_assets.db.engine import DatabaseTarget, experiment_transaction
from personality_assets.db.tables.persona_study import ExperimentsGroup, ExperimentsList
from personality_assets.defs.persona_study.answering import answer_requests
from personality_assets.defs.persona_study.personas import persona_requests
from personality_assets.defs.persona_study.prompts import system_prompt
from personality_assets.defs.persona_study.reference import Reference
from personality_assets.defs.persona_study.registration import RegistrationConfig, group_prompt
from personality_assets.llm.engine import CallEngine
from personality_assets.llm.types import ChatRequest
from personality_assets.questionnaires import all_questionnaires, get_questionnaire

TYPICAL_DESCRIPTION = "x" * 900  # a persona description is a paragraph: ~900 characters, ~225 tokens


def estimate_study(
    engine: CallEngine,
    target: DatabaseTarget,
    model: str,
    population: str,
    registration: RegistrationConfig | None = None,
    *,
    max_people: int | None = None,
    personas_per_person: int = 1,
) -> pl.DataFrame:
    """Calls, tokens and cost a partition's study will take from where it stands, without calling
    anything: missing personas exactly; answers for pending experiments exactly, plus those that
    ``registration`` will add (personas x repetitions x presentations, per questionnaire; default:
    every questionnaire with texts, once, as the original study presented it) from typical requests."""
    registration = registration or RegistrationConfig([name for name, q in all_questionnaires().items() if q.has_texts])
    reference = Reference.load(target, population)
    persona_estimate = engine.estimate(
        persona_requests(target, model, population, reference, max_people, personas_per_person)
    )
    pending_estimate = engine.estimate(answer_requests(target, model, population, reference))
    people = len(reference.people(max_people))
    with experiment_transaction(target) as connection:
        registered = dict(
            connection.execute(
                select(ExperimentsGroup.questionnaire, func.count())
                .join(ExperimentsList, ExperimentsList.experiments_group_id == ExperimentsGroup.experiments_group_id)
                .where(ExperimentsGroup.model == model, ExperimentsGroup.population == population)
                .group_by(ExperimentsGroup.questionnaire)
            ).all()
        )
    future = []
    for name in registration.questionnaires:
        questionnaire = get_questionnaire(name)
        prompts = [
            group_prompt(questionnaire, presentation, registration.system_role)
            for presentation in registration.presentations(questionnaire)
        ]
        wanted = people * personas_per_person * registration.repetitions * len(prompts)
        missing = max(wanted - registered.get(name, 0), 0)
        future += [
            ChatRequest(
                model=model,
                purpose="questionnaire",
                repetition=i,
                messages=(
                    ("system", system_prompt(prompts[i % len(prompts)].system_role, TYPICAL_DESCRIPTION)),
                    ("user", prompts[i % len(prompts)].base_prompt),
                ),
            )
            for i in range(missing)
        ]
    future_estimate = engine.estimate(future)
    frames = [
        frame.with_columns(pl.lit(step).alias("step"))
        for step, frame in (
            ("personas", persona_estimate),
            ("answers: pending", pending_estimate),
            ("answers: to be registered", future_estimate),
        )
        if frame.height
    ]
    if not frames:
        return pl.DataFrame(schema={"step": pl.String, "calls": pl.Int64, "cost_usd": pl.Float64})
    return pl.concat(frames, how="diagonal").select(
        "step", "model", "calls", "cached", "input_tokens", "output_tokens", "cost_usd"
    )


def pending_cost(engine: CallEngine, target: DatabaseTarget, model: str, population: str) -> tuple[int, float]:
    """Calls and estimated cost (USD) of the partition's pending experiments, without calling."""
    pending = engine.estimate(answer_requests(target, model, population, Reference.load(target, population)))
    if not pending.height:
        return 0, 0.0
    return int(pending["calls"].sum()), float(pending["cost_usd"].sum())
