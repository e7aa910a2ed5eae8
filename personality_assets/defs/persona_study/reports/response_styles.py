"""Response styles: how a respondent answers regardless of what the items say, for personas and
the reference people alike, and the personas' styles against the humans'.

Indices, per respondent (an experiment, or a reference person) and questionnaire
(:func:`style_indices`):

* ``acquiescence_mean``: the mean answer over the **balanced keyed/reversed pairs** of the
  questionnaire (within each scale, the i-th keyed item with the i-th reversed one, in item
  order; items left over are not used). Content cancels within a pair, so what remains is the
  tendency to agree. Likert: the mean raw answer code; yes/no (keyed_count): the share of "yes"
  answers. Null when the questionnaire has no balanced pair.
* ``acquiescence_pairs``: the share of those pairs where the item and its reversed twin were
  **both** agreed with (a contradiction unless the respondent agrees with everything). Agreed:
  likert: an answer above the scale's midpoint; yes/no: the code labelled "yes" (a keyed_count
  questionnaire without a "yes" label: its top code).
* ``extreme_share``: the share of answers at the lowest or highest code. Null on a two-code
  scale (yes/no), where every answer is an end point.
* ``midpoint_share``: the share of answers at the middle code; null when the scale has none
  (1..6, yes/no).
* ``longest_run``: the longest run of identical answers in presentation order (``position``):
  a straight-liner has the item count.
* ``modal_share``: the share of the respondent's most frequent answer.
* ``items``: the answers the indices are computed from.

:func:`style_comparison` tests the personas' indices against the reference people of the same
condition (Welch's t, Cohen's d with the pooled sd, Holm across the whole table);
:func:`social_desirability` gives the standardised shift of persona scale means toward the
desirable pole (:data:`DESIRABLE_POLES`); :func:`reply_problems` counts invalid, failed and
refused replies per model from the call records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl

from personality_assets.defs.persona_study.presentation import FACTORS
from personality_assets.defs.persona_study.reports.scale_scores import holm, marker, welch
from personality_assets.questionnaires import Questionnaire, get_questionnaire

INDICES = (
    "acquiescence_mean",
    "acquiescence_pairs",
    "extreme_share",
    "midpoint_share",
    "longest_run",
    "modal_share",
)
INDEX_SCHEMA = {
    "items": pl.Int64,
    "acquiescence_mean": pl.Float64,
    "acquiescence_pairs": pl.Float64,
    "extreme_share": pl.Float64,
    "midpoint_share": pl.Float64,
    "longest_run": pl.Int64,
    "modal_share": pl.Float64,
}
# The presentation of a comparison row (factor -> base level); the reference people answered in
# the base presentation.
PRESENTATION = FACTORS
GROUP = ("model", "condition", *PRESENTATION, "questionnaire")

# Which pole of a scale is the socially desirable one: +1 high, -1 low. The EPQR-A lie scale
# measures socially desirable responding itself (high = more); for the Big Five the desirable
# poles are high extraversion, emotional stability (low neuroticism), agreeableness,
# conscientiousness and openness. bfi44 is the example user questionnaire (examples/), scored
# only when present. Scales not listed here are not part of the index.
DESIRABLE_POLES: dict[tuple[str, str], int] = {
    ("epqr_a", "L"): 1,
    ("bigfive", "EXT"): 1,
    ("bigfive", "EST"): 1,
    ("bigfive", "AGR"): 1,
    ("bigfive", "CSN"): 1,
    ("bigfive", "OPN"): 1,
    ("bfi44", "E"): 1,
    ("bfi44", "A"): 1,
    ("bfi44", "C"): 1,
    ("bfi44", "O"): 1,
    ("bfi44", "N"): -1,
}
OVERALL = "overall"  # the scale column of a group's mean shift over its desirability scales

# Common refusal phrasings, matched case-insensitively anywhere in a reply's raw text (straight
# or curly apostrophes). A reply of JSON answer codes never contains them.
REFUSAL_PATTERN = (
    r"(?i)\b(?:"
    r"I\s+can(?:not|['’]t|\s+not)\b"
    r"|I(?:['’]m|\s+am)\s+(?:sorry|unable|not\s+able)\b"
    r"|as\s+an\s+AI\b"
    r"|I\s+(?:won['’]t|will\s+not|must\s+decline|refuse)\b"
    r"|I\s+(?:do\s+not|don['’]t)\s+feel\s+comfortable\b"
    r")"
)
REFUSAL = re.compile(REFUSAL_PATTERN)


def agreement_code(questionnaire: Questionnaire) -> int:
    """The yes/no questionnaire's "agree" answer: the code labelled "yes" (else its top code)."""
    for code, label in questionnaire.answer_codes.items():
        if label.strip().lower() == "yes":
            return code
    return questionnaire.max_answer


