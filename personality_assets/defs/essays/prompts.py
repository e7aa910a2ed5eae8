"""The essay track's prompts. The base prompt is the topic and stance (shared by many essays); the
modulated prompt adds the student persona, the evidence pattern, the style, the quality level and
research notes. Both are stored by hash (essay_prompts)."""

from __future__ import annotations

import hashlib
import random

from personality_assets.defs.essays.dimensions import DimensionLevel

RESEARCH_SYSTEM = (
    "You are a careful research assistant. Gather verifiable facts, quotes and sources on a debate "
    "topic from several angles, for students who will write argumentative essays on it."
)
PERSONA_SYSTEM = "You invent realistic, varied student personas for a writing study."
ESSAY_SYSTEM = (
    "You are a student writing an argumentative essay for class. Stay in character: write as the "
    "student described, at the quality level asked for, and reply with the essay text only."
)

# Backgrounds a persona request builds on, in turn, so personas of one topic differ.
BACKGROUND_ARCHETYPES = (
    "first-generation college student",
    "STEM major taking a humanities course",
    "international student writing in a second language",
    "returning adult student who works full time",
    "student athlete",
    "honours student in political science",
    "community college transfer student",
    "art and design major",
    "student from a rural town",
    "student who volunteers with local organisations",
)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def research_prompt(topic: str, angles: int) -> str:
    return (
        f"Topic: {topic}\n\nResearch this topic from {angles} different angles (for example economic, "
        "ethical, historical, scientific, legal, personal, international). For each angle give facts "
        "with numbers where they exist, quotes with who said them and where, and the sources "
        'you used. Reply with JSON: {"angles": [{"angle": "...", "facts": ["..."], "quotes": '
        '[{"text": "...", "speaker": "...", "source": "..."}], "sources": [{"title": "...", "url": "..."}]}]}'
    )


def persona_prompt(topic: str, variation: int) -> str:
    archetype = BACKGROUND_ARCHETYPES[variation % len(BACKGROUND_ARCHETYPES)]
    return (
        f"Invent student number {variation + 1} of a group who will each write an essay on: {topic}\n"
        f"Build on this background: {archetype}. Give the student interests that touch the topic, "
        "and real strengths and weaknesses as a writer. Reply with JSON: "
        '{"name": "...", "background": "...", "strengths": ["..."], "weaknesses": ["..."], "interests": ["..."]}'
    )


def base_prompt(topic: str, stance: DimensionLevel) -> str:
    return (
        f"Write an argumentative essay on this question: {topic}\nYour position: {stance.label}. {stance.description}"
    )


def research_notes(seed: dict, rng: random.Random, angles: int = 2) -> list[str]:
    """A few angles' facts and quotes from the topic's research seed, chosen per essay."""
    chosen = rng.sample(seed["angles"], min(angles, len(seed["angles"])))
    notes = []
    for angle in chosen:
        notes += [f"({angle['angle']}) {fact}" for fact in angle["facts"][:3]]
        notes += [f'({angle["angle"]}) "{q["text"]}" ({q["speaker"]}, {q["source"]})' for q in angle["quotes"][:1]]
    return notes


def modulated_prompt(
    base: str,
    persona: dict,
    evidence: DimensionLevel,
    style: DimensionLevel,
    quality: DimensionLevel,
    notes: list[str],
) -> str:
    return "\n".join(
        [
            base,
            "",
            f"You are {persona['name']}, {persona['background']}.",
            f"Your strengths as a writer: {', '.join(persona['strengths'])}.",
            f"Your weaknesses as a writer: {', '.join(persona['weaknesses'])}.",
            f"Your interests: {', '.join(persona['interests'])}.",
            "",
            f"Evidence: {evidence.label}. {evidence.description}",
            f"Style: {style.label}. {style.description}",
            f"Quality: {quality.label}. {quality.description}",
            f"Length: between {quality.extra['min_words']} and {quality.extra['max_words']} words.",
            "",
            "Research notes you may use:",
            *(f"- {note}" for note in notes),
        ]
    )
