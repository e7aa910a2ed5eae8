"""The value-alignment track's model work, without Dagster: personas named by the writer model,
longitudinal journals (with nudges), and the judge's labels. Every call goes through the call
engine, so each is accounted, cached (a re-run after a crash pays for nothing twice: the same
prompts hit the cache, and the journals' later prompts are rebuilt from the same earlier entries)
and limited per account."""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from personality_assets.defs.values.contract import REGISTRY_SCHEMA, VALUE_COLUMNS, VALUE_NAMES
from personality_assets.defs.values.pools import PersonaDraft, Pools, entry_plan, simulator_settings
from personality_assets.defs.values.prompts import (
    journal_messages,
    judge_prompt,
    nudge_answer_messages,
    nudge_prompt,
    persona_prompt,
    session_text,
)
from personality_assets.defs.values.replies import (
    SCHWARTZ_VALUES,
    JournalReply,
    JudgeReply,
    NudgeAnswerReply,
    NudgeReply,
    ValuePersonaReply,
)
from personality_assets.llm.engine import CallEngine
from personality_assets.llm.types import CallResult, ChatRequest, RunSummary

ENTRY_SCHEMA = pl.Schema(
    {
        "persona_id": pl.String,
        "t_index": pl.Int64,
        "date": pl.String,
        "title": pl.String,
        "entry": pl.String,
        "nudge_kind": pl.String,
        "nudge_question": pl.String,
        "nudge_answer": pl.String,
        "session": pl.String,  # what the judge reads: entry + follow-up exchange
    }
)
GENERATION_LOG_SCHEMA = pl.Schema(
    {
        "persona_id": pl.String,
        "t_index": pl.Int64,
        "tone": pl.String,
        "verbosity": pl.String,
        "words_asked_min": pl.Int64,
        "words_asked_max": pl.Int64,
        "words": pl.Int64,
        "reflection_mode": pl.String,
        "writer_model": pl.String,
    }
)
PASS_SCHEMA = pl.Schema(
    {
        "persona_id": pl.String,
        "t_index": pl.Int64,
        "pass": pl.Int64,
        **dict.fromkeys(VALUE_COLUMNS, pl.Int64),
        "rationales_json": pl.String,
    }
)


def run_collecting(engine: CallEngine, requests: list[ChatRequest]) -> tuple[list[CallResult], RunSummary]:
    """Runs the requests; returns every final result (stored and accounted by the engine as usual)."""
    collected: list[CallResult] = []
    lock = threading.Lock()

    def keep(connection, results: list[CallResult]) -> None:
        with lock:
            collected.extend(results)

    summary = engine.run(requests, persist=keep)
    return collected, summary


@dataclass(frozen=True)
class Persona:
    draft: PersonaDraft
    name: str
    background: str


def write_personas(
    engine: CallEngine, model: str, drafts: list[PersonaDraft]
) -> tuple[list[Persona], RunSummary, dict[str, str]]:
    """The writer model names each drafted persona. Returns the personas it named, the summary, and
    the failures (persona_id -> error)."""
    requests = [
        ChatRequest(
            model=model,
            purpose="value_persona",
            response_model=ValuePersonaReply,
            messages=(("user", persona_prompt(draft)),),
            hints={"age": draft.age, "profession": draft.profession, "culture": draft.culture},
            tag=draft,
        )
        for draft in drafts
    ]
    results, summary = run_collecting(engine, requests)
    personas, failures = [], {}
    order = {draft.persona_id: i for i, draft in enumerate(drafts)}
    for result in sorted(results, key=lambda r: order[r.request.tag.persona_id]):
        if result.ok:
            personas.append(Persona(result.request.tag, result.parsed.name.strip(), result.parsed.background.strip()))
        else:
            failures[result.request.tag.persona_id] = result.error or result.status
    return personas, summary, failures


