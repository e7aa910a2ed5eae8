"""The essay track's model work, without Dagster: a topic's research seed, its plan with a persona
cast for every essay (reused where one fits, written new where none does), and the essays.

Every call goes through the call engine (accounted, cached, rate limited) and every result is
stored in the writer's transaction as it arrives: a killed run keeps what was written, and a re-run
asks only for what is missing (no seed, no persona for the plan's shortfall, essays still pending).
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, func, insert, select, update

from personality_assets.db.engine import DatabaseTarget, experiment_transaction
from personality_assets.db.tables.essays import (
    Essay,
    EssayPersona,
    EssayPrompt,
    EssayTopic,
    GenerationRun,
    PersonaUsage,
    ResearchSeed,
)
from personality_assets.defs.essays import prompts, simulate  # noqa: F401 - simulate registers purposes
from personality_assets.defs.essays.dimensions import DIMENSION_COLUMNS, DIMENSION_TABLES, active_levels
from personality_assets.defs.essays.plan import plan_cells
from personality_assets.defs.essays.replies import EssayPersonaReply, ResearchReply
from personality_assets.defs.essays.repository import (
    NewPersona,
    add_persona,
    compatibility,
    compatible_personas,
    keywords,
)
from personality_assets.errors import NoRetryError
from personality_assets.llm.engine import CallEngine, RunInterrupted
from personality_assets.llm.types import CallResult, ChatRequest, RunSummary


class EssayTrackError(NoRetryError):
    """Something only the user can fix (a missing upstream step, no dimensions): the message says what."""


def ensure_topic(target: DatabaseTarget, topic: str) -> int:
    """The topic's id, stored with its keywords on first use."""
    table = EssayTopic.__table__
    with experiment_transaction(target) as connection:
        found = connection.execute(select(table.c.id).where(table.c.topic == topic)).scalar()
        if found is not None:
            return found
        return connection.execute(
            insert(table).values(topic=topic, keywords=keywords(topic)).returning(table.c.id)
        ).scalar_one()


def topic_row(connection: Connection, topic: str) -> dict:
    table = EssayTopic.__table__
    row = connection.execute(select(table).where(table.c.topic == topic)).mappings().first()
    if row is None:
        raise EssayTrackError(f"topic {topic!r} has no research seed yet: materialise research_seeds for it first")
    return dict(row)


# --- research seeds ---------------------------------------------------------------------------------


@dataclass
class SeedOutcome:
    seed_id: int | None
    created: bool
    summary: RunSummary


def research_seed(engine: CallEngine, target: DatabaseTarget, topic: str, model: str, angles: int) -> SeedOutcome:
    """The topic's research seed by ``model``: asked for once, kept (a re-run calls nothing)."""
    topic_id = ensure_topic(target, topic)
    seeds = ResearchSeed.__table__
    with experiment_transaction(target) as connection:
        existing = connection.execute(
            select(seeds.c.id).where(seeds.c.topic_id == topic_id, seeds.c.model == model)
        ).scalar()
    if existing is not None:
        return SeedOutcome(existing, False, RunSummary())
    request = ChatRequest(
        model=model,
        purpose="research",
        response_model=ResearchReply,
        messages=(("system", prompts.RESEARCH_SYSTEM), ("user", prompts.research_prompt(topic, angles))),
        hints={"topic": topic, "angles": angles},
    )

    def persist(connection: Connection, results: list[CallResult]) -> None:
        for result in results:
            if result.ok:
                content = result.parsed.model_dump()
                connection.execute(
                    insert(seeds).values(
                        topic_id=topic_id,
                        model=model,
                        content={**content, "simulated": result.simulated},
                        angles=len(content["angles"]),
                        sources=sum(len(angle["sources"]) for angle in content["angles"]),
                        simulated=result.simulated,
                    )
                )

    summary = engine.run([request], persist=persist)
    with experiment_transaction(target) as connection:
        seed_id = connection.execute(
            select(seeds.c.id).where(seeds.c.topic_id == topic_id, seeds.c.model == model)
        ).scalar()
    return SeedOutcome(seed_id, seed_id is not None, summary)


# --- the plan and its personas ----------------------------------------------------------------------


@dataclass
class PlanSettings:
    essays: int | None = None  # None: the whole grid
    seed: int | None = None  # None: derived from the topic
    persona_model: str = "simulated"
    research_model: str = "simulated"
    min_compatibility: float = 0.3
    max_uses: int = 10


@dataclass
class CastOutcome:
    planned: int = 0  # cells added to the plan by this run
    already_planned: int = 0  # the topic's essays stored before this run (a plan never shrinks)
    resumed: int = 0  # of the planned: personas an interrupted earlier run wrote for this topic
    reused: int = 0  # of the planned: personas of the repository (written for other topics)
    new_personas: int = 0
    unfilled: int = 0  # cells left without a persona (failed persona calls): the next run tries again
    selection_s: float = 0.0  # time in the repository's compatibility queries
    summary: RunSummary = field(default_factory=RunSummary)


