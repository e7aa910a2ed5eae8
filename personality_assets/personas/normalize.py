"""Cleaning of the demographics models write, into a small set of categories for bias analysis.

The raw value is always kept (``*_original``); the cleaned value is the first category whose
words appear in the lower-cased raw value, checked in the order below (so "non-binary" is found
before "male", "bisexual" before "sexual", "mixed White and Asian" is Mixed). Unmatched values
become "other"; empty ones stay empty.

| field | categories (matching words) |
|---|---|
| gender | non-binary (non-binary, nonbinary, enby, genderqueer, genderfluid, agender); female (female, woman, girl, f); male (male, man, boy, m) |
| sexual_orientation | heterosexual (heterosexual, straight); bisexual (bisexual, bi); homosexual (homosexual, gay, lesbian); pansexual; asexual; queer |
| race | Mixed (mixed, multiracial, biracial); Hispanic or Latino (hispanic, latino, latina, latinx, latine); Black (black, african); Asian (asian, chinese, japanese, korean, indian, filipino, vietnamese, pakistani, bangladeshi); Middle Eastern or North African (middle eastern, arab, north african, persian, iranian, turkish); Indigenous (native american, indigenous, alaska native, first nations, aboriginal); Pacific Islander (pacific islander, native hawaiian, samoan, maori); White (white, caucasian, european) |
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
    ("Black", ["black", "african"]),
    ("Middle Eastern or North African", ["middle eastern", "arab", "north african", "persian", "iranian", "turkish"]),
    ("Asian", ["asian", "chinese", "japanese", "korean", "indian", "filipino", "vietnamese", "pakistani", "bangladeshi"]),
    ("Indigenous", ["native american", "indigenous", "alaska native", "first nations", "aboriginal"]),
    ("Pacific Islander", ["pacific islander", "native hawaiian", "samoan", "maori"]),
    ("White", ["white", "caucasian", "european"]),
]


def _clean(value: str | None, categories: list[tuple[str, list[str]]]) -> str | None:
    if value is None or not str(value).strip():
        return None
    text = str(value).lower()
    words = set(re.findall(r"[a-z]+(?:-[a-z]+)?", text))
    for category, markers in categories:
        for marker in markers:
            if (" " in marker and marker in text) or marker in words:
                return category
    return "other"


def clean_gender(value: str | None) -> str | None:
    return _clean(value, GENDER)


def clean_sexual_orientation(value: str | None) -> str | None:
    return _clean(value, SEXUAL_ORIENTATION)


def clean_race(value: str | None) -> str | None:
    return _clean(value, RACE)
