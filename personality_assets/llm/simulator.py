"""The simulated model: deterministic replies seeded from the request, plausible enough to analyse.

* persona: demographics drawn with weights that differ per simulated model key (so a bias
  analysis has something to find) and a description that follows the reference person's
  traits (``hints["traits"]``: scale -> z-score);
* questionnaire: each item answers the reference person's own answer (``hints["profile"]``:
  question number -> answer) plus noise, or a trait-driven answer (``hints["items"]`` with scale,
  key and ``hints["traits"]``), clipped to ``hints["min"]..hints["max"]``; so scores correlate
  with the reference person without copying them;
* journal: a short entry built from the persona's traits; judge: labels from the entry's words.
Every JSON reply carries ``"simulated": true``.
"""

from __future__ import annotations

import hashlib
import json
import random

from personality_assets.llm.config import ModelConfig
from personality_assets.llm.schemas import SCHWARTZ_VALUES
from personality_assets.llm.types import ChatRequest

FIRST_NAMES = ["Ana", "Luis", "Maya", "Omar", "Sofia", "Chen", "Amara", "Jonas", "Priya", "Mateo", "Leila", "Tom",
               "Yuki", "Kwame", "Elena", "Noah", "Fatima", "Diego", "Hana", "Sam"]
LAST_NAMES = ["Garcia", "Smith", "Okafor", "Nguyen", "Muller", "Haddad", "Silva", "Kowalski", "Tanaka", "Johnson",
              "Rossi", "Patel", "Martin", "Ivanova", "Cohen"]
GENDERS = [("female", 48), ("male", 48), ("non-binary", 4)]
ORIENTATIONS = [("heterosexual", 85), ("bisexual", 8), ("homosexual", 6), ("asexual", 1)]
RACES = [("White", 50), ("Hispanic or Latino", 17), ("Black or African American", 13), ("Asian", 12),
         ("Middle Eastern or North African", 4), ("Mixed", 4)]
RELIGIONS = [("Christian", 45), ("None", 30), ("Muslim", 8), ("Agnostic", 7), ("Jewish", 3), ("Buddhist", 4),
             ("Hindu", 3)]
POLITICS = [("moderate", 40), ("liberal", 30), ("conservative", 25), ("libertarian", 5)]
OCCUPATIONS = ["nurse", "software engineer", "teacher", "accountant", "graphic designer", "electrician",
               "sales manager", "librarian", "chef", "social worker", "researcher", "truck driver", "pharmacist",
               "marketing specialist", "carpenter", "journalist", "retired engineer", "student"]
LOCATIONS = ["Madrid, Spain", "Austin, USA", "Lagos, Nigeria", "Toronto, Canada", "Manila, Philippines",
             "Berlin, Germany", "Mumbai, India", "Sydney, Australia", "Mexico City, Mexico", "Leeds, UK"]
TRAIT_WORDS = {
    "EXT": ("outgoing and talkative", "quiet and reserved"),
    "EST": ("calm and even-tempered", "easily stressed and prone to worry"),
    "AGR": ("warm and considerate", "blunt and sceptical of others"),
    "CSN": ("organised and dependable", "spontaneous and a little disorganised"),
    "OPN": ("curious and imaginative", "practical and conventional"),
}


def _rng(request: ChatRequest, model: ModelConfig) -> random.Random:
    return random.Random(int(hashlib.sha256(request.cache_key(model).encode()).hexdigest()[:16], 16))


def _weighted(rng: random.Random, options: list[tuple[str, int]], model_key: str) -> str:
    # Each simulated model key tilts the weights its own way, as real models have their own biases.
    tilt = random.Random(model_key)
    weights = [w * tilt.uniform(0.5, 1.5) for _, w in options]
    return rng.choices([o for o, _ in options], weights=weights)[0]


def simulate_reply(request: ChatRequest, model: ModelConfig) -> str:
    rng = _rng(request, model)
    hints = request.hints
    if request.purpose == "persona":
        return json.dumps(_persona(rng, hints.get("traits", {}), model.key))
    if request.purpose == "questionnaire":
        return json.dumps({"answers": _answers(rng, hints), "simulated": True})
    if request.purpose == "journal":
        traits = hints.get("traits", {})
        mood = "a good day" if traits.get("EST", 0) >= 0 else "a tense day"
        focus = rng.choice(["work", "family", "a friend", "my plans", "the neighbourhood", "money"])
        entry = (f"Today was {mood}. I kept thinking about {focus}. "
                 + rng.choice(["I helped someone without being asked.", "I pushed hard to finish my project.",
                               "I tried something new and exciting.", "I stuck to my routine, which felt safe.",
                               "I went to a family gathering and kept our traditions."]))
        return json.dumps({"title": f"Notes on {focus}", "entry": entry, "simulated": True})
    if request.purpose == "judge":
        text = " ".join(content for _, content in request.messages).lower()
        cues = {"benevolence": "helped", "achievement": "finish", "stimulation": "new and exciting",
                "security": "routine", "tradition": "traditions", "conformity": "routine", "hedonism": "good day"}
        labels = {value: (1 if cues.get(value, "\0") in text else rng.choice([0, 0, 0, -1, 1])) for value in SCHWARTZ_VALUES}
        return json.dumps({**labels, "rationale": "simulated judge: keyword cues", "simulated": True})
    last_user = next((content for role, content in reversed(request.messages) if role == "user"), "")
    return f"[simulated reply {rng.randint(0, 10**6)}] {last_user[:80]}"


def _persona(rng: random.Random, traits: dict[str, float], model_key: str) -> dict:
    described = [TRAIT_WORDS[s][0 if z >= 0 else 1] for s, z in sorted(traits.items(), key=lambda kv: -abs(kv[1]))
                 if s in TRAIT_WORDS][:3]
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    occupation = rng.choice(OCCUPATIONS)
    age = rng.randint(19, 78)
    return {
        "name": name, "age": age,
        "gender": _weighted(rng, GENDERS, model_key),
        "sexual_orientation": _weighted(rng, ORIENTATIONS, model_key),
        "race": _weighted(rng, RACES, model_key),
        "ethnicity": rng.choice(["Spanish", "Irish-American", "Yoruba", "Han Chinese", "Punjabi", "Mexican", "German"]),
        "religious_belief": _weighted(rng, RELIGIONS, model_key),
        "occupation": occupation,
        "political_orientation": _weighted(rng, POLITICS, model_key),
        "location": rng.choice(LOCATIONS),
        "description": f"{name} is a {age}-year-old {occupation} who is "
                       + (", ".join(described) if described else "hard to pin down") + ".",
        "simulated": True,
    }  # fmt: skip


def _answers(rng: random.Random, hints: dict) -> dict[str, int]:
    low, high = int(hints.get("min", 1)), int(hints.get("max", 5))
    profile = {int(k): int(v) for k, v in hints.get("profile", {}).items()}
    traits = hints.get("traits", {})
    answers = {}
    for item in hints.get("items", [{"number": n} for n in sorted(profile)]):
        number = int(item["number"])
        if number in profile:
            answer = profile[number] + rng.choice([-1, 0, 0, 0, 0, 1])  # mostly the person's own answer
        else:
            z = traits.get(item.get("scale"), 0.0) * (-1 if item.get("key") in {"-", "no"} else 1)
            answer = round((low + high) / 2 + z * (high - low) / 3 + rng.gauss(0, (high - low) / 5))
        answers[str(number)] = max(low, min(high, answer))
    return answers
