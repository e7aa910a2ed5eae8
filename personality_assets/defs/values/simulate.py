"""The value-alignment track's side of the offline simulator: a short journal entry built from the
persona's traits (``hints["traits"]``), and judge labels from the entry's words. Importing this
module registers the track's purposes."""

from __future__ import annotations

import json
import random

from personality_assets.defs.values.replies import SCHWARTZ_VALUES
from personality_assets.llm.config import ModelConfig
from personality_assets.llm.purposes import register_purpose
from personality_assets.llm.types import ChatRequest

ENTRY_ENDINGS = [
    "I helped someone without being asked.",
    "I pushed hard to finish my project.",
    "I tried something new and exciting.",
    "I stuck to my routine, which felt safe.",
    "I went to a family gathering and kept our traditions.",
]
# A value is labelled aligned (1) when its cue is in the entry; otherwise mostly neutral.
JUDGE_CUES = {
    "benevolence": "helped",
    "achievement": "finish",
    "stimulation": "new and exciting",
    "security": "routine",
    "tradition": "traditions",
    "conformity": "routine",
    "hedonism": "good day",
}


def simulate_journal(request: ChatRequest, model: ModelConfig, rng: random.Random) -> str:
    traits = request.hints.get("traits", {})
    mood = "a good day" if traits.get("EST", 0) >= 0 else "a tense day"
    focus = rng.choice(["work", "family", "a friend", "my plans", "the neighbourhood", "money"])
    entry = f"Today was {mood}. I kept thinking about {focus}. {rng.choice(ENTRY_ENDINGS)}"
    return json.dumps({"title": f"Notes on {focus}", "entry": entry, "simulated": True})


def simulate_judge(request: ChatRequest, model: ModelConfig, rng: random.Random) -> str:
    text = " ".join(content for _, content in request.messages).lower()
    labels = {
        value: 1 if JUDGE_CUES.get(value, "\0") in text else rng.choice([0, 0, 0, -1, 1]) for value in SCHWARTZ_VALUES
    }
    return json.dumps({**labels, "rationale": "simulated judge: keyword cues", "simulated": True})


register_purpose("journal", 500, simulate_journal)
register_purpose("judge", 150, simulate_judge)
