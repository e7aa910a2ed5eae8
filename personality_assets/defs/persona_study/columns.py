"""What each column of the persona study's tables shown in the UI means (the descriptions of their
table metadata)."""

PERSONA_COUNTS = {
    "gender": "persona's gender",
    "race": "persona's race",
    "sexual_orientation": "persona's sexual orientation",
    "personas": "personas with it",
}

PERSONA_PREVIEW = {
    "id": "persona id",
    "ref_personality_id": "reference person the persona was made from",
    "name": "persona's name",
    "age": "persona's age",
    "gender": "persona's gender",
    "race": "persona's race",
    "occupation": "persona's occupation",
}

REGISTRATIONS = {
    "questionnaire": "questionnaire",
    "item_order": "order of the items (as_defined, or a seeded shuffle)",
    "option_order": "order of the answer options (ascending, descending)",
    "wording": "wording of the items (original, or a paraphrase)",
    "group": "experiments group id (one per questionnaire, presentation and configuration)",
    "new": "experiments registered by this run",
    "registered": "experiments in the group in all",
}

ANSWERS = {
    "questionnaire": "questionnaire",
    "experiments": "experiments registered",
    "succeeded": "experiments answered",
    "pending": "experiments not answered yet (or failed: a re-run retries them)",
}

FAILURES = {
    "llm_explanation": "why the experiment failed (the engine's explanation)",
    "experiments": "experiments that failed for it",
}

SCORE_SUMMARY = {
    "experiments_group_id": "experiments group (one per questionnaire, presentation and configuration)",
    "questionnaire": "questionnaire",
    "scale": "scale of the questionnaire",
    "experiments": "experiments scored",
    "persona_mean": "personas' mean scale score",
    "persona_sd": "personas' sd of the scale score",
    "reference_mean": "reference people's mean scale score",
    "mean_abs_difference": "mean |persona score - its reference person's score|",
    "r_with_reference": "Pearson r of persona scores with their reference people's",
}