def balanced_pairs(questionnaire: Questionnaire) -> pl.DataFrame:
    """pair, question_number: within each scale the i-th keyed item with the i-th reversed item
    (item order). Keyed: likert key "+"; keyed_count key = the agreement label ("yes")."""
    items = questionnaire.items.sort("number")
    if questionnaire.scoring == "likert":
        keyed = pl.col("key") == "+"
    else:
        keyed = pl.col("key") == questionnaire.answer_codes[agreement_code(questionnaire)]
    rows = []
    for scale in questionnaire.scales:
        in_scale = items.filter(pl.col("scale") == scale)
        forward = in_scale.filter(keyed)["number"].to_list()
        reversed_ = in_scale.filter(~keyed)["number"].to_list()
        for a, b in zip(forward, reversed_, strict=False):
            pair = len(rows) // 2
            rows += [(pair, a), (pair, b)]
    return pl.DataFrame(rows, schema={"pair": pl.Int64, "question_number": pl.Int64}, orient="row")


def with_defined_positions(answers: pl.DataFrame) -> pl.DataFrame:
    """``position`` for answers given in the order the questionnaire defines (the reference
    people; experiments stored before presentation orders existed): the item's index in
    ``questionnaire.items``. Rows that have a position keep it."""
    frames = []
    for (name,), group in answers.group_by("questionnaire", maintain_order=True):
        numbers = get_questionnaire(name).items["number"].to_list()
        order = pl.DataFrame(
            {"question_number": numbers, "_defined": list(range(len(numbers)))},
            schema={"question_number": group.schema["question_number"], "_defined": pl.Int64},
        )
        group = group.join(order, on="question_number", how="left")
        position = (
            pl.col("_defined") if "position" not in group.columns else pl.col("position").fill_null(pl.col("_defined"))
        )
        frames.append(group.with_columns(position.cast(pl.Int64).alias("position")).drop("_defined"))
    return (
        pl.concat(frames, how="diagonal_relaxed") if frames else answers.with_columns(position=pl.lit(None, pl.Int64))
    )


def with_base_presentation(frame: pl.DataFrame) -> pl.DataFrame:
    """The presentation columns, at their base levels where a frame has none (the reference
    people, and experiments from before presentation conditions were recorded)."""
    return frame.with_columns(
        (pl.col(factor).fill_null(base) if factor in frame.columns else pl.lit(base)).cast(pl.String).alias(factor)
        for factor, base in PRESENTATION.items()
    )