def cast_essays(engine: CallEngine, target: DatabaseTarget, topic: str, settings: PlanSettings) -> CastOutcome:
    """Plans the topic's essays (settings.essays cells of the balanced grid order) and casts a
    persona for each new cell: compatible stored personas first (not used for this topic, under the
    use cap, best score first), then new personas written by the persona model for the shortfall.
    Each essay row (pending), its prompts and its persona_usage row are written in one transaction."""
    outcome = CastOutcome()
    seeds = ResearchSeed.__table__
    with experiment_transaction(target) as connection:
        topic_info = topic_row(connection, topic)
        seed = connection.execute(
            select(seeds.c.id, seeds.c.content).where(
                seeds.c.topic_id == topic_info["id"], seeds.c.model == settings.research_model
            )
        ).first()
        if seed is None:
            raise EssayTrackError(
                f"topic {topic!r} has no research seed by {settings.research_model!r}: materialise research_seeds first"
            )
        levels = active_levels(connection)
        if any(not levels[name] for name in DIMENSION_TABLES):
            raise EssayTrackError("the essay dimensions are not in the database: materialise essay_dimensions first")
        missing = _unplanned_cells(connection, topic_info["id"], levels, settings, plan_seed(settings, topic))
        essays = Essay.__table__
        outcome.already_planned = connection.execute(
            select(func.count()).where(essays.c.topic_id == topic_info["id"])
        ).scalar_one()
    if not missing:
        return outcome

    started = time.perf_counter()
    with experiment_transaction(target) as connection:
        # Personas an interrupted earlier run wrote for this topic but never cast: paid for, so first.
        cast = _uncast_personas_of(connection, topic_info["id"], len(missing))
        reusable = compatible_personas(
            connection,
            topic_info["keywords"],
            topic_info["id"],
            settings.min_compatibility,
            settings.max_uses,
            limit=len(missing),
        )
    outcome.selection_s += time.perf_counter() - started
    outcome.resumed = len(cast)
    reused = [c.persona_id for c in reusable if c.persona_id not in cast][: len(missing) - len(cast)]
    outcome.reused = len(reused)
    cast += reused
    shortfall = len(missing) - len(cast)
    if shortfall:
        new_ids, outcome.summary = _new_personas(engine, target, topic, topic_info, settings.persona_model, shortfall)
        outcome.new_personas = len(new_ids)
        cast += [persona_id for persona_id in new_ids if persona_id not in cast]

    with experiment_transaction(target) as connection:
        personas = _persona_details(connection, cast)
        for cell, persona_id in zip(missing, cast, strict=False):
            persona = personas[persona_id]
            # Recorded with the use: the same formula the repository's query computes.
            score = compatibility(topic_info["keywords"], persona["background"], persona["interests"])
            _plan_essay(connection, topic, topic_info["id"], seed, levels, cell, persona, score)
            outcome.planned += 1
    outcome.unfilled = len(missing) - outcome.planned
    return outcome


def _uncast_personas_of(connection: Connection, topic_id: int, limit: int) -> list[int]:
    personas, usage = EssayPersona.__table__, PersonaUsage.__table__
    used_here = select(usage.c.persona_id).where(usage.c.topic_id == topic_id)
    query = (
        select(personas.c.id)
        .where(personas.c.created_for_topic_id == topic_id, personas.c.id.not_in(used_here))
        .order_by(personas.c.id)
        .limit(limit)
    )
    return list(connection.execute(query).scalars())


def _unplanned_cells(connection: Connection, topic_id: int, levels, settings: PlanSettings, seed: int) -> list:
    sizes = [len(levels[name]) for name in DIMENSION_TABLES]
    cells = plan_cells(sizes, settings.essays, seed)
    essays = Essay.__table__
    columns = [essays.c[DIMENSION_COLUMNS[name]] for name in DIMENSION_TABLES]
    planned = {
        (tuple(row[:-1]), row[-1])
        for row in connection.execute(select(*columns, essays.c.replicate).where(essays.c.topic_id == topic_id))
    }
    missing = []
    for cell in cells:
        ids = tuple(levels[name][index].id for name, index in zip(DIMENSION_TABLES, cell.levels, strict=True))
        if (ids, cell.replicate) not in planned:
            missing.append(cell)
    return missing


def plan_seed(settings: PlanSettings, topic: str) -> int:
    """The configured seed, else one from the topic's text: the same plan in any database."""
    return settings.seed if settings.seed is not None else zlib.crc32(topic.encode())


