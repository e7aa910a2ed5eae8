"""Item-level agreement of each persona's answers with the reference person it was written from.

Every answer of an experiment is paired with the reference person's answer to the same item;
per questionnaire × scale × model × condition:
- every questionnaire: ``n`` (answer pairs compared) and ``accuracy`` (share answered the same);
- keyed questionnaires (``keyed_count``, e.g. EPQR-A's yes/no): ``precision`` and ``recall`` with
  the item's keyed answer as the positive class (the answer that raises the scale);
- Likert questionnaires: ``mae`` and ``rmse`` of the answer codes.
Items the reference person did not answer are not compared.
"""

from __future__ import annotations

import polars as pl

from personality_assets.defs.persona_study.reports.scale_scores import SCALE_ROW
from personality_assets.questionnaires import get_questionnaire, keyed_value, with_items

COLUMNS = {
    **SCALE_ROW,
    "n": pl.Int64,
    "accuracy": pl.Float64,
    "precision": pl.Float64,
    "recall": pl.Float64,
    "mae": pl.Float64,
    "rmse": pl.Float64,
}
GROUP = list(SCALE_ROW)


# Exact agreement of an answer with the reference person's, and the absolute error of the codes
# (the Likert questionnaires' MAE): per scale here, per persona in the individual fidelity table.
ACCURACY = (pl.col("answer") == pl.col("reference_answer")).mean().alias("accuracy")
ERROR = (pl.col("answer") - pl.col("reference_answer")).cast(pl.Float64)
MAE = ERROR.abs().mean().alias("mae")


def pair_with_reference(answers: pl.DataFrame, reference: pl.DataFrame) -> pl.DataFrame:
    """Each persona answer beside its reference person's answer to the same item
    (``reference_answer``); items the person did not answer are left out."""
    return answers.join(
        reference.rename({"personality_id": "ref_personality_id", "answer": "reference_answer"}),
        on=["condition", "ref_personality_id", "questionnaire", "question_number"],
    )


def agreement_table(answers: pl.DataFrame, reference: pl.DataFrame) -> pl.DataFrame:
    """``answers``: model, condition, questionnaire, question_number, answer, ref_personality_id
    (one row per persona answer). ``reference``: condition, personality_id, questionnaire,
    question_number, answer (the reference people's answers)."""
    paired = pair_with_reference(answers, reference)
    frames = []
    for (name,), group in paired.group_by("questionnaire"):
        questionnaire = get_questionnaire(name)
        # keyed == 1 marks the keyed (positive) answer of a binary item, the persona's and the reference's.
        both = with_items(group, questionnaire).with_columns(
            keyed_value(questionnaire).alias("keyed"),
            keyed_value(questionnaire, "reference_answer").alias("reference_keyed"),
        )
        if questionnaire.scoring == "keyed_count":
            positive, truth = pl.col("keyed") == 1, pl.col("reference_keyed") == 1
            metrics = [
                ((positive & truth).sum() / positive.sum()).alias("precision"),
                ((positive & truth).sum() / truth.sum()).alias("recall"),
            ]
        else:
            metrics = [MAE, (ERROR**2).mean().sqrt().alias("rmse")]
        frames.append(both.group_by(GROUP).agg(pl.len().alias("n"), ACCURACY, *metrics))
    if not frames:
        return pl.DataFrame(schema=COLUMNS)
    table = pl.concat(frames, how="diagonal_relaxed")
    missing = [pl.lit(None, dtype).alias(c) for c, dtype in COLUMNS.items() if c not in table.columns]
    return (
        table.with_columns(missing)
        .select(list(COLUMNS))
        .cast(COLUMNS)
        # 0/0 (no keyed answers at all) is undefined: null, not NaN.
        .with_columns(pl.col("precision", "recall").fill_nan(None))
        .sort(GROUP)
    )
