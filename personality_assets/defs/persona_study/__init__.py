"""The persona study: personas -> experiment registrations -> questionnaire answers -> scores."""

from personality_assets.defs.persona_study import simulate as _registers_the_study_purposes  # noqa: F401