def _new_personas(
    engine: CallEngine, target: DatabaseTarget, topic: str, topic_info: dict, model: str, count: int
) -> tuple[list[int], RunSummary]:
    """``count`` new personas for the topic, as variations (student numbers) not asked before.

    A variation whose request is stored as a persona is skipped, wherever it sits: a failed call
    leaves a gap in the numbering, and asking a stored variation again would return the same persona."""
    personas, usage = EssayPersona.__table__, PersonaUsage.__table__
    topic_id = topic_info["id"]
    with experiment_transaction(target) as connection:
        stored_keys = set(
            connection.execute(
                select(personas.c.request_key).where(personas.c.created_for_topic_id == topic_id)
            ).scalars()
        )
    requests: list[ChatRequest] = []
    variation = 0
    while len(requests) < count:
        request = _persona_request(topic, topic_info["keywords"], model, variation)
        if request.cache_key(engine.models.get(model)) not in stored_keys:
            requests.append(request)
        variation += 1
    new_ids: list[int] = []

    def persist(connection: Connection, results: list[CallResult]) -> None:
        for result in results:
            if not result.ok:
                continue
            known = connection.execute(select(personas.c.id).where(personas.c.request_key == result.cache_key)).scalar()
            if known is not None:  # stored meanwhile by a concurrent run: new here only if not cast for the topic
                cast_here = connection.execute(
                    select(usage.c.id).where(usage.c.persona_id == known, usage.c.topic_id == topic_id)
                ).first()
                if cast_here is None:
                    new_ids.append(known)
                continue
            reply = result.parsed
            persona = NewPersona(reply.name, reply.background, reply.strengths, reply.weaknesses, reply.interests)
            new_ids.append(add_persona(connection, persona, model, result.cache_key, result.simulated, topic_id))

    summary = engine.run(requests, persist=persist)
    return new_ids, summary


def _persona_request(topic: str, topic_keywords: list[str], model: str, variation: int) -> ChatRequest:
    return ChatRequest(
        model=model,
        purpose="essay_persona",
        response_model=EssayPersonaReply,
        repetition=variation,
        messages=(("system", prompts.PERSONA_SYSTEM), ("user", prompts.persona_prompt(topic, variation))),
        hints={
            "topic_keywords": topic_keywords,
            "archetype": prompts.BACKGROUND_ARCHETYPES[variation % len(prompts.BACKGROUND_ARCHETYPES)],
        },
    )


def _persona_details(connection: Connection, ids: Sequence[int]) -> dict[int, dict]:
    table = EssayPersona.__table__
    details = {}
    for start in range(0, len(ids), 500):
        rows = connection.execute(select(table).where(table.c.id.in_(ids[start : start + 500]))).mappings()
        details.update({row["id"]: dict(row) for row in rows})
    return details


def _prompt_id(connection: Connection, kind: str, text: str) -> tuple[int, str]:
    table = EssayPrompt.__table__
    digest = prompts.sha256(text)
    found = connection.execute(select(table.c.id).where(table.c.sha256 == digest)).scalar()
    if found is None:
        found = connection.execute(
            insert(table).values(sha256=digest, kind=kind, text=text).returning(table.c.id)
        ).scalar_one()
    return found, digest


def _plan_essay(connection, topic, topic_id, seed, levels, cell, persona, score: float) -> None:
    chosen = {name: levels[name][index] for name, index in zip(DIMENSION_TABLES, cell.levels, strict=True)}
    base = prompts.base_prompt(topic, chosen["stances"])
    notes = prompts.research_notes(seed.content, random.Random(cell.position * 1_000_003 + topic_id))
    modulated = prompts.modulated_prompt(
        base, persona, chosen["evidence_patterns"], chosen["style_parameters"], chosen["quality_levels"], notes
    )
    base_id, _ = _prompt_id(connection, "base", base)
    prompt_id, digest = _prompt_id(connection, "modulated", modulated)
    essays = Essay.__table__
    essay_id = connection.execute(
        insert(essays)
        .values(
            topic_id=topic_id,
            seed_id=seed.id,
            replicate=cell.replicate,
            persona_id=persona["id"],
            base_prompt_id=base_id,
            prompt_id=prompt_id,
            prompt_hash=digest,
            plan_position=cell.position,
            **{DIMENSION_COLUMNS[name]: level.id for name, level in chosen.items()},
        )
        .returning(essays.c.id)
    ).scalar_one()
    connection.execute(
        insert(PersonaUsage).values(
            persona_id=persona["id"],
            topic_id=topic_id,
            stance_id=chosen["stances"].id,
            essay_id=essay_id,
            compatibility=score,
        )
    )


# --- essays -----------------------------------------------------------------------------------------


@dataclass
class WriteOutcome:
    generation_run_id: int | None  # None: nothing was pending, no run recorded
    pending: int
    summary: RunSummary


