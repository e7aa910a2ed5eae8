"""personality_assets: LLM persona research as reproducible Dagster assets."""

from personality_assets.definitions import defs

__all__ = ["defs"]