def registry_rows(personas: list[Persona], nudge_enabled: bool, created_at: datetime | None = None) -> pl.DataFrame:
    created_at = created_at or datetime.now(UTC)
    return pl.DataFrame(
        [
            {
                "persona_id": p.draft.persona_id,
                "name": p.name,
                "age": p.draft.age,
                "profession": p.draft.profession,
                "culture": p.draft.culture,
                "core_values": [VALUE_NAMES[v] for v in p.draft.core_values],
                "entry_count": 0,
                "created_at": created_at,
                "stage_synthetic": False,
                "stage_wrangled": False,
                "stage_labeled": False,
                "nudge_enabled": nudge_enabled,
            }
            for p in personas
        ],
        schema=REGISTRY_SCHEMA,
    )


def write_journals(
    engine: CallEngine,
    model: str,
    personas: list[Persona],
    pools: Pools,
    seed: int,
    nudges: bool,
    progress=lambda message: None,
) -> tuple[pl.DataFrame, pl.DataFrame, RunSummary, dict[str, str]]:
    """Each persona's entries in order, each written seeing the earlier ones; after an entry,
    optionally a follow-up question and the persona's answer. All personas' t-th entries run as
    one batch. A persona whose entry fails stops there (its later entries would not see it).
    Returns entries (ENTRY_SCHEMA), the generation log, the summary and the failures."""
    plans = {p.draft.persona_id: entry_plan(pools, p.draft, seed) for p in personas}
    simulator = simulator_settings(pools)
    fewest, most = pools.core_values_per_persona
    simulated = {  # read only by the simulated writer
        "expression_rates": simulator.expression_rates,
        "contradiction_rate": simulator.contradiction_rate,
        "core_share": (fewest + most) / 2 / len(SCHWARTZ_VALUES),
    }
    written: dict[str, list[dict]] = {p.draft.persona_id: [] for p in personas}
    log_rows, summaries, failures = [], [], {}
    active = list(personas)
    for t_index in range(max((p.draft.entry_count for p in personas), default=0)):
        active = [p for p in active if t_index < p.draft.entry_count and p.draft.persona_id not in failures]
        if not active:
            break
        entries = {}
        requests = []
        for persona in active:
            day, style = plans[persona.draft.persona_id][t_index]
            requests.append(
                ChatRequest(
                    model=model,
                    purpose="journal",
                    response_model=JournalReply,
                    messages=journal_messages(
                        persona.draft,
                        persona.name,
                        persona.background,
                        day.isoformat(),
                        style,
                        written[persona.draft.persona_id],
                    ),
                    hints={"core_values": list(persona.draft.core_values), "tone": style.tone, "simulator": simulated},
                    tag=(persona, day, style),
                )
            )
        results, summary = run_collecting(engine, requests)
        summaries.append(summary)
        for result in results:
            persona, day, style = result.request.tag
            if not result.ok:
                failures[persona.draft.persona_id] = f"entry {t_index}: {result.error or result.status}"
                continue
            entries[persona.draft.persona_id] = (persona, day, style, result)
        questions = _nudges(engine, model, entries, pools, seed, t_index, summaries) if nudges else {}
        for persona_id, (_, day, style, result) in entries.items():
            question = questions.get(persona_id, (None, None, None))
            entry = result.parsed.entry.strip()
            written[persona_id].append(
                {
                    "persona_id": persona_id,
                    "t_index": t_index,
                    "date": day.isoformat(),
                    "title": result.parsed.title.strip(),
                    "entry": entry,
                    "nudge_kind": question[0],
                    "nudge_question": question[1],
                    "nudge_answer": question[2],
                    "session": session_text(entry, question[1], question[2]),
                }
            )
            log_rows.append(
                {
                    "persona_id": persona_id,
                    "t_index": t_index,
                    "tone": style.tone,
                    "verbosity": style.verbosity,
                    "words_asked_min": style.words[0],
                    "words_asked_max": style.words[1],
                    "words": len(entry.split()),
                    "reflection_mode": style.reflection_mode,
                    "writer_model": model,
                }
            )
        progress(f"entry {t_index + 1}: {len(entries)} of {len(active)} personas written")
    frames = [pl.DataFrame(rows, schema=ENTRY_SCHEMA) for rows in written.values() if rows]
    entries_frame = pl.concat(frames) if frames else pl.DataFrame(schema=ENTRY_SCHEMA)
    return (
        entries_frame.sort("persona_id", "t_index"),
        pl.DataFrame(log_rows, schema=GENERATION_LOG_SCHEMA).sort("persona_id", "t_index"),
        RunSummary.total(summaries),
        failures,
    )


