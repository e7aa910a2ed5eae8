"""The essay track: synthetic student essays across stance, evidence, style and quality."""

from personality_assets.defs.essays import simulate as _registers_the_track_purposes  # noqa: F401
