"""The persona study, one (model, population) partition at a time:
personas -> registrations -> answers -> scores. Each step only does what is still missing, so
re-running is safe and a killed run resumes where it stopped.

Population tags follow the original study: personas of model M made from population P belong to
population ``generated_M_P`` and keep ``ref_personality_id`` (and ``ref_population``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
from sqlalchemy import bindparam, delete, func, insert, select, update

from personality_assets.db.engine import DatabaseTarget, experiment_transaction, upsert_insert
from personality_assets.db.models import (
    EvalQuestionnaire,
    ExperimentRequestMetadata,
    ExperimentsGroup,
    ExperimentsList,
    Persona,
    QuestionnaireScore,
    ReferenceQuestionnaire,
)
from personality_assets.defs.persona_study.prompts import (
    DEFAULT_SYSTEM_ROLE,
    system_prompt,
    answers_model,
    persona_prompt,
    questionnaire_prompt,
)
from personality_assets.llm.config import ModelsConfig
from personality_assets.llm.engine import CallEngine, CallResult, RunSummary
from personality_assets.llm.schemas import PersonaReply
from personality_assets.llm.types import ChatRequest
from personality_assets.defs.persona_study.demographics import clean_gender, clean_race, clean_sexual_orientation
from personality_assets.questionnaires import Questionnaire, all_questionnaires, get_questionnaire, score

PERSONA_COLUMNS = ["name", "age", "gender", "sexual_orientation", "race", "ethnicity", "religious_belief",
                   "occupation", "political_orientation", "location", "description"]


def population_tag(model: str, population: str) -> str:
    return f"generated_{model}_{population}"


def repo_sha() -> str | None:
    """The code version that made a registration (None outside a git checkout)."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip() or None  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None


