"""The JSON replies the project asks models for (validated with pydantic)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHWARTZ_VALUES = (
    "self_direction", "stimulation", "hedonism", "achievement", "power",
    "security", "conformity", "tradition", "benevolence", "universalism",
)  # fmt: skip


class PersonaReply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    age: int = Field(ge=0, le=120)
    gender: str
    sexual_orientation: str
    race: str
    ethnicity: str
    religious_belief: str
    occupation: str
    political_orientation: str
    location: str
    description: str


class QuestionnaireReply(BaseModel):
    """Answers keyed by question number (as the prompt numbers the items)."""

    model_config = ConfigDict(extra="ignore")
    answers: dict[int, int]


class JournalReply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: str
    entry: str


Alignment = Literal[-1, 0, 1]


class JudgeReply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    self_direction: Alignment
    stimulation: Alignment
    hedonism: Alignment
    achievement: Alignment
    power: Alignment
    security: Alignment
    conformity: Alignment
    tradition: Alignment
    benevolence: Alignment
    universalism: Alignment
    rationale: str = ""
