"""The persona study's side of the offline simulator, and the hints it reads.

* persona: demographics drawn with weights that differ per simulated model key (so a bias
  analysis has something to find) and a description that follows the reference person's
  traits (``hints["traits"]``: scale -> z-score);
* questionnaire: each item answers the reference person's own answer (``hints["profile"]``:
  question number -> answer) plus noise, or a trait-driven answer (``hints["items"]`` with scale,
  key and ``hints["traits"]``), clipped to ``hints["min"]..hints["max"]``; so scores correlate
  with the reference person without copying them.

Hints travel on the request for the simulator only: real providers never see them and they are
not part of a real request's cache key. Importing this module registers the study's purposes.
"""

from __future__ import annotations

import json
import math
import random

import polars as pl

from personality_assets.llm.config import ModelConfig, ResponseStyle
from personality_assets.llm.purposes import register_purpose
from personality_assets.llm.types import ChatRequest
from personality_assets.questionnaires import Questionnaire, get_questionnaire

FIRST_NAMES = [
    "Ana",
    "Luis",
    "Maya",
    "Omar",
    "Sofia",
    "Chen",
    "Amara",
    "Jonas",
    "Priya",
    "Mateo",
    "Leila",
    "Tom",
    "Yuki",
    "Kwame",
    "Elena",
    "Noah",
    "Fatima",
    "Diego",
    "Hana",
    "Sam",
]
LAST_NAMES = [
    "Garcia",
    "Smith",
    "Okafor",
    "Nguyen",
    "Muller",
    "Haddad",
    "Silva",
    "Kowalski",
    "Tanaka",
    "Johnson",
    "Rossi",
    "Patel",
    "Martin",
    "Ivanova",
    "Cohen",
]
GENDERS = [("female", 48), ("male", 48), ("non-binary", 4)]
ORIENTATIONS = [("heterosexual", 85), ("bisexual", 8), ("homosexual", 6), ("asexual", 1)]
RACES = [
    ("White", 50),
    ("Hispanic or Latino", 17),
    ("Black or African American", 13),
    ("Asian", 12),
    ("Middle Eastern or North African", 4),
    ("Mixed", 4),
]
RELIGIONS = [
    ("Christian", 45),
    ("None", 30),
    ("Muslim", 8),
    ("Agnostic", 7),
    ("Jewish", 3),
    ("Buddhist", 4),
    ("Hindu", 3),
]
POLITICS = [("moderate", 40), ("liberal", 30), ("conservative", 25), ("libertarian", 5)]
OCCUPATIONS = [
    "nurse",
    "software engineer",
    "teacher",
    "accountant",
    "graphic designer",
    "electrician",
    "sales manager",
    "librarian",
    "chef",
    "social worker",
    "researcher",
    "truck driver",
    "pharmacist",
    "marketing specialist",
    "carpenter",
    "journalist",
    "retired engineer",
    "student",
]
LOCATIONS = [
    "Madrid, Spain",
    "Austin, USA",
    "Lagos, Nigeria",
    "Toronto, Canada",
    "Manila, Philippines",
    "Berlin, Germany",
    "Mumbai, India",
    "Sydney, Australia",
    "Mexico City, Mexico",
    "Leeds, UK",
]
TRAIT_WORDS = {
    "EXT": ("outgoing and talkative", "quiet and reserved"),
    "EST": ("calm and even-tempered", "easily stressed and prone to worry"),
    "AGR": ("warm and considerate", "blunt and sceptical of others"),
    "CSN": ("organised and dependable", "spontaneous and a little disorganised"),
    "OPN": ("curious and imaginative", "practical and conventional"),
}


def _weighted(rng: random.Random, options: list[tuple[str, int]], model_key: str) -> str:
    # Each simulated model key tilts the weights its own way, as real models have their own biases.
    tilt = random.Random(model_key)
    weights = [w * tilt.uniform(0.5, 1.5) for _, w in options]
    return rng.choices([o for o, _ in options], weights=weights)[0]


def simulate_persona(request: ChatRequest, model: ModelConfig, rng: random.Random) -> str:
    return json.dumps(_persona(rng, request.hints.get("traits", {}), model.key))


def simulate_questionnaire(request: ChatRequest, model: ModelConfig, rng: random.Random) -> str:
    return json.dumps({"answers": simulated_answers(rng, request.hints, model.response_style), "simulated": True})


