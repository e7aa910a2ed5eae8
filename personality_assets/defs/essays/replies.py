"""What the essay track's models must reply (JSON validated by the call engine; an invalid reply is
asked again with the validation error). Essays themselves are plain text."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Quote(BaseModel):
    text: str = Field(min_length=1)
    speaker: str = Field(min_length=1)
    source: str = Field(min_length=1)


class Source(BaseModel):
    title: str = Field(min_length=1)
    url: str = Field(min_length=1)


class Angle(BaseModel):
    angle: str = Field(min_length=1, description="the perspective, e.g. economic, ethical, historical")
    facts: list[str] = Field(min_length=1)
    quotes: list[Quote] = Field(default_factory=list)
    sources: list[Source] = Field(min_length=1)


class ResearchReply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    angles: list[Angle] = Field(min_length=3)


class EssayPersonaReply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=120)
    background: str = Field(min_length=3, max_length=200)
    strengths: list[str] = Field(min_length=1, max_length=6)
    weaknesses: list[str] = Field(min_length=1, max_length=6)
    interests: list[str] = Field(min_length=2, max_length=8)
