"""The value-alignment track (journal entries and judge labels); its assets are still to come."""

from personality_assets.defs.values import simulate as _registers_the_track_purposes  # noqa: F401
