"""What each column of the value track's tables shown in the UI means (the descriptions of their
table metadata)."""

from personality_assets.defs.values.agreement import ALPHA_COLUMNS

_ALPHA = {name: f"Krippendorff's alpha, {name.removeprefix('krippendorff_alpha_')} level" for name in ALPHA_COLUMNS}

PERSONAS_BY_ATTRIBUTE = {
    "attribute": "persona attribute drawn from the pools",
    "category": "its value",
    "len": "personas with it",
}
CORE_VALUES = {"core_values": "declared core value", "len": "personas declaring it"}
ENTRIES_PER_PERSONA = {"len": "journal entries of a persona", "personas": "personas with that many entries"}
LABEL_DISTRIBUTION = {
    "value": "Schwartz value",
    "n": "entries labelled",
    "-1": "share of entries labelled -1 (acts against the value)",
    "0": "share labelled 0 (no signal)",
    "+1": "share labelled +1 (expresses the value)",
}
CORE_VALUE_EXPRESSION = {
    "core value": "core value a persona declares",
    "entries": "entries of the personas declaring it",
    "expressed (+1)": "share of those entries labelled +1 on it",
    "contradicted (-1)": "share of those entries labelled -1 on it",
    "+1 among other personas": "share labelled +1 on it among personas not declaring it",
}
LABEL_SAMPLE = {
    "persona_id": "persona",
    "t_index": "entry's position in the journal",
    "session (start)": "the entry's first 240 characters",
    "labels": "the ten value labels (-1, 0, +1)",
    "rationales": "the judge's rationales, first 240 characters",
}
SELF_CONSISTENCY = {
    "value": "Schwartz value",
    "fleiss_kappa": "Fleiss' kappa among the judge's passes",
    **_ALPHA,
    "n_entries": "entries with every pass (kappa)",
    "n_entries_alpha": "entries with at least two passes (alpha)",
    "passes": "judge passes",
    "n_left_out": "entries missing a pass",
    "note": "why a statistic is undefined (empty when defined)",
}
COHEN = {
    "value": "Schwartz value",
    "annotator": "human annotator (empty: the mean over annotators)",
    "cohens_kappa": "Cohen's kappa, judge vs the annotator",
    **_ALPHA,
    "n": "entries both labelled",
    "n_annotators": "annotators",
    "note": "why a statistic is undefined (empty when defined)",
}
FLEISS = {
    "value": "Schwartz value",
    "fleiss_kappa": "Fleiss' kappa among the human annotators",
    **_ALPHA,
    "n_entries": "entries every annotator labelled (kappa)",
    "n_entries_alpha": "entries at least two annotators labelled (alpha)",
    "n_annotators": "annotators",
    "n_left_out": "entries some annotator did not label",
    "note": "why a statistic is undefined (empty when defined)",
}