def style_indices(answers: pl.DataFrame, questionnaire: Questionnaire, keys: Sequence[str]) -> pl.DataFrame:
    """The response-style indices (see the module's doc) of each respondent of one questionnaire.

    ``answers``: the ``keys`` columns (who answered and in which group, e.g. model, condition,
    item_order, option_order, wording, experiment_id), ``question_number``, ``answer`` (the
    questionnaire's own codes) and ``position`` (0-based presentation position). Returns one row
    per distinct ``keys`` with ``questionnaire``, ``items`` and the indices."""
    keys = list(keys)
    low, high = questionnaire.min_answer, questionnaire.max_answer
    middle = (low + high) / 2
    answers = answers.select(*keys, pl.col("question_number").cast(pl.Int64), "answer", "position").filter(
        pl.col("answer").is_not_null()
    )
    if questionnaire.scoring == "likert":
        agreed, content_free = pl.col("answer") > middle, pl.col("answer").cast(pl.Float64)
    else:
        agreed = pl.col("answer") == agreement_code(questionnaire)
        content_free = agreed.cast(pl.Float64)

    extreme = ((pl.col("answer") == low) | (pl.col("answer") == high)).mean() if high - low > 1 else pl.lit(None)
    midpoint = (pl.col("answer") == middle).mean() if middle == int(middle) else pl.lit(None)
    shares = answers.group_by(keys).agg(
        pl.len().alias("items"),
        extreme.cast(pl.Float64).alias("extreme_share"),
        midpoint.cast(pl.Float64).alias("midpoint_share"),
    )
    modal = (
        answers.group_by([*keys, "answer"])
        .len()
        .group_by(keys)
        .agg((pl.col("len").max() / pl.col("len").sum()).alias("modal_share"))
    )
    runs = (
        answers.sort([*keys, "position"], nulls_last=True)
        .with_columns(pl.col("answer").rle_id().over(keys).alias("_run"))
        .group_by([*keys, "_run"])
        .len()
        .group_by(keys)
        .agg(pl.col("len").max().alias("longest_run"))
    )
    pairs = balanced_pairs(questionnaire)
    acquiescence = (
        answers.join(pairs, on="question_number")
        .group_by([*keys, "pair"])
        .agg(pl.len().alias("_answered"), content_free.sum().alias("_sum"), agreed.all().alias("_both"))
        .filter(pl.col("_answered") == 2)  # a pair counts only when both its items were answered
        .group_by(keys)
        .agg(
            (pl.col("_sum").sum() / (2 * pl.len())).alias("acquiescence_mean"),
            pl.col("_both").cast(pl.Float64).mean().alias("acquiescence_pairs"),
        )
    )
    table = shares
    for part in (modal, runs, acquiescence):
        table = table.join(part, on=keys, how="left", nulls_equal=True)
    return (
        table.with_columns(pl.lit(questionnaire.name).alias("questionnaire"))
        .select(*keys, "questionnaire", *INDEX_SCHEMA)
        .cast(INDEX_SCHEMA)
        .sort(keys, nulls_last=True)
    )