# The packages whose versions can change what a study produces (request shapes, parsing, scoring).
RESULT_SHAPING_PACKAGES = ("openai", "boto3", "dagster", "polars")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape results, recorded with each experiment group."""
    versions = {}
    for package in RESULT_SHAPING_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def reference_answers(target: DatabaseTarget, population: str) -> pl.DataFrame:
    table = ReferenceQuestionnaire.__table__
    with experiment_transaction(target) as connection:
        frame = pl.read_database(
            select(table.c.personality_id, table.c.questionnaire, table.c.question_number, table.c.answer)
            .where(table.c.population == population),
            connection,
            schema_overrides={"personality_id": pl.Int64, "question_number": pl.Int64, "answer": pl.Int64},
        )
    if frame.is_empty():
        raise ValueError(f"reference population {population!r} is not loaded: materialise reference_questionnaires "
                         f"for it first")
    return frame


def reference_scores(answers: pl.DataFrame) -> pl.DataFrame:
    """personality_id, questionnaire, scale, score for every reference person."""
    frames = [
        score(group, get_questionnaire(name), by=["personality_id"]).with_columns(pl.lit(name).alias("questionnaire"))
        for (name,), group in answers.group_by("questionnaire")
    ]
    return pl.concat(frames).select("personality_id", "questionnaire", "scale", "score")


# Rough z-scores of a scale score, keyed by the trait and questionnaire scale it informs (the
# simulator's hint; real models never see it). EPQR-A E and N stand in for Big Five EXT and EST
# when a population answered only EPQR-A.
TRAIT_FROM_SCALE = {
    ("bigfive", "EXT"): ("EXT", lambda s: (s - 3.0) / 0.8), ("bigfive", "EST"): ("EST", lambda s: (s - 3.0) / 0.8),
    ("bigfive", "AGR"): ("AGR", lambda s: (s - 3.0) / 0.8), ("bigfive", "CSN"): ("CSN", lambda s: (s - 3.0) / 0.8),
    ("bigfive", "OPN"): ("OPN", lambda s: (s - 3.0) / 0.8),
    ("epqr_a", "E"): ("E", lambda s: (s - 3.0) / 1.8), ("epqr_a", "N"): ("N", lambda s: (s - 3.0) / 1.8),
    ("epqr_a", "P"): ("P", lambda s: (s - 3.0) / 1.8), ("epqr_a", "L"): ("L", lambda s: (s - 3.0) / 1.8),
}  # fmt: skip
STAND_INS = {"EXT": ("E", 1), "EST": ("N", -1), "E": ("EXT", 1), "N": ("EST", -1)}


def _traits(scores: pl.DataFrame) -> dict[int, dict[str, float]]:
    traits: dict[int, dict[str, float]] = {}
    for row in scores.iter_rows(named=True):
        known = TRAIT_FROM_SCALE.get((row["questionnaire"], row["scale"]))
        if known:
            trait, z = known
            traits.setdefault(row["personality_id"], {})[trait] = round(z(row["score"]), 3)
    for person in traits.values():
        for trait, (other, sign) in STAND_INS.items():
            if trait not in person and other in person:
                person[trait] = sign * person[other]
    return traits


def _insert_ignoring_duplicates(connection, table, rows: list[dict], keys: list[str]) -> None:
    if rows:
        connection.execute(upsert_insert(connection, table).on_conflict_do_nothing(index_elements=keys), rows)


# --- personas ------------------------------------------------------------------------------------


@dataclass
class PersonaOutcome:
    people: int
    new: int
    total: int
    summary: RunSummary


@dataclass(frozen=True)
class Reference:
    """A reference population's answers and the simulator's trait hints, read and scored once."""

    answers: pl.DataFrame
    traits: dict[int, dict[str, float]]

    @classmethod
    def load(cls, target: DatabaseTarget, population: str) -> Reference:
        answers = reference_answers(target, population)
        return cls(answers, _traits(reference_scores(answers)))

    def people(self, max_people: int | None = None) -> list[int]:
        """Reference people by id, the first ``max_people`` when given."""
        return sorted(self.answers["personality_id"].unique().to_list())[: max_people or None]


def persona_requests(target: DatabaseTarget, model: str, population: str, reference: Reference,
                     max_people: int | None = None, personas_per_person: int = 1) -> list[ChatRequest]:  # fmt: skip
    """One request per persona still missing (reference person x persona number)."""
    with experiment_transaction(target) as connection:
        existing = set(connection.execute(
            select(Persona.ref_personality_id, Persona.persona_number)
            .where(Persona.model == model, Persona.ref_population == population)).all())  # fmt: skip
    questionnaires = all_questionnaires()
    by_person = {pid: group for (pid,), group in reference.answers.group_by("personality_id")}
    return [
        ChatRequest(
            model=model, purpose="persona", response_model=PersonaReply, repetition=number,
            messages=(("user", persona_prompt(by_person[pid], questionnaires)),),
            hints={"traits": reference.traits.get(pid, {})}, tag=(pid, number),
        )
        for pid in reference.people(max_people) for number in range(personas_per_person)
        if (pid, number) not in existing
    ]  # fmt: skip


def generate_personas(engine: CallEngine, target: DatabaseTarget, model: str, population: str,
                      max_people: int | None = None, personas_per_person: int = 1) -> PersonaOutcome:  # fmt: skip
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
            rows.append({
                **{c: raw[c] for c in PERSONA_COLUMNS}, "ref_personality_id": pid, "ref_population": population,
                "population": tag, "model": model, "persona_number": number, "simulated": result.simulated,
                "gender": clean_gender(reply.gender), "gender_original": reply.gender,
                "sexual_orientation": clean_sexual_orientation(reply.sexual_orientation),
                "sexual_orientation_original": reply.sexual_orientation,
                "race": clean_race(reply.race), "race_original": reply.race,
            })  # fmt: skip
        _insert_ignoring_duplicates(connection, Persona.__table__, rows,
                                    ["model", "ref_population", "ref_personality_id", "persona_number"])

    summary = engine.run(requests, persist=persist)
    with experiment_transaction(target) as connection:
        total = connection.execute(select(func.count()).where(Persona.model == model,
                                                              Persona.ref_population == population)).scalar_one()
    return PersonaOutcome(people=len(reference.people(max_people)), new=summary.ok, total=total, summary=summary)


def read_personas(target: DatabaseTarget, model: str, population: str) -> pl.DataFrame:
    table = Persona.__table__
    with experiment_transaction(target) as connection:
        return pl.read_database(
            select(table).where(table.c.model == model, table.c.ref_population == population).order_by(table.c.id),
            connection, infer_schema_length=None,
        )  # fmt: skip


# --- registrations -------------------------------------------------------------------------------


@dataclass
class RegistrationConfig:
    questionnaires: list[str]
    repetitions: int = 1
    description: str = ""
    system_role: str = DEFAULT_SYSTEM_ROLE


def register_experiments(target: DatabaseTarget, models: ModelsConfig, model: str, population: str,
                         config: RegistrationConfig) -> pl.DataFrame:  # fmt: skip
    """One experiments_groups row per questionnaire and configuration; one experiments_list row
    per persona and repetition not yet registered. Returns counts per questionnaire."""
    model_config = models.get(model)
    personas = read_personas(target, model, population)
    sha = repo_sha()
    rows = []
    for name in config.questionnaires:
        questionnaire = get_questionnaire(name)
        base_prompt = questionnaire_prompt(questionnaire)
        description = config.description or f"{name} answered by {model} personas of {population}"
        settings = {"model": model, "population": population, "questionnaire": name, "system_role": config.system_role,
                    "description": description,
                    "base_prompt": base_prompt, "temperature": model_config.temperature, "top_p": model_config.top_p,
                    "provider_model_id": model_config.model_id}  # fmt: skip
        config_hash = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
        with experiment_transaction(target) as connection:
            group_id = connection.execute(select(ExperimentsGroup.experiments_group_id)
                                          .where(ExperimentsGroup.config_hash == config_hash)).scalar()  # fmt: skip
            if group_id is None:
                group_id = connection.execute(
                    insert(ExperimentsGroup).values(
                        description=description,
                        system_role=config.system_role, base_prompt=base_prompt, temperature=model_config.temperature,
                        top_p=model_config.top_p, config_hash=config_hash, model=model, population=population,
                        questionnaire=name, package_versions=package_versions(),
                    ).returning(ExperimentsGroup.experiments_group_id)
                ).scalar_one()  # fmt: skip
            existing = set(connection.execute(
                select(ExperimentsList.personality_id, ExperimentsList.repeated)
                .where(ExperimentsList.experiments_group_id == group_id)).all())  # fmt: skip
            new = [
                {"experiments_group_id": group_id, "questionnaire": name, "model_provider": model_config.provider,
                 "model": model, "population": population_tag(model, population), "personality_id": persona_id,
                 "repeated": repetition, "repo_sha": sha, "language_instructions": "en", "language_questionnaire": "en"}
                for persona_id in personas["id"].to_list() for repetition in range(config.repetitions)
                if (persona_id, repetition) not in existing
            ]  # fmt: skip
            if new:
                connection.execute(insert(ExperimentsList), new)
                connection.execute(update(ExperimentsGroup).where(ExperimentsGroup.experiments_group_id == group_id)
                                   .values(concluded=False))  # fmt: skip
        rows.append({"questionnaire": name, "group": group_id, "new": len(new), "registered": len(existing) + len(new)})
    return pl.DataFrame(rows, schema={"questionnaire": pl.String, "group": pl.Int64, "new": pl.Int64,
                                      "registered": pl.Int64})


# --- answers -------------------------------------------------------------------------------------


def pending_experiments(target: DatabaseTarget, model: str, population: str, limit: int | None = None) -> pl.DataFrame:
    experiments, groups, personas = ExperimentsList.__table__, ExperimentsGroup.__table__, Persona.__table__
    query = (
        select(experiments.c.experiment_id, experiments.c.questionnaire, experiments.c.repeated,
               groups.c.system_role, groups.c.base_prompt, groups.c.temperature, groups.c.top_p,
               personas.c.description, personas.c.ref_personality_id)
        .join(groups, groups.c.experiments_group_id == experiments.c.experiments_group_id)
        .join(personas, personas.c.id == experiments.c.personality_id)
        .where(groups.c.model == model, groups.c.population == population, experiments.c.succeeded.is_(None))
        .order_by(experiments.c.experiment_id)
        .limit(limit)
    )  # fmt: skip
    with experiment_transaction(target) as connection:
        return pl.read_database(query, connection, infer_schema_length=None)


def _answer_hints(questionnaire: Questionnaire, reference: pl.DataFrame, traits: dict) -> dict[int, dict]:
    """Per reference person: what the simulator needs to answer like them (real models never see it)."""
    items = [{"number": n, "scale": s, "key": k} for n, s, k in
             questionnaire.items.select("number", "scale", "key").iter_rows()]  # fmt: skip
    own = reference.filter(pl.col("questionnaire") == questionnaire.name)
    profiles = {pid: dict(zip(g["question_number"], g["answer"], strict=True))
                for (pid,), g in own.group_by("personality_id")}  # fmt: skip
    people = set(reference["personality_id"].unique()) | set(traits)
    return {pid: {"items": items, "min": questionnaire.min_answer, "max": questionnaire.max_answer,
                  "profile": profiles.get(pid, {}), "traits": traits.get(pid, {})} for pid in people}  # fmt: skip


def answer_requests(target: DatabaseTarget, model: str, population: str, reference: Reference,
                    limit: int | None = None) -> list[ChatRequest]:  # fmt: skip
    """One request per pending experiment of this partition."""
    pending = pending_experiments(target, model, population, limit)
    requests = []
    for (name,), group in pending.group_by("questionnaire", maintain_order=True):
        questionnaire = get_questionnaire(name)
        reply_model = answers_model(questionnaire)
        hints = _answer_hints(questionnaire, reference.answers, reference.traits)
        for row in group.iter_rows(named=True):
            # The experiment runs with its group's recorded prompt and sampling, whatever the
            # configuration says today (a changed configuration registers a new group).
            requests.append(ChatRequest(
                model=model, purpose="questionnaire", response_model=reply_model, repetition=row["repeated"],
                messages=(("system", system_prompt(row["system_role"], row["description"])),
                          ("user", row["base_prompt"])),
                temperature=row["temperature"], top_p=row["top_p"],
                hints=hints[row["ref_personality_id"]], tag=(row["experiment_id"], name),
            ))  # fmt: skip
    return requests


def answer_questionnaires(engine: CallEngine, target: DatabaseTarget, model: str, population: str,
                          limit: int | None = None) -> RunSummary:  # fmt: skip
    """Run the pending experiments of this partition. Each result is written in the writer's
    transaction: answers + request metadata + the success flag, or the failure reason."""
    requests = answer_requests(target, model, population, Reference.load(target, population), limit)
    summary = engine.run(requests, persist=_persist_answers)
    _conclude_groups(target, model, population)
    return summary


def _persist_answers(connection, results: list[CallResult]) -> None:
    now = datetime.now(timezone.utc)
    metadata_rows, answers, succeeded, failed = [], [], [], []
    for result in results:
        experiment_id, questionnaire = result.request.tag
        metadata_rows.append({
            "experiment_id": experiment_id, "request_json": result.raw_request, "response_json": result.raw_response,
            "request_metadata": {"status": result.status, "attempts": result.attempts, "cached": result.cached,
                                 "input_tokens": result.input_tokens, "output_tokens": result.output_tokens,
                                 "latency_s": round(result.latency_s, 4), "cost_usd": result.cost_usd,
                                 "simulated": result.simulated, "model": result.model.key,
                                 "provider_model_id": result.model.model_id, "error": result.error},
        })  # fmt: skip
        if result.ok:
            succeeded.append(experiment_id)
            answers += [{"experiment_id": experiment_id, "questionnaire": questionnaire, "question_number": number,
                         "answer": answer} for number, answer in sorted(result.parsed.answers.items())]  # fmt: skip
        else:
            failed.append({"id": experiment_id, "reason": result.error})
    connection.execute(insert(ExperimentRequestMetadata), metadata_rows)
    if succeeded:
        # Re-processing replaces an experiment's answers; its request-metadata history stays.
        connection.execute(delete(EvalQuestionnaire).where(EvalQuestionnaire.experiment_id.in_(succeeded)))
        connection.execute(insert(EvalQuestionnaire), answers)
        connection.execute(update(ExperimentsList).where(ExperimentsList.experiment_id.in_(succeeded))
                           .values(succeeded=True, llm_explanation=None, updated=now))  # fmt: skip
    if failed:
        table = ExperimentsList.__table__
        connection.execute(
            update(table).where(table.c.experiment_id == bindparam("id"))
            .values(llm_explanation=bindparam("reason"), updated=now),
            failed,
        )  # fmt: skip


def _conclude_groups(target: DatabaseTarget, model: str, population: str) -> None:
    experiments = ExperimentsList.__table__
    with experiment_transaction(target) as connection:
        pending_groups = select(experiments.c.experiments_group_id).where(experiments.c.succeeded.is_(None))
        connection.execute(
            update(ExperimentsGroup)
            .where(ExperimentsGroup.model == model, ExperimentsGroup.population == population,
                   ExperimentsGroup.experiments_group_id.not_in(pending_groups))
            .values(concluded=True)
        )  # fmt: skip


def answer_status(target: DatabaseTarget, model: str, population: str) -> pl.DataFrame:
    """Per questionnaire: experiments registered, succeeded, pending, and the failure reasons."""
    experiments, groups = ExperimentsList.__table__, ExperimentsGroup.__table__
    with experiment_transaction(target) as connection:
        return pl.read_database(
            select(experiments.c.experiment_id, experiments.c.questionnaire, experiments.c.succeeded,
                   experiments.c.llm_explanation)
            .join(groups, groups.c.experiments_group_id == experiments.c.experiments_group_id)
            .where(groups.c.model == model, groups.c.population == population),
            connection, infer_schema_length=None,
        ).cast({"experiment_id": pl.Int64, "questionnaire": pl.String, "succeeded": pl.Boolean,
                "llm_explanation": pl.String})  # typed even when empty  # fmt: skip


def partition_answers(target: DatabaseTarget, model: str, population: str) -> pl.DataFrame:
    """Answers of the partition's succeeded experiments, with the persona and reference person."""
    answers, experiments, groups, personas = (EvalQuestionnaire.__table__, ExperimentsList.__table__,
                                              ExperimentsGroup.__table__, Persona.__table__)  # fmt: skip
    query = (
        select(answers.c.experiment_id, experiments.c.experiments_group_id, answers.c.questionnaire,
               answers.c.question_number, answers.c.answer, experiments.c.personality_id.label("persona_id"),
               personas.c.ref_personality_id)
        .join(experiments, experiments.c.experiment_id == answers.c.experiment_id)
        .join(groups, groups.c.experiments_group_id == experiments.c.experiments_group_id)
        .join(personas, personas.c.id == experiments.c.personality_id)
        .where(groups.c.model == model, groups.c.population == population, experiments.c.succeeded.is_(True))
    )  # fmt: skip
    with experiment_transaction(target) as connection:
        return pl.read_database(query, connection, schema_overrides={
            "experiment_id": pl.Int64, "experiments_group_id": pl.Int64, "question_number": pl.Int64,
            "answer": pl.Int64, "persona_id": pl.Int64, "ref_personality_id": pl.Int64,
        }).cast({"questionnaire": pl.String})  # fmt: skip