def _persona(rng: random.Random, traits: dict[str, float], model_key: str) -> dict:
    described = [
        TRAIT_WORDS[s][0 if z >= 0 else 1]
        for s, z in sorted(traits.items(), key=lambda kv: -abs(kv[1]))
        if s in TRAIT_WORDS
    ][:3]
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    occupation = rng.choice(OCCUPATIONS)
    age = rng.randint(19, 78)
    return {
        "name": name,
        "age": age,
        "gender": _weighted(rng, GENDERS, model_key),
        "sexual_orientation": _weighted(rng, ORIENTATIONS, model_key),
        "race": _weighted(rng, RACES, model_key),
        "ethnicity": rng.choice(["Spanish", "Irish-American", "Yoruba", "Han Chinese", "Punjabi", "Mexican", "German"]),
        "religious_belief": _weighted(rng, RELIGIONS, model_key),
        "occupation": occupation,
        "political_orientation": _weighted(rng, POLITICS, model_key),
        "location": rng.choice(LOCATIONS),
        "description": f"{name} is a {age}-year-old {occupation} who is "
        + (", ".join(described) if described else "hard to pin down")
        + ".",
        "simulated": True,
    }


def simulated_answers(rng: random.Random, hints: dict, style: ResponseStyle | None = None) -> dict[str, int]:
    """Question number -> the code shown for the answer: the person's own answers (or their
    traits'), then ``style``'s response styles applied in the order the items were shown
    (``hints["order"]``), on the answer scale as shown (``hints["option_order"]``)."""
    answers = _own_answers(rng, hints)
    if style is not None and style.active:
        answers = _styled(rng, hints, answers, style)
    if hints.get("option_order") == "descending":
        low, high = int(hints.get("min", 1)), int(hints.get("max", 5))
        answers = {number: low + high - answer for number, answer in answers.items()}
    return answers


def _styled(rng: random.Random, hints: dict, answers: dict[str, int], style: ResponseStyle) -> dict[str, int]:
    """Spread shrinkage toward the midpoint, a shift toward agreement (acquiescence, plus order
    drift growing with the position shown), then primacy: the first option shown, at random.
    Fractions are rounded at random in proportion, so a shift of 0.3 moves 30% of answers by one."""
    low, high = int(hints.get("min", 1)), int(hints.get("max", 5))
    agree = int(hints.get("agree", high))  # the code that means agreement
    toward_agreement = 1 if agree == high else -1
    first_shown = high if hints.get("option_order") == "descending" else low
    order = hints.get("order") or list(answers)
    last = max(len(order) - 1, 1)
    styled = dict(answers)
    for position, number in enumerate(order):
        value = float(answers[str(number)])
        value = (low + high) / 2 + (value - (low + high) / 2) * (1 - style.spread)
        value += toward_agreement * (style.acquiescence + style.order_drift * position / last)
        whole = math.floor(value)
        answer = max(low, min(high, whole + (rng.random() < value - whole if value != whole else 0)))
        if style.primacy and rng.random() < style.primacy:
            answer = first_shown
        styled[str(number)] = answer
    return styled


def _own_answers(rng: random.Random, hints: dict) -> dict[str, int]:
    low, high = int(hints.get("min", 1)), int(hints.get("max", 5))
    profile = {int(k): int(v) for k, v in hints.get("profile", {}).items()}
    traits = hints.get("traits", {})
    answers = {}
    for item in hints.get("items", [{"number": n} for n in sorted(profile)]):
        number = int(item["number"])
        if number in profile:
            answer = profile[number] + rng.choice([-1, 0, 0, 0, 0, 1])  # mostly the person's own answer
        else:
            sign = item.get("sign", -1 if item.get("key") in {"-", "no"} else 1)
            z = _trait(traits, item.get("scale")) * sign
            answer = round((low + high) / 2 + z * (high - low) / 3 + rng.gauss(0, (high - low) / 5))
        answers[str(number)] = max(low, min(high, answer))
    return answers


# Rough z-scores of a scale score, keyed by the trait and questionnaire scale it informs (the
# simulator's hint; real models never see it). EPQR-A E and N stand in for Big Five EXT and EST
# when a population answered only EPQR-A. A scale of another questionnaire (a user's) informs the
# trait of its own code, from its position in its range (``_generic_z``).
TRAIT_FROM_SCALE = {
    ("bigfive", "EXT"): ("EXT", lambda s: (s - 3.0) / 0.8),
    ("bigfive", "EST"): ("EST", lambda s: (s - 3.0) / 0.8),
    ("bigfive", "AGR"): ("AGR", lambda s: (s - 3.0) / 0.8),
    ("bigfive", "CSN"): ("CSN", lambda s: (s - 3.0) / 0.8),
    ("bigfive", "OPN"): ("OPN", lambda s: (s - 3.0) / 0.8),
    ("epqr_a", "E"): ("E", lambda s: (s - 3.0) / 1.8),
    ("epqr_a", "N"): ("N", lambda s: (s - 3.0) / 1.8),
    ("epqr_a", "P"): ("P", lambda s: (s - 3.0) / 1.8),
    ("epqr_a", "L"): ("L", lambda s: (s - 3.0) / 1.8),
}

