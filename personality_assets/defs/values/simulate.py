"""The value-alignment track's side of the offline simulator. Entries are built from phrases that
express (or go against) a value, at the pools' per-value expression rates (a persona's declared
core values more often than other personas express them) and contradiction rate (an entry going
against one of the persona's own core values); the simulated judge finds those phrases in the
session, so its labels are mostly 0 with the published imbalance. Importing this module registers
the track's purposes: value_persona, journal, nudge, nudge_answer, judge."""

from __future__ import annotations

import json
import random

from personality_assets.defs.values.prompts import SESSION_END, SESSION_START
from personality_assets.defs.values.replies import SCHWARTZ_VALUES
from personality_assets.llm.config import ModelConfig
from personality_assets.llm.purposes import register_purpose
from personality_assets.llm.types import ChatRequest

# Per value: what a day that supports it (+1) and one that goes against it (-1) sound like.
PHRASES = {
    "self_direction": (
        "I decided to plan the project my own way instead of following the template.",
        "I let my manager decide everything again and kept my own ideas to myself.",
    ),
    "stimulation": (
        "I signed up for a climbing class just to try something completely new.",
        "I turned down the trip because anything unfamiliar felt like too much.",
    ),
    "hedonism": (
        "I spent the evening cooking my favourite meal and simply enjoyed it.",
        "I skipped the concert I was looking forward to and felt I had denied myself for nothing.",
    ),
    "achievement": (
        "I finally finished the certification and my results were the best in the group.",
        "I handed in the report half done and did not care how it looked.",
    ),
    "power": (
        "I took charge of the meeting and made sure my decision was the one we followed.",
        "I gave up the lead role so someone else could have the say.",
    ),
    "security": (
        "I set up the savings plan so we are safe if something goes wrong.",
        "I spent the rent money on a whim and now I am worried about the month.",
    ),
    "conformity": (
        "I kept quiet at dinner so I would not upset anyone with my opinion.",
        "I ignored the house rules and did what I wanted, whatever they think.",
    ),
    "tradition": (
        "We lit the candles and said the old blessing the way my grandmother did.",
        "I skipped the family ceremony; the old customs mean little to me now.",
    ),
    "benevolence": (
        "I stayed late to help my colleague with her move without being asked.",
        "My friend needed me tonight and I told her I was too busy.",
    ),
    "universalism": (
        "I volunteered at the community garden and talked with neighbours from everywhere.",
        "I threw the recycling in with the rubbish; someone else can care about the planet.",
    ),
}
FILLER = [
    "The weather was grey and the bus was late.",
    "I read a few pages before falling asleep.",
    "Work was busy but nothing special happened.",
    "I made tea and watched the street for a while.",
    "The day went by quickly.",
]
# A persona's core values are expressed this many times as often as the value's rate over all entries
# (less when the rates or the number of core values leave no room for it).
CORE_BOOST = 2.5
# An entry goes against a value that is neither the persona's core value nor expressed in it.
OPPOSE_OTHER = 0.5
# A judge sampling at temperature > 0 reads a signal into a neutral value this often (so passes
# disagree); at temperature 0 it reads exactly what was written.
SPURIOUS = 0.02

FIRST_NAMES = ["Ana", "Ben", "Chen", "Dara", "Elif", "Femi", "Grace", "Hiro", "Ines", "Jonas", "Kavya", "Luis"]
LAST_NAMES = ["Novak", "Okafor", "Silva", "Tanaka", "Weber", "Ruiz", "Patel", "Kim", "Haddad", "Moreau"]


def simulate_value_persona(request: ChatRequest, model: ModelConfig, rng: random.Random) -> str:
    hints = request.hints
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    background = (
        f"{name.split()[0]} is a {hints.get('profession', 'worker').lower()} in the {hints.get('age', '')} age "
        f"bracket with a {hints.get('culture', '')} upbringing, who lives with a small circle of family and friends."
    )
    return json.dumps({"name": name, "background": background, "simulated": True})