# --- scores --------------------------------------------------------------------------------------


def score_partition(answers: pl.DataFrame, reference: pl.DataFrame) -> pl.DataFrame:
    """Scale scores per experiment, with the reference person's score and the difference (and
    the experiment's group, when the answers carry it)."""
    keys = [c for c in ("experiment_id", "experiments_group_id", "persona_id", "ref_personality_id") if c in answers.columns]
    columns = [*keys[:2], "questionnaire", "scale", *keys[2:], "score", "reference_score", "difference"]
    if answers.is_empty():
        return pl.DataFrame(schema={c: (pl.String if c in ("questionnaire", "scale") else
                                        pl.Float64 if c in ("score", "reference_score", "difference") else pl.Int64)
                                    for c in columns})  # fmt: skip
    frames = []
    for (name,), group in answers.group_by("questionnaire"):
        scored = score(group, get_questionnaire(name), by=keys)
        frames.append(scored.with_columns(pl.lit(name).alias("questionnaire")))
    scores = pl.concat(frames)
    ref = reference_scores(reference).rename({"personality_id": "ref_personality_id", "score": "reference_score"})
    return (
        scores.join(ref, on=["ref_personality_id", "questionnaire", "scale"], how="left")
        .with_columns((pl.col("score") - pl.col("reference_score")).alias("difference"))
        .select(columns)
        .sort("experiment_id", "scale")
    )