def all_style_indices(answers: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """:func:`style_indices` of every questionnaire in ``answers`` (a ``questionnaire`` column);
    answers without a ``position`` are placed in the questionnaire's own order."""
    if "position" not in answers.columns or answers["position"].null_count():
        answers = with_defined_positions(answers)
    frames = [
        style_indices(group, get_questionnaire(name), keys)
        for (name,), group in answers.group_by("questionnaire", maintain_order=True)
    ]
    return pl.concat(frames) if frames else pl.DataFrame()


COMPARISON_COLUMNS = {
    **dict.fromkeys(GROUP, pl.String),
    "index": pl.String,
    "n": pl.Int64,
    "mean": pl.Float64,
    "sd": pl.Float64,
    "reference_n": pl.Int64,
    "reference_mean": pl.Float64,
    "reference_sd": pl.Float64,
    "difference": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "welch_t": pl.Float64,
    "df": pl.Float64,
    "p": pl.Float64,
    "p_holm": pl.Float64,
    "significant": pl.String,
    "cohens_d": pl.Float64,
}


def _per_persona(frame: pl.DataFrame, keys: Sequence[str], values: Iterable[str]) -> pl.DataFrame:
    """One row per persona: its repetitions averaged (they are not independent respondents)."""
    if "persona_id" not in frame.columns:
        return frame
    return frame.group_by([*keys, "persona_id"]).agg(pl.col(list(values)).cast(pl.Float64).mean())


def _describe(values: np.ndarray, prefix: str = "") -> dict:
    n = len(values)
    return {
        f"{prefix}n": n,
        f"{prefix}mean": float(np.mean(values)) if n else None,
        f"{prefix}sd": float(np.std(values, ddof=1)) if n > 1 else None,
    }


def style_comparison(personas: pl.DataFrame, humans: pl.DataFrame) -> pl.DataFrame:
    """Each index of the personas against the reference people of the same condition, per
    model × condition × item_order × option_order × wording × questionnaire × index.

    ``personas``: style indices with model, condition, questionnaire (the presentation columns
    optional: base levels when absent) and, when present, ``persona_id``: a persona's
    repetitions are averaged into one value first. ``humans``: style indices with condition and
    questionnaire, one row per person. Welch's t (unequal variances) and Cohen's d (pooled sd)
    as the scale-score report computes them; Holm across the whole table; ``significant`` is
    the report's marker (``*`` p_holm < .05, ``**`` < .01, ``***`` < .001, ``ns``, ``n/a``). An
    index with no value on either side (e.g. midpoint_share of a 1..6 scale) has no row."""
    personas = _per_persona(with_base_presentation(personas), GROUP, [i for i in INDICES if i in personas.columns])
    reference = {key: group for key, group in humans.partition_by("condition", "questionnaire", as_dict=True).items()}
    rows = []
    for key, group in sorted(personas.partition_by(list(GROUP), as_dict=True).items()):
        identity = dict(zip(GROUP, key, strict=True))
        people = reference.get((identity["condition"], identity["questionnaire"]))
        for index in (index for index in INDICES if index in group.columns):
            values = group[index].drop_nulls().cast(pl.Float64).to_numpy()
            human = (
                people[index].drop_nulls().cast(pl.Float64).to_numpy()
                if people is not None and index in people.columns
                else np.array([])
            )
            if not len(values) and not len(human):
                continue
            test = welch(values, human)
            rows.append(
                {
                    **identity,
                    "index": index,
                    **_describe(values),
                    **_describe(human, "reference_"),
                    "difference": float(np.mean(values) - np.mean(human)) if len(values) and len(human) else None,
                    **test,
                }
            )
    schema = {c: t for c, t in COMPARISON_COLUMNS.items() if c not in ("p_holm", "significant")}
    table = pl.DataFrame(rows, schema=schema)
    adjusted = holm(table["p"].to_list())
    return table.with_columns(
        pl.Series("p_holm", adjusted, dtype=pl.Float64),
        pl.Series("significant", [marker(p) for p in adjusted], dtype=pl.String),
    ).select(list(COMPARISON_COLUMNS))


DESIRABILITY_COLUMNS = {
    **dict.fromkeys(GROUP, pl.String),
    "scale": pl.String,
    "pole": pl.String,
    "scales": pl.Int64,
    "n": pl.Int64,
    "mean": pl.Float64,
    "reference_n": pl.Int64,
    "reference_mean": pl.Float64,
    "reference_sd": pl.Float64,
    "shift": pl.Float64,
}


def social_desirability(persona_scores: pl.DataFrame, human_scores: pl.DataFrame) -> pl.DataFrame:
    """The standardised shift of the personas' scale means toward the desirable pole
    (:data:`DESIRABLE_POLES`) against the reference people of the same condition:
    ``shift = pole × (persona mean - human mean) / human sd``, so positive is toward the
    desirable pole (for a low-desirable scale such as BFI-44 N, a lower persona mean is
    positive), in the humans' sd units.

    ``persona_scores``: model, condition, questionnaire, scale, score (one row per experiment;
    with ``persona_id`` a persona's repetitions are averaged first; presentation columns
    optional). ``human_scores``: condition, questionnaire, scale, score. Per model × condition ×
    presentation one row per desirability scale answered, then a row with questionnaire "all"
    and scale "overall": the mean shift over those scales (each scale weighs the same;
    ``scales`` says how many). A scale whose humans have no spread has no shift (null)."""
    poles = pl.DataFrame(
        [(q, s, d) for (q, s), d in DESIRABLE_POLES.items()],
        schema={"questionnaire": pl.String, "scale": pl.String, "direction": pl.Int64},
        orient="row",
    )
    groups = [*GROUP, "scale"]
    personas = _per_persona(
        with_base_presentation(persona_scores).join(poles, on=["questionnaire", "scale"]), groups, ["score"]
    )
    persona_means = personas.group_by(groups).agg(pl.len().alias("n"), pl.col("score").mean().alias("mean"))
    human_means = (
        human_scores.join(poles, on=["questionnaire", "scale"])
        .group_by("condition", "questionnaire", "scale")
        .agg(
            pl.len().alias("reference_n"),
            pl.col("score").cast(pl.Float64).mean().alias("reference_mean"),
            pl.col("score").cast(pl.Float64).std().alias("reference_sd"),
        )
    )
    per_scale = (
        persona_means.join(human_means, on=["condition", "questionnaire", "scale"], how="left")
        .join(poles, on=["questionnaire", "scale"])
        .with_columns(
            pl.when(pl.col("direction") > 0).then(pl.lit("high")).otherwise(pl.lit("low")).alias("pole"),
            pl.lit(1, pl.Int64).alias("scales"),
            pl.when(pl.col("reference_sd") > 0)
            .then(pl.col("direction") * (pl.col("mean") - pl.col("reference_mean")) / pl.col("reference_sd"))
            .alias("shift"),
        )
    )
    overall = (
        per_scale.filter(pl.col("shift").is_not_null())
        .group_by([c for c in GROUP if c != "questionnaire"])
        .agg(pl.len().alias("scales"), pl.col("shift").mean())
        .with_columns(pl.lit("all").alias("questionnaire"), pl.lit(OVERALL).alias("scale"))
    )
    return (
        pl.concat([per_scale, overall], how="diagonal_relaxed")
        .select(list(DESIRABILITY_COLUMNS))
        .cast(DESIRABILITY_COLUMNS)
        .sort(
            *(c for c in GROUP if c != "questionnaire"),
            pl.col("scale") == OVERALL,
            "questionnaire",
            "scale",
        )
    )


REPLY_COLUMNS = {
    "model": pl.String,
    "purpose": pl.String,
    "requests": pl.Int64,
    "first_reply_invalid": pl.Int64,
    "first_reply_invalid_share": pl.Float64,
    "invalid_after_retries": pl.Int64,
    "invalid_share": pl.Float64,
    "failed": pl.Int64,
    "failed_share": pl.Float64,
    "refusals": pl.Int64,
    "refusal_share": pl.Float64,
}


def reply_problems(calls: pl.DataFrame, purpose: str = "questionnaire") -> pl.DataFrame:
    """Invalid, failed and refused replies per model, from the ``llm_calls`` records of one
    purpose (``calls``: model, purpose, status, json_valid_first, response_text).

    What the engine records, and so what each count means:

    * ``requests``: calls made (one row per request after its retries). Requests answered from
      the response cache make no row and are not counted.
    * ``first_reply_invalid``: calls whose first reply from the provider did not parse as JSON
      or failed the reply's validation (a missing item, a code outside the answer codes):
      ``json_valid_first`` is false. A call that never got a reply (``json_valid_first`` null)
      is not counted; a batch reply that failed validation is asked again online and that
      online call's first reply is what counts.
    * ``invalid_after_retries``: calls still invalid after every attempt (``status`` invalid).
    * ``failed``: calls that got no usable answer for another reason (``status`` failed:
      provider errors, timeouts, refused by the provider's API).
    * ``refusals``: calls whose recorded reply text matches :data:`REFUSAL_PATTERN`. The text
      recorded is the **last** attempt's, so a refusal that a retry replaced with a valid reply
      is counted in ``first_reply_invalid`` only.

    Each ``*_share`` is the count over ``requests``."""
    calls = calls.filter(pl.col("purpose") == purpose)
    counts = calls.group_by("model", "purpose").agg(
        pl.len().alias("requests"),
        (pl.col("json_valid_first") == False).sum().alias("first_reply_invalid"),  # noqa: E712 (null is not false)
        (pl.col("status") == "invalid").sum().alias("invalid_after_retries"),
        (pl.col("status") == "failed").sum().alias("failed"),
        pl.col("response_text").fill_null("").str.contains(REFUSAL_PATTERN).sum().alias("refusals"),
    )
    shares = {
        "first_reply_invalid_share": "first_reply_invalid",
        "invalid_share": "invalid_after_retries",
        "failed_share": "failed",
        "refusal_share": "refusals",
    }
    return (
        counts.with_columns((pl.col(count) / pl.col("requests")).alias(share) for share, count in shares.items())
        .select(list(REPLY_COLUMNS))
        .cast(REPLY_COLUMNS)
        .sort("model")
    )
