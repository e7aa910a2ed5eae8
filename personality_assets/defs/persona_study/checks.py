"""The checks of questionnaire_answers, declared on the asset (``check_specs``) so each partition's
materialisation reports its own."""

import dagster as dg
import polars as pl

from personality_assets.defs.steps import check_specs
from personality_assets.questionnaires import all_questionnaires

ANSWER_CHECKS = check_specs(
    "questionnaire_answers",
    {
        "complete_answers": "every succeeded experiment has an answer to every item",
        "answers_in_range": "every answer is one of its questionnaire's answer codes",
        "one_answer_per_item": "no experiment answers an item twice",
        "failed_share": "the share of experiments still failing is under max_failed_share",
    },
)


def answer_checks(
    answers: pl.DataFrame, status: pl.DataFrame, max_failed_share: float, partition: str
) -> list[dg.AssetCheckResult]:
    """The four checks' results for one partition (named in each result's metadata)."""
    questionnaires = all_questionnaires()
    expected = {name: q.item_count for name, q in questionnaires.items()}
    counts = answers.group_by("experiment_id", "questionnaire").agg(pl.col("question_number").n_unique().alias("n"))
    incomplete = counts.filter(pl.col("n") < pl.col("questionnaire").replace_strict(expected, return_dtype=pl.Int64))
    succeeded = status.filter(pl.col("succeeded").fill_null(False))
    without_answers = set(succeeded["experiment_id"]) - set(counts["experiment_id"])
    codes = pl.DataFrame(
        [(name, code) for name, q in questionnaires.items() for code in q.answer_codes],
        schema={"questionnaire": pl.String, "answer": pl.Int64},
        orient="row",
    )
    out_of_range = answers.join(codes, on=["questionnaire", "answer"], how="anti")
    duplicates = answers.filter(pl.struct("experiment_id", "question_number").is_duplicated())
    failed = int(status.filter(pl.col("succeeded").is_null() & pl.col("llm_explanation").is_not_null()).height)
    share = failed / status.height if status.height else 0.0
    return [
        dg.AssetCheckResult(
            check_name="complete_answers",
            passed=incomplete.is_empty() and not without_answers,
            metadata={"partition": partition, "incomplete_experiments": incomplete.height + len(without_answers)},
        ),
        dg.AssetCheckResult(
            check_name="answers_in_range",
            passed=out_of_range.is_empty(),
            metadata={"partition": partition, "out_of_range": out_of_range.height},
        ),
        dg.AssetCheckResult(
            check_name="one_answer_per_item",
            passed=duplicates.is_empty(),
            metadata={"partition": partition, "duplicate_answers": duplicates.height},
        ),
        dg.AssetCheckResult(
            check_name="failed_share",
            passed=share <= max_failed_share,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "partition": partition,
                "failed": failed,
                "share": round(share, 4),
                "threshold": max_failed_share,
            },
        ),
    ]
