"""The essay track's diversity dimensions: read from the dimensions file (validated, errors name the
file and field) and synced into the research database, where essays refer to them by foreign key."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Connection, insert, select, update

from personality_assets import settings
from personality_assets.db.tables.essays import EvidencePattern, QualityLevel, Stance, StyleParameter
from personality_assets.errors import NoRetryError
from personality_assets.validated_yaml import read_yaml_as


class DimensionsError(NoRetryError):
    """The dimensions file is invalid."""


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str
    label: str
    description: str = Field(min_length=1)

    @field_validator("key")
    @classmethod
    def _identifier(cls, key: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key):
            raise ValueError(f"{key!r} is not a key: use lower case letters, digits and underscores")
        return key


class StanceLevel(Level):
    polarity: int = Field(ge=-2, le=2)


class StyleLevel(Level):
    parameters: dict[str, str | int | float] = Field(default_factory=dict)


class QualityLevelSpec(Level):
    min_words: int = Field(ge=1)
    max_words: int = Field(ge=1)

    @model_validator(mode="after")
    def _range(self) -> QualityLevelSpec:
        if self.min_words > self.max_words:
            raise ValueError(f"min_words ({self.min_words}) is above max_words ({self.max_words})")
        return self


class Dimensions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stances: list[StanceLevel] = Field(min_length=1)
    evidence_patterns: list[Level] = Field(min_length=1)
    style_parameters: list[StyleLevel] = Field(min_length=1)
    quality_levels: list[QualityLevelSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_keys(self) -> Dimensions:
        for name in DIMENSION_TABLES:
            keys = [level.key for level in getattr(self, name)]
            repeated = sorted({key for key in keys if keys.count(key) > 1})
            if repeated:
                raise ValueError(f"{name}: keys {repeated} appear more than once")
        return self

    @property
    def grid_size(self) -> int:
        return len(self.stances) * len(self.evidence_patterns) * len(self.style_parameters) * len(self.quality_levels)


# Dimension name (as in the file) -> table; the order of the grid's axes.
DIMENSION_TABLES = {
    "stances": Stance,
    "evidence_patterns": EvidencePattern,
    "style_parameters": StyleParameter,
    "quality_levels": QualityLevel,
}
# The essays column of each dimension.
DIMENSION_COLUMNS = {
    "stances": "stance_id",
    "evidence_patterns": "evidence_id",
    "style_parameters": "style_id",
    "quality_levels": "quality_id",
}


def load_dimensions(path: Path | None = None) -> Dimensions:
    return read_yaml_as(path or settings.essay_dimensions_file(), Dimensions, DimensionsError)


@dataclass(frozen=True)
class SyncOutcome:
    added: int
    updated: int
    deactivated: int


def sync_dimensions(connection: Connection, dimensions: Dimensions) -> SyncOutcome:
    """Upserts every level by key (in the caller's transaction); levels no longer in the file are
    marked inactive, never deleted: essays written with them keep their meaning."""
    added = updated = deactivated = 0
    for name, model in DIMENSION_TABLES.items():
        table = model.__table__
        stored = {row.key: row for row in connection.execute(select(table)).all()}
        for position, level in enumerate(getattr(dimensions, name)):
            values = {**level.model_dump(), "position": position, "active": True}
            current = stored.pop(level.key, None)
            if current is None:
                connection.execute(insert(table).values(values))
                added += 1
            elif any(getattr(current, column) != value for column, value in values.items()):
                connection.execute(update(table).where(table.c.key == level.key).values(values))
                updated += 1
        gone = [key for key, row in stored.items() if row.active]
        if gone:
            connection.execute(update(table).where(table.c.key.in_(gone)).values(active=False))
            deactivated += len(gone)
    return SyncOutcome(added, updated, deactivated)


@dataclass(frozen=True)
class DimensionLevel:
    """A stored level, as the planner and the prompts use it."""

    id: int
    key: str
    label: str
    description: str
    extra: dict  # polarity, parameters, min_words/max_words


def active_levels(connection: Connection) -> dict[str, list[DimensionLevel]]:
    """The active levels of each dimension, in file order."""
    levels = {}
    for name, model in DIMENSION_TABLES.items():
        table = model.__table__
        common = {"id", "key", "label", "description", "position", "active"}
        rows = connection.execute(select(table).where(table.c.active).order_by(table.c.position)).mappings()
        levels[name] = [
            DimensionLevel(
                row["id"],
                row["key"],
                row["label"],
                row["description"],
                {k: v for k, v in row.items() if k not in common},
            )
            for row in rows
        ]
    return levels