def _nudges(engine, model, entries, pools, seed, t_index, summaries) -> dict[str, tuple]:
    """persona_id -> (kind, question, answer or None) for the entries the model followed up."""
    requests = [
        ChatRequest(
            model=model,
            purpose="nudge",
            response_model=NudgeReply,
            messages=(("user", nudge_prompt(result.parsed.entry, pools.nudges.kinds)),),
            tag=persona_id,
        )
        for persona_id, (_, _, _, result) in entries.items()
    ]
    results, summary = run_collecting(engine, requests)
    summaries.append(summary)
    asked = {r.request.tag: r.parsed for r in results if r.ok and r.parsed.ask}
    answering = []
    for persona_id, nudge in asked.items():
        # Whether the persona answers is the pools' coin, seeded per persona and entry.
        if random.Random(f"{seed}:{persona_id}:{t_index}:answer").random() < pools.nudges.answer_probability:
            _, _, _, result = entries[persona_id]
            journal = result.request.messages
            answering.append(
                ChatRequest(
                    model=model,
                    purpose="nudge_answer",
                    response_model=NudgeAnswerReply,
                    messages=nudge_answer_messages(journal, result.parsed.entry, nudge.question),
                    tag=persona_id,
                )
            )
    answers: dict[str, str] = {}
    if answering:
        results, summary = run_collecting(engine, answering)
        summaries.append(summary)
        answers = {r.request.tag: r.parsed.answer.strip() for r in results if r.ok}
    return {pid: (n.kind, n.question.strip(), answers.get(pid)) for pid, n in asked.items()}


def judge_entries(
    engine: CallEngine, model: str, pools: Pools, entries: pl.DataFrame, passes: int = 1
) -> tuple[pl.DataFrame, RunSummary, dict[tuple[str, int], str]]:
    """Labels every entry's session ``passes`` times (distinct calls: each pass is its own
    repetition, never a cache hit of another). Returns one row per entry and pass (PASS_SCHEMA),
    the summary and the entries that failed (after the engine's retries with the error fed back)."""
    requests = [
        ChatRequest(
            model=model,
            purpose="judge",
            response_model=JudgeReply,
            messages=(("user", judge_prompt(pools, row["session"])),),
            repetition=judge_pass,
            temperature=0.0 if passes == 1 else None,
            tag=(row["persona_id"], row["t_index"], judge_pass),
        )
        for row in entries.select("persona_id", "t_index", "session").iter_rows(named=True)
        for judge_pass in range(passes)
    ]
    results, summary = run_collecting(engine, requests)
    rows, failed_passes = [], {}
    for result in results:
        persona_id, t_index, judge_pass = result.request.tag
        if not result.ok:
            failed_passes[(persona_id, t_index)] = result.error or result.status
            continue
        reply: JudgeReply = result.parsed
        # As the published labels: no non-zero score, no rationales (null, not "{}").
        signal = any(getattr(reply, value) != 0 for value in SCHWARTZ_VALUES)
        rows.append(
            {
                "persona_id": persona_id,
                "t_index": t_index,
                "pass": judge_pass,
                **{f"alignment_{value}": getattr(reply, value) for value in SCHWARTZ_VALUES},
                "rationales_json": json.dumps(
                    {v: reply.rationales[v] for v in SCHWARTZ_VALUES if v in reply.rationales}, ensure_ascii=False
                )
                if signal
                else None,
            }
        )
    labelled = {(row["persona_id"], row["t_index"]) for row in rows}
    failures = {entry: error for entry, error in failed_passes.items() if entry not in labelled}  # no pass at all
    return pl.DataFrame(rows, schema=PASS_SCHEMA).sort("persona_id", "t_index", "pass"), summary, failures
