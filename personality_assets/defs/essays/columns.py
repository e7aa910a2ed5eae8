"""What each column of the essay track's tables shown in the UI means (the descriptions of their
table metadata)."""

DIMENSION_LEVELS = {
    "key": "the level's key (in prompts, tables and partition-free references)",
    "label": "the level's name",
    "description": "what the level asks of an essay",
    "polarity": "stance: -2 (strongly against) to +2 (strongly for)",
    "min_words": "quality level: fewest words",
    "max_words": "quality level: most words",
}
ANGLES = {
    "angle": "angle of the topic the research seed covers",
    "facts": "facts gathered for it",
    "quotes": "quotes gathered for it",
    "sources": "sources cited for it",
    "first fact": "its first fact, first 120 characters",
}
BACKGROUNDS = {"persona_background": "student persona's background", "essays": "essays it is cast for"}
PREVIEW = {
    "id": "essay id",
    "stance": "stance level",
    "evidence": "evidence pattern",
    "style": "style level",
    "quality": "quality level",
    "word_count": "words written",
    "persona_background": "background of the student persona who wrote it",
}
WORD_COUNTS = {
    "quality": "quality level",
    "essays": "essays written at it",
    "min": "fewest words",
    "median": "median words",
    "max": "most words",
    "range_min": "the level's asked-for fewest words",
    "range_max": "the level's asked-for most words",
}


def level_count_columns(column: str) -> dict[str, str]:
    """Essays per level of one dimension (stance, evidence, style, quality)."""
    return {column: f"{column} level", "essays": "essays written at it"}