def store_scores(target: DatabaseTarget, model: str, population: str, scores: pl.DataFrame) -> None:
    table = QuestionnaireScore.__table__
    rows = scores.with_columns(pl.lit(model).alias("model"), pl.lit(population).alias("population")).to_dicts()
    with experiment_transaction(target) as connection:
        connection.execute(delete(table).where(table.c.model == model, table.c.population == population))
        if rows:
            connection.execute(insert(table), rows)


def score_summary(scores: pl.DataFrame) -> pl.DataFrame:
    """Per configuration (experiment group), questionnaire and scale: persona vs reference means,
    mean |difference|, correlation."""
    by = [c for c in ("experiments_group_id", "questionnaire", "scale") if c in scores.columns]
    return (
        scores.group_by(by)
        .agg(pl.len().alias("experiments"), pl.col("score").mean().round(3).alias("persona_mean"),
             pl.col("score").std().round(3).alias("persona_sd"),
             pl.col("reference_score").mean().round(3).alias("reference_mean"),
             pl.col("difference").abs().mean().round(3).alias("mean_abs_difference"),
             pl.corr("score", "reference_score").round(3).alias("r_with_reference"))
        .sort(by)
    )  # fmt: skip


# --- estimate ------------------------------------------------------------------------------------

TYPICAL_DESCRIPTION = "x" * 900  # a persona description is a paragraph: ~900 characters, ~225 tokens


