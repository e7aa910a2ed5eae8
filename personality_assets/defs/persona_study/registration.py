"""Experiment registration: an experiments_groups row per questionnaire, presentation and
configuration, an experiments_list row per persona and repetition; idempotent by the
configuration's hash."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from sqlalchemy import insert, select, update

from personality_assets.db.engine import DatabaseTarget, experiment_transaction
from personality_assets.db.tables.persona_study import ExperimentsGroup, ExperimentsList
from personality_assets.defs.persona_study.personas import population_tag, read_personas
from personality_assets.defs.persona_study.presentation import (
    DEFAULT_ORDER_SEED,
    DEFAULT_SHUFFLES,
    FACTORS,
    Presentation,
    presentations,
)
from personality_assets.defs.persona_study.prompts import DEFAULT_SYSTEM_ROLE, questionnaire_prompt
from personality_assets.defs.persona_study.wordings import get_wording
from personality_assets.llm.config import ModelConfig, ModelsConfig
from personality_assets.questionnaires import Questionnaire, get_questionnaire


def repo_sha() -> str | None:
    """The code version that made a registration (None outside a git checkout)."""
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
            ).stdout.strip()
            or None
        )
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


@dataclass
class RegistrationConfig:
    questionnaires: list[str]
    repetitions: int = 1
    description: str = ""
    system_role: str = DEFAULT_SYSTEM_ROLE
    # Presentation conditions (presentation.py): every combination is registered for every persona.
    item_order: str = "as_defined"
    orders: int = DEFAULT_SHUFFLES
    order_seed: int = DEFAULT_ORDER_SEED
    option_orders: list[str] = field(default_factory=lambda: ["ascending"])
    wordings: list[str] = field(default_factory=lambda: ["original"])

    def presentations(self, questionnaire: Questionnaire) -> list[Presentation]:
        return presentations(
            questionnaire,
            item_order=self.item_order,
            orders=self.orders,
            order_seed=self.order_seed,
            option_orders=self.option_orders,
            wordings=self.wordings,
        )


@dataclass(frozen=True)
class GroupPrompt:
    """What a group's personas are shown: the system role template and the questionnaire message."""

    system_role: str
    base_prompt: str


def group_prompt(questionnaire: Questionnaire, presentation: Presentation, system_role: str) -> GroupPrompt:
    """The prompt of one presentation: its wording's system role, instruction and item texts
    (the original wording: ``system_role`` and the questionnaire's own texts), its item order and
    its answer-scale direction."""
    if presentation.wording == FACTORS["wording"]:
        return GroupPrompt(system_role, questionnaire_prompt(questionnaire, presentation))
    wording = get_wording(presentation.wording)
    texts = questionnaire.item_texts(wording.item_texts) if wording.item_texts else None
    prompt = questionnaire_prompt(questionnaire, presentation, texts=texts, instruction=wording.instruction)
    return GroupPrompt(wording.system_role or system_role, prompt)


def register_experiments(
    target: DatabaseTarget, models: ModelsConfig, model: str, population: str, config: RegistrationConfig
) -> pl.DataFrame:
    """One experiments_groups row per questionnaire, presentation and configuration; one
    experiments_list row per persona and repetition not yet registered in it. Returns counts per
    questionnaire and presentation."""
    partition = _Partition(
        models.get(model), model, population, read_personas(target, model, population)["id"].to_list(), repo_sha()
    )
    # Every prompt first: an unknown wording or text variant fails before anything is written.
    groups = [
        (questionnaire, presentation, group_prompt(questionnaire, presentation, config.system_role))
        for questionnaire in map(get_questionnaire, config.questionnaires)
        for presentation in config.presentations(questionnaire)
    ]
    rows = []
    with experiment_transaction(target) as connection:
        for questionnaire, presentation, prompt in groups:
            counts = _register_group(connection, partition, config, questionnaire, presentation, prompt)
            rows.append({"questionnaire": questionnaire.name, **presentation.levels, **counts})
    return pl.DataFrame(
        rows,
        schema={
            "questionnaire": pl.String,
            **dict.fromkeys(FACTORS, pl.String),
            "group": pl.Int64,
            "new": pl.Int64,
            "registered": pl.Int64,
        },
    )


@dataclass(frozen=True)
class _Partition:
    """What every group of one model × population registration shares."""

    model_config: ModelConfig
    model: str
    population: str
    persona_ids: list[int]
    repo_sha: str | None


def _register_group(
    connection,
    partition: _Partition,
    config: RegistrationConfig,
    questionnaire: Questionnaire,
    presentation: Presentation,
    prompt: GroupPrompt,
) -> dict:
    """Finds or inserts the group by its configuration's hash, then adds the personas and
    repetitions it does not have yet."""
    model_config, model, population = partition.model_config, partition.model, partition.population
    name = questionnaire.name
    description = config.description or f"{name} answered by {model} personas of {population}"
    settings = {
        "model": model,
        "population": population,
        "questionnaire": name,
        "system_role": prompt.system_role,
        "description": description,
        "base_prompt": prompt.base_prompt,
        "temperature": model_config.temperature,
        "top_p": model_config.top_p,
        "provider_model_id": model_config.model_id,
        **presentation.hash_settings(),
    }
    config_hash = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    group_id = connection.execute(
        select(ExperimentsGroup.experiments_group_id).where(ExperimentsGroup.config_hash == config_hash)
    ).scalar()
    if group_id is None:
        group_id = connection.execute(
            insert(ExperimentsGroup)
            .values(
                description=description,
                system_role=prompt.system_role,
                base_prompt=prompt.base_prompt,
                temperature=model_config.temperature,
                top_p=model_config.top_p,
                config_hash=config_hash,
                model=model,
                population=population,
                questionnaire=name,
                package_versions=package_versions(),
                presentation=presentation.stored(),
                **presentation.levels,
            )
            .returning(ExperimentsGroup.experiments_group_id)
        ).scalar_one()
    existing = set(
        connection.execute(
            select(ExperimentsList.personality_id, ExperimentsList.repeated).where(
                ExperimentsList.experiments_group_id == group_id
            )
        ).all()
    )
    new = [
        {
            "experiments_group_id": group_id,
            "questionnaire": name,
            "model_provider": model_config.provider,
            "model": model,
            "population": population_tag(model, population),
            "personality_id": persona_id,
            "repeated": repetition,
            "repo_sha": partition.repo_sha,
            "language_instructions": "en",
            "language_questionnaire": "en",
        }
        for persona_id in partition.persona_ids
        for repetition in range(config.repetitions)
        if (persona_id, repetition) not in existing
    ]
    if new:
        connection.execute(insert(ExperimentsList), new)
        connection.execute(
            update(ExperimentsGroup).where(ExperimentsGroup.experiments_group_id == group_id).values(concluded=False)
        )
    return {"group": group_id, "new": len(new), "registered": len(existing) + len(new)}