STAND_INS = {"EXT": ("E", 1), "EST": ("N", -1), "E": ("EXT", 1), "N": ("EST", -1)}
# When answering, a scale whose trait the person lacks reads the same construct under the other
# naming: the IPIP codes (AGR, CSN, OPN) and the BFI's one-letter codes (A, C, O), so personas of
# a Big Five population answer a user's BFI-44 from their traits (and the reverse).
SAME_CONSTRUCT = {
    **STAND_INS,
    "AGR": ("A", 1),
    "CSN": ("C", 1),
    "OPN": ("O", 1),
    "A": ("AGR", 1),
    "C": ("CSN", 1),
    "O": ("OPN", 1),
}


def _trait(traits: dict[str, float], scale: str | None) -> float:
    if scale in traits:
        return traits[scale]
    other, sign = SAME_CONSTRUCT.get(scale, (None, 1))
    return sign * traits.get(other, 0.0)


def _generic_z(questionnaire: Questionnaire, scale: str, score: float) -> float:
    """A rough z-score of a scale score of any questionnaire: the midpoint of its possible range
    is 0, a fifth of the range is 1 (as for the Big Five's 1..5 means with sd about 0.8)."""
    if questionnaire.scoring == "likert":
        low, high = questionnaire.min_answer, questionnaire.max_answer
    else:
        low, high = 0, questionnaire.items.filter(pl.col("scale") == scale).height
    return (score - (low + high) / 2) / ((high - low) / 5 or 1)


def traits_from_scores(scores: pl.DataFrame) -> dict[int, dict[str, float]]:
    traits: dict[int, dict[str, float]] = {}
    generic: dict[int, dict[str, float]] = {}
    read: dict[str, Questionnaire] = {}
    for row in scores.iter_rows(named=True):
        known = TRAIT_FROM_SCALE.get((row["questionnaire"], row["scale"]))
        if known:
            trait, z = known
            traits.setdefault(row["personality_id"], {})[trait] = round(z(row["score"]), 3)
        else:
            if row["questionnaire"] not in read:
                read[row["questionnaire"]] = get_questionnaire(row["questionnaire"])
            z = _generic_z(read[row["questionnaire"]], row["scale"], row["score"])
            generic.setdefault(row["personality_id"], {})[row["scale"]] = round(z, 3)
    for pid, person in generic.items():  # the known mappings win where both name a trait
        traits[pid] = {**person, **traits.get(pid, {})}
    for person in traits.values():
        for trait, (other, sign) in STAND_INS.items():
            if trait not in person and other in person:
                person[trait] = sign * person[other]
    return traits


def answer_hints(questionnaire: Questionnaire, reference: pl.DataFrame, traits: dict) -> dict[int, dict]:
    """Per reference person: what the simulator needs to answer like them (real models never see it)."""
    items = []
    for n, s, k in questionnaire.items.select("number", "scale", "key").iter_rows():
        item = {"number": n, "scale": s, "key": k}
        # Whether the keyed answer is the top of the range; said only where the key alone does not
        # tell (not "+"/"yes" up, "-"/"no" down), so the shipped questionnaires' hints, and with them
        # the simulator's seeded replies, stay as they were.
        sign = 1 if questionnaire.extreme_answer(k) == questionnaire.max_answer else -1
        if sign != (-1 if k in {"-", "no"} else 1):
            item["sign"] = sign
        items.append(item)
    own = reference.filter(pl.col("questionnaire") == questionnaire.name)
    profiles = {
        pid: dict(zip(g["question_number"], g["answer"], strict=True)) for (pid,), g in own.group_by("personality_id")
    }
    people = set(reference["personality_id"].unique()) | set(traits)
    scale = {"min": questionnaire.min_answer, "max": questionnaire.max_answer}
    agree = agreement_code(questionnaire)
    if agree != questionnaire.max_answer:  # said only where it is not the top code, as for "sign"
        scale["agree"] = agree
    return {
        pid: {"items": items, **scale, "profile": profiles.get(pid, {}), "traits": traits.get(pid, {})}
        for pid in people
    }


def agreement_code(questionnaire: Questionnaire) -> int:
    """The answer that agrees with an item whatever its key: "yes" where the codes are yes/no,
    else the top code (the shipped Likert scales run from disagree to agree)."""
    by_label = {label.lower(): code for code, label in questionnaire.answer_codes.items()}
    return by_label.get("yes", questionnaire.max_answer)


# Typical reply lengths: a persona is a paragraph; an answer set is a JSON object of item codes.
register_purpose("persona", 450, simulate_persona)
register_purpose("questionnaire", 350, simulate_questionnaire)