def estimate_study(engine: CallEngine, target: DatabaseTarget, model: str, population: str, *,
                   max_people: int | None = None, personas_per_person: int = 1,
                   questionnaires: list[str] | None = None, repetitions: int = 1) -> pl.DataFrame:  # fmt: skip
    """Calls, tokens and cost a partition's study will take from where it stands, without calling
    anything: missing personas exactly; answers for pending experiments exactly, plus those that
    registration will add (personas x repetitions x questionnaires) from a typical request."""
    names = questionnaires or [name for name, q in all_questionnaires().items() if q.has_texts]
    reference = Reference.load(target, population)
    persona_estimate = engine.estimate(persona_requests(target, model, population, reference, max_people,
                                                        personas_per_person))  # fmt: skip
    pending_estimate = engine.estimate(answer_requests(target, model, population, reference))
    people = len(reference.people(max_people))
    with experiment_transaction(target) as connection:
        registered = dict(connection.execute(
            select(ExperimentsGroup.questionnaire, func.count())
            .join(ExperimentsList, ExperimentsList.experiments_group_id == ExperimentsGroup.experiments_group_id)
            .where(ExperimentsGroup.model == model, ExperimentsGroup.population == population)
            .group_by(ExperimentsGroup.questionnaire)).all())  # fmt: skip
    future = []
    for name in names:
        missing = max(people * personas_per_person * repetitions - registered.get(name, 0), 0)
        questionnaire = get_questionnaire(name)
        future += [ChatRequest(model=model, purpose="questionnaire", repetition=i, messages=(
            ("system", system_prompt(DEFAULT_SYSTEM_ROLE, TYPICAL_DESCRIPTION)),
            ("user", questionnaire_prompt(questionnaire)))) for i in range(missing)]  # fmt: skip
    future_estimate = engine.estimate(future)
    frames = [frame.with_columns(pl.lit(step).alias("step")) for step, frame in
              (("personas", persona_estimate), ("answers: pending", pending_estimate),
               ("answers: to be registered", future_estimate)) if frame.height]  # fmt: skip
    if not frames:
        return pl.DataFrame(schema={"step": pl.String, "calls": pl.Int64, "cost_usd": pl.Float64})
    return pl.concat(frames, how="diagonal").select("step", "model", "calls", "cached", "input_tokens",
                                                     "output_tokens", "cost_usd")  # fmt: skip
