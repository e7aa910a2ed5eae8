"""The JSON replies of the value-alignment track (journal entries and judge labels)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

# The ten Schwartz values in the fixed order of the training data's label vector.
SCHWARTZ_VALUES = (
    "self_direction",
    "stimulation",
    "hedonism",
    "achievement",
    "power",
    "security",
    "conformity",
    "tradition",
    "benevolence",
    "universalism",
)


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
