"""Cleaning of the demographics models write, into a small set of categories for bias analysis.

The raw value is always kept (``*_original``). The cleaned value is found in passes over the
lower-cased raw value: first every multi-word marker of every category ("north african",
"american indian"), then the single words in the order below ("non-binary" before "male",
"mixed White and Asian" is Mixed), and last the weak words that only decide when nothing else
did ("african", "indian"). Unmatched values become "other"; empty ones stay empty.

| field | categories (matching words) |
|---|---|
| gender | non-binary (non-binary, nonbinary, enby, genderqueer, genderfluid, agender); female (female, woman, girl, f); male (male, man, boy, m) |
| sexual_orientation | heterosexual (heterosexual, straight); bisexual (bisexual, bi); homosexual (homosexual, gay, lesbian); pansexual; asexual; queer |
| race | Mixed (mixed, multiracial, biracial); Hispanic or Latino (hispanic, latino, latina, latinx, latine); Middle Eastern or North African (middle eastern, north african, arab, persian, iranian, turkish); Indigenous (native american, american indian, alaska native, first nations, indigenous, aboriginal); Pacific Islander (pacific islander, native hawaiian, samoan, maori); Black (black, african american); Asian (asian, chinese, japanese, korean, filipino, vietnamese, pakistani, bangladeshi); White (white, caucasian, european); weak: Black (african), Asian (indian) |
"""

from __future__ import annotations

import re

GENDER = [
    ("non-binary", ["non-binary", "nonbinary", "non binary", "enby", "genderqueer", "genderfluid", "agender"]),
    ("female", ["female", "woman", "girl", "f"]),
    ("male", ["male", "man", "boy", "m"]),
]
SEXUAL_ORIENTATION = [
    ("heterosexual", ["heterosexual", "straight"]),
    ("bisexual", ["bisexual", "bi"]),
    ("homosexual", ["homosexual", "gay", "lesbian"]),
    ("pansexual", ["pansexual"]),
    ("asexual", ["asexual", "ace"]),
    ("queer", ["queer"]),
]
RACE = [
    ("Mixed", ["mixed", "multiracial", "biracial", "multi-racial"]),
    ("Hispanic or Latino", ["hispanic", "latino", "latina", "latinx", "latine"]),
    ("Middle Eastern or North African", ["middle eastern", "north african", "arab", "persian", "iranian", "turkish"]),
    (
        "Indigenous",
        ["native american", "american indian", "alaska native", "first nations", "indigenous", "aboriginal"],
    ),
    ("Pacific Islander", ["pacific islander", "native hawaiian", "samoan", "maori"]),
    ("Black", ["black", "african american"]),
    ("Asian", ["asian", "chinese", "japanese", "korean", "filipino", "vietnamese", "pakistani", "bangladeshi"]),
    ("White", ["white", "caucasian", "european"]),
]
# Words that name a race only when nothing more specific was said ("White (South African)" is White).
RACE_WEAK = [("Black", ["african"]), ("Asian", ["indian"])]


def _clean(
    value: str | None, categories: list[tuple[str, list[str]]], weak: list[tuple[str, list[str]]] = ()
) -> str | None:
    if value is None or not str(value).strip():
        return None
    text = " ".join(re.findall(r"[a-z]+(?:-[a-z]+)?", str(value).lower()))
    words = set(text.split())
    passes = (
        lambda marker: " " in marker and f" {marker} " in f" {text} ",  # multi-word markers first
        lambda marker: " " not in marker and marker in words,
    )
    for matches in passes:
        for category, markers in categories:
            if any(matches(marker) for marker in markers):
                return category
    for category, markers in weak:
        if any(marker in words for marker in markers):
            return category
    return "other"


def clean_gender(value: str | None) -> str | None:
    return _clean(value, GENDER)


def clean_sexual_orientation(value: str | None) -> str | None:
    return _clean(value, SEXUAL_ORIENTATION)


def clean_race(value: str | None) -> str | None:
    return _clean(value, RACE, RACE_WEAK)
