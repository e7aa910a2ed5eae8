"""How a questionnaire is presented to a persona: item order, answer-scale direction and wording.

Each is a *factor* of the study with a base level (the original study's presentation) and other
levels; an experiment group records its levels, so every comparison between levels can be made
within persona. Answers are always stored in the questionnaire's own codes: a reply to a reversed
answer scale is mapped back here before it is stored or scored.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from personality_assets.questionnaires import Questionnaire

# Factor -> its base level: the presentation every study had before these factors existed.
FACTORS = {"item_order": "as_defined", "option_order": "ascending", "wording": "original"}
OPTION_ORDERS = ("ascending", "descending")
DEFAULT_ORDER_SEED = 20241120
DEFAULT_SHUFFLES = 2  # item_order shuffled: seeded shuffles besides the as-defined order


@dataclass(frozen=True)
class Presentation:
    """One combination of levels. ``order`` is the question numbers in the order shown (None: as
    defined); ``seed`` is the seed that shuffled it."""

    item_order: str = FACTORS["item_order"]
    option_order: str = FACTORS["option_order"]
    wording: str = FACTORS["wording"]
    seed: int | None = None
    order: tuple[int, ...] | None = None

    @property
    def levels(self) -> dict[str, str]:
        return {"item_order": self.item_order, "option_order": self.option_order, "wording": self.wording}

    @property
    def descending(self) -> bool:
        return self.option_order == "descending"

    def hash_settings(self) -> dict:
        """What enters an experiment group's configuration hash: nothing at the base levels, so
        the groups registered before these factors existed are found again unchanged."""
        settings = {factor: level for factor, level in self.levels.items() if level != FACTORS[factor]}
        if self.order is not None:
            settings |= {"order_seed": self.seed, "order": list(self.order)}
        return settings

    def stored(self) -> dict:
        """The group's ``presentation`` column: the seed and the order the items were shown in."""
        return {"seed": self.seed, "order": list(self.order) if self.order is not None else None}


def shuffled_order(questionnaire: Questionnaire, seed: int, shuffle: int) -> tuple[int, ...]:
    """The ``shuffle``-th seeded permutation of the questionnaire's items (the same for every
    persona, so the order is a condition, not noise)."""
    numbers = questionnaire.items["number"].to_list()
    random.Random(f"{seed}:{questionnaire.name}:{shuffle}").shuffle(numbers)
    return tuple(numbers)


def presentations(
    questionnaire: Questionnaire,
    *,
    item_order: str = "as_defined",
    orders: int = DEFAULT_SHUFFLES,
    order_seed: int = DEFAULT_ORDER_SEED,
    option_orders: list[str] | tuple[str, ...] = ("ascending",),
    wordings: list[str] | tuple[str, ...] = ("original",),
) -> list[Presentation]:
    """Every combination of the requested levels. ``item_order="shuffled"`` gives the as-defined
    order (the base level) and ``orders`` seeded shuffles, ``shuffled_1`` ... ``shuffled_<orders>``."""
    if item_order not in ("as_defined", "shuffled"):
        raise ValueError(f"item_order must be 'as_defined' or 'shuffled', got {item_order!r}")
    unknown = sorted(set(option_orders) - set(OPTION_ORDERS))
    if unknown or not option_orders:
        raise ValueError(f"option_orders must be some of {list(OPTION_ORDERS)}, got {list(option_orders)}")
    if not wordings:
        raise ValueError("wordings must name at least one wording ('original' is the study's own)")
    item_levels: list[tuple[str, int | None, tuple[int, ...] | None]] = [("as_defined", None, None)]
    if item_order == "shuffled":
        if orders < 1:
            raise ValueError(f"orders must be at least 1 with item_order 'shuffled', got {orders}")
        item_levels += [
            (f"shuffled_{k}", order_seed, shuffled_order(questionnaire, order_seed, k)) for k in range(1, orders + 1)
        ]
    return [
        Presentation(level, option_order, wording, seed, order)
        for level, seed, order in item_levels
        for option_order in dict.fromkeys(option_orders)
        for wording in dict.fromkeys(wordings)
    ]


def shown_codes(questionnaire: Questionnaire, option_order: str) -> dict[int, str]:
    """Answer code shown -> its label. Descending shows the scale reversed: the lowest code
    carries the label of the highest, and so on."""
    codes = questionnaire.answer_codes
    if option_order == "ascending":
        return dict(codes)
    low, high = questionnaire.min_answer, questionnaire.max_answer
    return {code: codes[low + high - code] for code in sorted(codes)}


def own_code(questionnaire: Questionnaire, shown: int, option_order: str) -> int:
    """The questionnaire's code of an answer given on the scale as shown."""
    if option_order == "ascending":
        return shown
    return questionnaire.min_answer + questionnaire.max_answer - shown


def presented_numbers(questionnaire: Questionnaire, order: list[int] | tuple[int, ...] | None) -> list[int]:
    """The question numbers in the order they were shown."""
    return list(order) if order is not None else questionnaire.items["number"].to_list()