def expression_chances(
    rates: dict[str, float], core: list[str], core_share: float, contradiction: float
) -> dict[str, float]:
    """Per value, the chance that an entry of a persona with these core values expresses it, such
    that over all personas the share of entries expressing value v is ``rates[v]``.

    ``core_share`` is the chance that a value is a random persona's core value (mean core values
    per persona / 10). Core values get ``rate * boost``, the others ``rate * (1 - core_share *
    boost) / (1 - core_share)``, which averages to ``rate``; a core value's chance is raised by
    ``1 / (1 - contradiction / len(core))`` to make up for the entries that go against it instead."""
    chances = {}
    for value, rate in rates.items():
        boost = min(CORE_BOOST, 1 / core_share, (1 - contradiction) / rate if rate else CORE_BOOST)
        if value in core:
            kept = 1 - contradiction / len(core)  # the entries that do not go against this value
            chances[value] = min(1.0, rate * boost / kept) if kept > 0 else 0.0
        else:
            chances[value] = rate * (1 - core_share * boost) / (1 - core_share) if core_share < 1 else 0.0
    return chances


def simulate_journal(request: ChatRequest, model: ModelConfig, rng: random.Random) -> str:
    """Each entry: filler; with the contradiction rate, a sentence going against one of the
    persona's core values; each other value expressed with its chance (``expression_chances``, from
    the pools' simulator section in the hints); with ``OPPOSE_OTHER``, a sentence going against a
    value neither core nor expressed."""
    core = list(request.hints.get("core_values") or [rng.choice(SCHWARTZ_VALUES)])
    settings = request.hints.get("simulator") or {}
    rates = settings.get("expression_rates") or dict.fromkeys(SCHWARTZ_VALUES, 0.17)
    contradiction = settings.get("contradiction_rate", 0.1)
    chances = expression_chances(rates, core, settings.get("core_share", 0.15), contradiction)
    contradicted = rng.choice(core) if rng.random() < contradiction else None
    expressed = [v for v in SCHWARTZ_VALUES if v != contradicted and rng.random() < chances[v]]
    middle = [PHRASES[v][0] for v in expressed]
    if contradicted:
        middle.append(PHRASES[contradicted][1])
    others = [v for v in SCHWARTZ_VALUES if v not in core and v not in expressed]
    if others and rng.random() < OPPOSE_OTHER:
        middle.append(PHRASES[rng.choice(others)][1])
    rng.shuffle(middle)
    sentences = [rng.choice(FILLER), *middle, rng.choice(FILLER)]
    return json.dumps(
        {
            "title": rng.choice(["A long day", "Thoughts", "Tonight", "Small things"]),
            "entry": " ".join(sentences),
            "simulated": True,
        }
    )


def simulate_nudge(request: ChatRequest, model: ModelConfig, rng: random.Random) -> str:
    if rng.random() < 0.62:  # the original asked a follow-up after 62% of entries
        kind = rng.choice(["clarification", "elaboration", "tension"])
        question = {
            "clarification": "What exactly happened there?",
            "elaboration": "How did that feel afterwards?",
            "tension": "Does that sit well with what you said matters to you?",
        }[kind]
        return json.dumps({"ask": True, "kind": kind, "question": question, "simulated": True})
    return json.dumps({"ask": False, "kind": None, "question": None, "simulated": True})


def simulate_nudge_answer(request: ChatRequest, model: ModelConfig, rng: random.Random) -> str:
    """Deflects, or repeats something the entry already expressed (so the answer adds no label the
    entry did not have, and the expression rates hold for whole sessions)."""
    entry = request.messages[-1][1]
    written = [supports for supports, _ in PHRASES.values() if supports in entry]
    answer = rng.choice(["I would rather not go into it.", "It felt fine, honestly.", *written])
    return json.dumps({"answer": answer, "simulated": True})


def simulate_judge(request: ChatRequest, model: ModelConfig, rng: random.Random) -> str:
    text = " ".join(content for _, content in request.messages)
    if SESSION_START in text:
        text = text.split(SESSION_START, 1)[1].split(SESSION_END, 1)[0]
    labels, rationales = {}, {}
    sampling = request.parameters(model)["temperature"] > 0
    for value in SCHWARTZ_VALUES:
        supports, opposes = PHRASES[value]
        label = 1 if supports in text else -1 if opposes in text else 0
        if label == 0 and sampling and rng.random() < SPURIOUS:
            label = rng.choice([-1, 1])
        labels[value] = label
        if label:
            rationales[value] = f"simulated judge: {'supports' if label > 0 else 'goes against'} {value}"
    return json.dumps({**labels, "rationales": rationales, "simulated": True})


register_purpose("value_persona", 120, simulate_value_persona)
register_purpose("journal", 300, simulate_journal)
register_purpose("nudge", 40, simulate_nudge)
register_purpose("nudge_answer", 60, simulate_nudge_answer)
register_purpose("judge", 200, simulate_judge)
