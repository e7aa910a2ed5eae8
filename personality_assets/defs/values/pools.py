"""The randomisation pools (``pools.yaml``, or the user's copy) and the seeded sampling of persona
attributes, entry styles and entry dates from them."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from personality_assets import settings
from personality_assets.defs.values.replies import SCHWARTZ_VALUES
from personality_assets.errors import NoRetryError
from personality_assets.validated_yaml import read_yaml_as

SHIPPED = Path(__file__).with_name("pools.yaml")


class PoolsError(NoRetryError):
    """The pools file is invalid."""


class Dates(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: date
    same_day_share: float = Field(ge=0, le=1)
    max_gap_days: int = Field(ge=1)


class Nudges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool
    answer_probability: float = Field(ge=0, le=1)
    kinds: list[str] = Field(min_length=1)


class Simulator(BaseModel):
    """What the offline simulator writes (real writer and judge models ignore it)."""

    model_config = ConfigDict(extra="forbid")
    # value -> the share of all entries the simulated judge scores +1
    expression_rates: dict[str, float]
    # the share of entries in which a persona goes against one of its own core values (-1)
    contradiction_rate: float = Field(ge=0, le=1)

    @field_validator("expression_rates")
    @classmethod
    def _ten_rates(cls, rates: dict[str, float]) -> dict[str, float]:
        if list(rates) != list(SCHWARTZ_VALUES):
            raise ValueError(f"must list the ten Schwartz values in this order: {', '.join(SCHWARTZ_VALUES)}")
        wrong = [value for value, rate in rates.items() if not 0 <= rate <= 1]
        if wrong:
            raise ValueError(f"rates must be between 0 and 1: {', '.join(wrong)}")
        return rates


class Pools(BaseModel):
    model_config = ConfigDict(extra="forbid")
    age_brackets: list[str] = Field(min_length=1)
    professions: list[str] = Field(min_length=1)
    cultures: list[str] = Field(min_length=1)
    values: dict[str, str]
    core_values_per_persona: tuple[int, int]
    tones: list[str] = Field(min_length=1)
    verbosity: dict[str, tuple[int, int]] = Field(min_length=1)
    reflection_modes: list[str] = Field(min_length=1)
    # a number, or [fewest, most]: each persona's count drawn uniformly from that range
    entries_per_persona: int | tuple[int, int]
    dates: Dates
    nudges: Nudges
    simulator: Simulator | None = None  # None: the shipped pools' simulator section

    def entry_range(self) -> tuple[int, int]:
        if isinstance(self.entries_per_persona, int):
            return self.entries_per_persona, self.entries_per_persona
        return self.entries_per_persona

    @field_validator("values")
    @classmethod
    def _all_ten_values(cls, values: dict[str, str]) -> dict[str, str]:
        if list(values) != list(SCHWARTZ_VALUES):
            raise ValueError(f"must list the ten Schwartz values in this order: {', '.join(SCHWARTZ_VALUES)}")
        return values

    @model_validator(mode="after")
    def _ranges(self) -> Pools:
        low, high = self.core_values_per_persona
        if not 1 <= low <= high <= len(SCHWARTZ_VALUES):
            raise ValueError(
                f"core_values_per_persona must be [min, max] with 1 <= min <= max <= 10, got {[low, high]}"
            )
        fewest, most = self.entry_range()
        if not 1 <= fewest <= most:
            raise ValueError(
                f"entries_per_persona must be a number >= 1 or [min, max] with 1 <= min <= max, got {[fewest, most]}"
            )
        for name, (fewest, most) in self.verbosity.items():
            if not 0 < fewest <= most:
                raise ValueError(f"verbosity {name}: [{fewest}, {most}] is not a word range")
        return self


def pools_file() -> Path:
    """The user's pools (``$PERSONALITY_ASSETS_VALUES_POOLS`` or <data dir>/values_pools.yaml), else the shipped ones."""
    named = os.environ.get("PERSONALITY_ASSETS_VALUES_POOLS")
    if named:
        return Path(named)
    user = settings.data_dir() / "values_pools.yaml"
    return user if user.exists() else SHIPPED


def load_pools(path: Path | None = None) -> Pools:
    return read_yaml_as(path or pools_file(), Pools, PoolsError)


def simulator_settings(pools: Pools) -> Simulator:
    """The pools' simulator section, else the shipped one's (a pools file copied before it existed)."""
    return pools.simulator or load_pools(SHIPPED).simulator


@dataclass(frozen=True)
class PersonaDraft:
    """A persona's sampled attributes, before the model names it."""

    persona_id: str
    age: str
    profession: str
    culture: str
    core_values: tuple[str, ...]  # value keys, e.g. ("benevolence",)
    entry_count: int
    first_date: date


@dataclass(frozen=True)
class EntryStyle:
    tone: str
    verbosity: str
    words: tuple[int, int]
    reflection_mode: str


def sample_personas(pools: Pools, count: int, seed: int) -> list[PersonaDraft]:
    """``count`` personas; the same pools and seed give the same personas (and ids)."""
    rng = random.Random(seed)
    drafts = []
    entries_low, entries_high = pools.entry_range()
    for _ in range(count):
        fewest, most = pools.core_values_per_persona
        drafts.append(
            PersonaDraft(
                persona_id=f"{rng.getrandbits(32):08x}",
                age=rng.choice(pools.age_brackets),
                profession=rng.choice(pools.professions),
                culture=rng.choice(pools.cultures),
                core_values=tuple(rng.sample(list(SCHWARTZ_VALUES), rng.randint(fewest, most))),
                # a fixed number draws nothing: the same seed gives the same personas as before ranges
                entry_count=entries_low if entries_low == entries_high else rng.randint(entries_low, entries_high),
                first_date=pools.dates.start + timedelta(days=rng.randrange(60)),
            )
        )
    return drafts


def entry_plan(pools: Pools, persona: PersonaDraft, seed: int) -> list[tuple[date, EntryStyle]]:
    """The date and style of each of a persona's entries, seeded per persona."""
    rng = random.Random(f"{seed}:{persona.persona_id}")
    day, plan = persona.first_date, []
    for t_index in range(persona.entry_count):
        if t_index:
            same_day = rng.random() < pools.dates.same_day_share
            day += timedelta(days=0 if same_day else rng.randint(1, pools.dates.max_gap_days))
        verbosity = rng.choice(sorted(pools.verbosity))
        plan.append(
            (
                day,
                EntryStyle(
                    tone=rng.choice(pools.tones),
                    verbosity=verbosity,
                    words=pools.verbosity[verbosity],
                    reflection_mode=rng.choice(pools.reflection_modes),
                ),
            )
        )
    return plan
