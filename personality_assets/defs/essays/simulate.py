"""What the offline simulator replies for the essay track's purposes (registered on import):
research seeds marked as simulated, student personas whose interests touch the topic, and essays
whose length falls in the quality level's range and whose wording varies from essay to essay."""

from __future__ import annotations

import json
import random

from personality_assets.llm.purposes import register_purpose

_ANGLES = (
    "economic",
    "ethical",
    "historical",
    "scientific",
    "legal",
    "personal",
    "international",
    "political",
    "educational",
    "environmental",
    "technological",
    "cultural",
)
_NAMES = (
    "Alex",
    "Jordan",
    "Sam",
    "Priya",
    "Mateo",
    "Aisha",
    "Chen",
    "Lena",
    "Omar",
    "Grace",
    "Diego",
    "Hana",
    "Tyler",
    "Zoe",
    "Ravi",
    "Maya",
    "Kofi",
    "Elena",
    "Noah",
    "Sofia",
)
_SURNAMES = ("Rivera", "Nguyen", "Okafor", "Smith", "Kowalski", "Haddad", "Tanaka", "Garcia", "Lindqvist", "Patel")
_STRENGTHS = (
    "analytical skills",
    "research integration",
    "vivid examples",
    "clear structure",
    "strong vocabulary",
    "persuasive voice",
    "careful reasoning",
    "creative openings",
    "use of data",
    "empathy for readers",
)
_WEAKNESSES = (
    "grammar struggles",
    "weak transitions",
    "run-on sentences",
    "thin evidence",
    "wordiness",
    "vague thesis",
    "spelling errors",
    "repetitive phrasing",
    "abrupt conclusions",
    "informal tone",
)
_INTERESTS = (
    "social justice",
    "technology ethics",
    "climate policy",
    "music production",
    "public health",
    "basketball",
    "community organising",
    "video games",
    "economics",
    "history",
    "chemistry",
    "creative writing",
    "immigration law",
    "urban gardening",
    "psychology",
    "film studies",
)
_WORDS = (
    "students families teachers cities research evidence policy costs benefits communities future choices "
    "budgets rights duties schools workers markets habits studies data reports history science culture "
    "health safety freedom fairness access opportunity risk trust change tradition balance pressure "
    "progress decisions leaders voters experts parents neighbours classrooms libraries clinics farms "
    "factories screens networks rules limits incentives outcomes problems solutions debates arguments"
).split()
_VERBS = (
    "shows",
    "suggests",
    "proves",
    "reminds us",
    "makes clear",
    "raises the question",
    "highlights",
    "undermines the idea",
    "supports the view",
    "challenges the claim",
)
_ADJECTIVES = (
    "important",
    "costly",
    "unfair",
    "necessary",
    "risky",
    "urgent",
    "overlooked",
    "practical",
    "complicated",
    "promising",
    "harmful",
    "useful",
    "controversial",
    "modest",
    "lasting",
)


def simulate_research(request, model, rng: random.Random) -> str:
    topic, count = request.hints["topic"], request.hints["angles"]
    angles = []
    for angle in (_ANGLES * 2)[:count]:
        n = rng.randint(12, 89)
        angles.append(
            {
                "angle": angle,
                "facts": [
                    f"[simulated] About {n}% of surveyed students had an opinion on the {angle} side of: {topic}",
                    f"[simulated] A {rng.randint(2005, 2024)} study found {angle} effects in {rng.randint(3, 40)} "
                    "of the cases it followed",
                ],
                "quotes": [
                    {
                        "text": f"[simulated] The {angle} stakes here are {rng.choice(_ADJECTIVES)}.",
                        "speaker": f"Dr {rng.choice(_SURNAMES)}",
                        "source": "simulated interview",
                    }
                ],
                "sources": [{"title": f"Simulated {angle} brief", "url": f"https://example.org/simulated/{angle}"}],
            }
        )
    return json.dumps({"angles": angles, "simulated": True})


def simulate_persona(request, model, rng: random.Random) -> str:
    topic_words = request.hints.get("topic_keywords") or []
    interests = rng.sample(_INTERESTS, 3)
    if topic_words:  # most simulated students care about the topic: they are written for it
        interests[0] = " ".join(rng.sample(topic_words, min(2, len(topic_words))))
        if rng.random() < 0.5:
            interests[1] = f"{rng.choice(topic_words)} debates"
    return json.dumps(
        {
            "name": f"{rng.choice(_NAMES)} {rng.choice(_SURNAMES)}",
            "background": request.hints.get("archetype") or "undergraduate student",
            "strengths": rng.sample(_STRENGTHS, 2),
            "weaknesses": rng.sample(_WEAKNESSES, 2),
            "interests": interests,
        }
    )


def _sentence(rng: random.Random, subject: str) -> str:
    words = rng.sample(_WORDS, 5)
    return (
        f"{subject} {rng.choice(_VERBS)} that {words[0]} and {words[1]} are {rng.choice(_ADJECTIVES)} "
        f"for {words[2]}, because {words[3]} shape {words[4]} in {rng.choice(_ADJECTIVES)} ways."
    )


def simulate_essay(request, model, rng: random.Random) -> str:
    hints = request.hints
    target = rng.randint(hints["min_words"], hints["max_words"])
    position = {2: "strongly support", 1: "support", 0: "weigh both sides of", -1: "oppose", -2: "firmly reject"}
    opening = f"I {position[hints['polarity']]} the idea in this question: {hints['topic']}"
    paragraphs, words = [opening], len(opening.split())
    subjects = ["This", "The evidence", f"My interest in {hints['interest']}", "Experience", "The research"]
    while words < target:
        sentence = _sentence(rng, rng.choice(subjects))
        if hints["facts"] and rng.random() < 0.2:
            sentence = f"{rng.choice(hints['facts'])}."
        if words + len(sentence.split()) > hints["max_words"]:
            break
        paragraphs.append(sentence)
        words += len(sentence.split())
    # Pad with short phrases to reach the minimum exactly when the last sentence did not fit.
    while words < hints["min_words"]:
        paragraphs.append(f"{rng.choice(_WORDS).capitalize()} matters.")
        words += 2
    text, size = [], 0
    for sentence in paragraphs:  # paragraphs of about five sentences
        text.append(sentence)
        size += 1
        if size % 5 == 0:
            text.append("\n\n")
    return " ".join(text).replace(" \n\n ", "\n\n").strip()


register_purpose("research", 3000, simulate_research)
register_purpose("essay_persona", 200, simulate_persona)
register_purpose("essay", 700, simulate_essay)
