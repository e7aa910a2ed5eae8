"""What model calls are for. The call engine knows no research track: each track registers its
purposes (a name for accounting, a typical reply length for budgets and estimates, and what the
offline simulator replies) when its package is imported."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from personality_assets.llm.config import ModelConfig
    from personality_assets.llm.types import ChatRequest

Simulate = Callable[["ChatRequest", "ModelConfig", random.Random], str]


@dataclass(frozen=True)
class Purpose:
    name: str
    typical_output_tokens: int
    simulate: Simulate | None = None  # None: the simulator echoes the last user message


_PURPOSES: dict[str, Purpose] = {}


def register_purpose(name: str, typical_output_tokens: int, simulate: Simulate | None = None) -> Purpose:
    """Register (or replace, on a module reload) a purpose."""
    purpose = Purpose(name, typical_output_tokens, simulate)
    _PURPOSES[name] = purpose
    return purpose


def get_purpose(name: str) -> Purpose:
    try:
        return _PURPOSES[name]
    except KeyError:
        raise ValueError(f"purpose {name!r} is not registered; registered: {sorted(_PURPOSES)}") from None


register_purpose("chat", 200)  # a plain exchange, for scripts and tests
