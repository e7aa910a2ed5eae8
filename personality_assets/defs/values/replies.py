"""The JSON replies of the value-alignment track (journal entries and judge labels)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class ValuePersonaReply(BaseModel):
    """The model's part of a persona: a name and a short background fitting the sampled attributes."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=2, max_length=80)
    background: str = Field(min_length=20, max_length=1500)


class JournalReply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    title: str
    entry: str = Field(min_length=1)


class NudgeReply(BaseModel):
    """Whether to ask the persona a short follow-up after an entry, and the question."""

    model_config = ConfigDict(extra="ignore")
    ask: bool
    kind: str | None = None  # one of the pools' nudge kinds (the prompt lists them)
    question: str | None = None

    @model_validator(mode="after")
    def _question_when_asking(self) -> NudgeReply:
        if self.ask and not (self.question and self.question.strip()):
            raise ValueError("ask is true but question is empty: give the follow-up question")
        return self


class NudgeAnswerReply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    answer: str = Field(min_length=1, max_length=600)


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
    rationales: dict[str, str] = Field(default_factory=dict)  # value -> why, for every non-zero score

    @model_validator(mode="after")
    def _a_reason_for_every_signal(self) -> JudgeReply:
        unknown = sorted(set(self.rationales) - set(SCHWARTZ_VALUES))
        if unknown:
            raise ValueError(f"rationales for unknown values {unknown}; the values are {', '.join(SCHWARTZ_VALUES)}")
        missing = [v for v in SCHWARTZ_VALUES if getattr(self, v) != 0 and not self.rationales.get(v, "").strip()]
        if missing:
            raise ValueError(f"no rationale for the non-zero scores of {', '.join(missing)}: give one for each")
        return self

    def vector(self) -> list[int]:
        return [getattr(self, value) for value in SCHWARTZ_VALUES]