def write_essays(
    engine: CallEngine,
    target: DatabaseTarget,
    topic: str,
    model: str,
    temperature: float | None,
    run_id: str | None = None,
) -> WriteOutcome:
    """Writes the topic's pending essays; records the run in generation_runs. Written essays are
    kept whoever wrote them: another writer model applies to essays planned after it is set."""
    with experiment_transaction(target) as connection:
        topic_id = topic_row(connection, topic)["id"]
        essays = Essay.__table__
        if connection.execute(select(func.count()).where(essays.c.topic_id == topic_id)).scalar_one() == 0:
            raise EssayTrackError(f"topic {topic!r} has no essays planned: materialise essay_personas first")
        pending = _pending_essays(connection, topic_id)
        if not pending:
            return WriteOutcome(None, 0, RunSummary())
        runs = GenerationRun.__table__
        generation_run_id = connection.execute(
            insert(runs)
            .values(
                run_id=run_id,
                topic_id=topic_id,
                model=model,
                temperature=temperature,
                pending=len(pending),
                status="running",
            )
            .returning(runs.c.id)
        ).scalar_one()
    requests = [
        ChatRequest(
            model=model,
            purpose="essay",
            messages=(("system", prompts.ESSAY_SYSTEM), ("user", row["prompt"])),
            repetition=row["replicate"],
            temperature=temperature,
            hints={
                "topic": topic,
                "polarity": row["polarity"],
                "min_words": row["min_words"],
                "max_words": row["max_words"],
                "interest": (row["interests"] or ["writing"])[0],
                "facts": [line[2:] for line in row["prompt"].splitlines() if line.startswith("- ")][:4],
            },
            tag=row["id"],
        )
        for row in pending
    ]
    status = "failed"
    try:
        summary = engine.run(requests, persist=_essay_persist(generation_run_id))
        status = "finished"
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, RunInterrupted) else "failed"
        raise
    finally:
        _close_run(target, generation_run_id, status)
    return WriteOutcome(generation_run_id, len(pending), summary)


def _pending_essays(connection: Connection, topic_id: int) -> list[dict]:
    essays, prompts_table, personas = Essay.__table__, EssayPrompt.__table__, EssayPersona.__table__
    stances, quality = DIMENSION_TABLES["stances"].__table__, DIMENSION_TABLES["quality_levels"].__table__
    query = (
        select(
            essays.c.id,
            essays.c.replicate,
            prompts_table.c.text.label("prompt"),
            stances.c.polarity,
            quality.c.min_words,
            quality.c.max_words,
            personas.c.interests,
        )
        .join(prompts_table, prompts_table.c.id == essays.c.prompt_id)
        .join(stances, stances.c.id == essays.c.stance_id)
        .join(quality, quality.c.id == essays.c.quality_id)
        .join(personas, personas.c.id == essays.c.persona_id)
        .where(essays.c.topic_id == topic_id, essays.c.content.is_(None))
        .order_by(essays.c.plan_position)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def _essay_persist(generation_run_id: int):
    essays, runs = Essay.__table__, GenerationRun.__table__

    def persist(connection: Connection, results: list[CallResult]) -> None:
        now = datetime.now(UTC)
        written, failed = [], []
        for result in results:
            if result.ok and result.text and result.text.strip():
                written.append(
                    {
                        "essay": result.request.tag,
                        "new_content": result.text.strip(),
                        "new_word_count": len(result.text.split()),
                        "new_model_name": result.model.key,
                        "new_temperature": result.request.parameters(result.model)["temperature"],
                        "run": generation_run_id,
                        "new_simulated": result.simulated,
                        "new_written": now,
                    }
                )
            else:
                failed.append({"essay": result.request.tag, "reason": result.error or "empty essay"})
        if written:
            connection.execute(
                update(essays)
                .where(essays.c.id == bindparam("essay"))
                .values(
                    content=bindparam("new_content"),
                    word_count=bindparam("new_word_count"),
                    model_name=bindparam("new_model_name"),
                    temperature=bindparam("new_temperature"),
                    generation_run_id=bindparam("run"),
                    simulated=bindparam("new_simulated"),
                    written=bindparam("new_written"),
                    error=None,
                ),
                written,
            )
        if failed:
            connection.execute(
                update(essays).where(essays.c.id == bindparam("essay")).values(error=bindparam("reason")), failed
            )
        connection.execute(
            update(runs)
            .where(runs.c.id == generation_run_id)
            .values(
                written=runs.c.written + len(written),
                failed=runs.c.failed + len(failed),
                cost_usd=runs.c.cost_usd + sum(r.cost_usd for r in results),
            )
        )

    return persist


def _close_run(target: DatabaseTarget, generation_run_id: int, status: str) -> None:
    runs = GenerationRun.__table__
    with experiment_transaction(target) as connection:
        connection.execute(
            update(runs).where(runs.c.id == generation_run_id).values(status=status, finished=datetime.now(UTC))
        )
