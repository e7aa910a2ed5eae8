"""Personas written by a model from each reference person's answers. Only missing personas are
asked for, so re-running is safe and a killed run resumes where it stopped.

Population tags follow the original study: personas of model M made from population P belong to
population ``generated_M_P`` and keep ``ref_personality_id`` (and ``ref_population``)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from sqlalchemy import select

from personality_assets.db.engine import DatabaseTarget, experiment_transaction, upsert_insert
from personality_assets.db.tables.persona_study import Persona
from personality_assets.defs.persona_study.demographics import clean_gender, clean_race, clean_sexual_orientation
from personality_assets.defs.persona_study.prompts import persona_prompt
from personality_assets.defs.persona_study.reference import Reference
from personality_assets.defs.persona_study.replies import PersonaReply
from personality_assets.llm.engine import CallEngine
from personality_assets.llm.types import CallResult, ChatRequest, RunSummary
from personality_assets.questionnaires import all_questionnaires

PERSONA_COLUMNS = [
    "name",
    "age",
    "gender",
    "sexual_orientation",
    "race",
    "ethnicity",
    "religious_belief",
    "occupation",
    "political_orientation",
    "location",
    "description",
]


def population_tag(model: str, population: str) -> str:
    return f"generated_{model}_{population}"


def _insert_ignoring_duplicates(connection, table, rows: list[dict], keys: list[str]) -> None:
    if rows:
        connection.execute(upsert_insert(connection, table).on_conflict_do_nothing(index_elements=keys), rows)


@dataclass
class PersonaOutcome:
    people: int  # reference people asked about
    new: int  # personas written by this run
    summary: RunSummary


def persona_requests(
    target: DatabaseTarget,
    model: str,
    population: str,
    reference: Reference,
    max_people: int | None = None,
    personas_per_person: int = 1,
) -> list[ChatRequest]:
    """One request per persona still missing (reference person x persona number)."""
    with experiment_transaction(target) as connection:
        existing = set(
            connection.execute(
                select(Persona.ref_personality_id, Persona.persona_number).where(
                    Persona.model == model, Persona.ref_population == population
                )
            ).all()
        )
    questionnaires = all_questionnaires()
    by_person = {pid: group for (pid,), group in reference.answers.group_by("personality_id")}
    return [
        ChatRequest(
            model=model,
            purpose="persona",
            response_model=PersonaReply,
            repetition=number,
            messages=(("user", persona_prompt(by_person[pid], questionnaires)),),
            hints={"traits": reference.traits.get(pid, {})},
            tag=(pid, number),
        )
        for pid in reference.people(max_people)
        for number in range(personas_per_person)
        if (pid, number) not in existing
    ]


def generate_personas(
    engine: CallEngine,
    target: DatabaseTarget,
    model: str,
    population: str,
    max_people: int | None = None,
    personas_per_person: int = 1,
) -> PersonaOutcome:
    reference = Reference.load(target, population)
    requests = persona_requests(target, model, population, reference, max_people, personas_per_person)
    tag = population_tag(model, population)

    def persist(connection, results: list[CallResult]) -> None:
        rows = []
        for result in results:
            if not result.ok:
                continue  # no persona: it stays missing and is asked again next run
            reply: PersonaReply = result.parsed
            pid, number = result.request.tag
            raw = reply.model_dump()
            rows.append(
                {
                    **{c: raw[c] for c in PERSONA_COLUMNS},
                    "ref_personality_id": pid,
                    "ref_population": population,
                    "population": tag,
                    "model": model,
                    "persona_number": number,
                    "simulated": result.simulated,
                    "gender": clean_gender(reply.gender),
                    "gender_original": reply.gender,
                    "sexual_orientation": clean_sexual_orientation(reply.sexual_orientation),
                    "sexual_orientation_original": reply.sexual_orientation,
                    "race": clean_race(reply.race),
                    "race_original": reply.race,
                }
            )
        _insert_ignoring_duplicates(
            connection, Persona.__table__, rows, ["model", "ref_population", "ref_personality_id", "persona_number"]
        )

    summary = engine.run(requests, persist=persist)
    return PersonaOutcome(people=len(reference.people(max_people)), new=summary.ok, summary=summary)


def read_personas(target: DatabaseTarget, model: str, population: str) -> pl.DataFrame:
    table = Persona.__table__
    with experiment_transaction(target) as connection:
        return pl.read_database(
            select(table).where(table.c.model == model, table.c.ref_population == population).order_by(table.c.id),
            connection,
            infer_schema_length=None,
        )
