"""Individual-level fidelity: per-persona r across items against its reference person, the
baselines and the test-retest ceiling."""

import base64

import dagster as dg
import numpy as np
import polars as pl
import pytest
from scipy import stats

from personality_assets.defs.persona_study.reference import reference_answers
from personality_assets.defs.persona_study.reports.assets import agreement_report
from personality_assets.defs.persona_study.reports.fidelity import (
    PERMUTATION,
    RANDOM_RESPONDENTS,
    fidelity_summary,
    permuted_r,
    persona_fidelity,
    random_respondent_r,
    retest_r,
)
from personality_assets.populations.load import LoadOptions, load_population
from personality_assets.questionnaires import get_questionnaire, keyed_items
from personality_assets_tests.support.study import load_populations, materialize_study, research_resources

BIGFIVE = get_questionnaire("bigfive")
NUMBERS = BIGFIVE.items["number"].to_list()


def _people(rng, people: int) -> pl.DataFrame:
    """Reference people answering every Big Five item uniformly at random (no item means to share)."""
    answers = rng.integers(1, 6, size=(people, len(NUMBERS)))
    return pl.DataFrame(
        {
            "condition": "c",
            "personality_id": np.repeat(np.arange(1, people + 1), len(NUMBERS)),
            "questionnaire": "bigfive",
            "question_number": np.tile(NUMBERS, people),
            "answer": answers.ravel(),
        }
    )


def _personas(reference: pl.DataFrame, answer: pl.Expr, repetitions: int = 3) -> pl.DataFrame:
    """A persona per reference person (persona_id = 100 + its id), ``repetitions`` experiments
    answering with ``answer`` (an expression of the person's own ``answer``)."""
    return pl.concat(
        reference.select(
            pl.lit("m").alias("model"),
            "condition",
            "questionnaire",
            "question_number",
            answer.alias("answer"),
            (pl.col("personality_id") + 100).alias("persona_id"),
            pl.col("personality_id").alias("ref_personality_id"),
            pl.lit(repetition).alias("repeated"),
        )
        for repetition in range(repetitions)
    )


def _keyed_vector(answers: pl.DataFrame, person: int) -> np.ndarray:
    """A person's keyed answers in item order, by hand: reversed items (key -) as 6 - answer."""
    rows = answers.filter(pl.col("personality_id") == person).sort("question_number")
    keys = dict(zip(BIGFIVE.items["number"], BIGFIVE.items["key"], strict=True))
    return np.array([6 - a if keys[n] == "-" else a for n, a in rows.select("question_number", "answer").rows()])


def test_personas_copying_their_person_exactly_have_r_one():
    reference = _people(np.random.default_rng(1), 30)
    table = persona_fidelity(_personas(reference, pl.col("answer")), reference)
    assert table.height == 30 and table["items"].to_list() == [50] * 30
    assert table["r"].to_list() == pytest.approx([1.0] * 30)
    assert table["accuracy"].to_list() == [1.0] * 30 and table["mae"].to_list() == [0.0] * 30


def test_personas_answering_at_random_have_mean_r_near_zero_and_r_is_pearsons():
    """Reference: scipy.stats.pearsonr on the keyed answers (a persona's averaged over its
    repetitions), reversed items reversed by hand."""
    rng = np.random.default_rng(2)
    reference = _people(rng, 400)
    personas = _personas(reference, pl.lit(0)).with_columns(
        pl.Series("answer", rng.integers(1, 6, size=reference.height * 3))
    )
    table = persona_fidelity(personas, reference)
    assert abs(table["r"].mean()) < 0.02
    averaged = personas.group_by("ref_personality_id", "question_number").agg(pl.col("answer").mean())
    for person in (1, 77, 400):
        mine = _keyed_vector(averaged.rename({"ref_personality_id": "personality_id"}), person)
        theirs = _keyed_vector(reference, person)
        row = table.row(by_predicate=pl.col("ref_personality_id") == person, named=True)
        assert row["r"] == pytest.approx(stats.pearsonr(mine, theirs).statistic, rel=1e-9)
    # Accuracy and MAE over every answer, as the agreement report counts them.
    one = personas.filter(pl.col("ref_personality_id") == 1).join(
        reference.select("question_number", pl.col("answer").alias("truth"), "personality_id"),
        left_on=["ref_personality_id", "question_number"],
        right_on=["personality_id", "question_number"],
    )
    row = table.row(by_predicate=pl.col("ref_personality_id") == 1, named=True)
    assert row["accuracy"] == pytest.approx((one["answer"] == one["truth"]).mean())
    assert row["mae"] == pytest.approx((one["answer"] - one["truth"]).abs().mean())


def test_permutation_baseline_pairs_each_persona_with_another_person():
    rng = np.random.default_rng(3)
    reference = _people(rng, 300)
    personas = _personas(reference, pl.col("answer"))
    baseline = permuted_r(personas, reference, seed=7)
    assert baseline.height == 300 and abs(baseline["r"].mean()) < 0.02  # copying someone else: r about 0
    assert (baseline["r"] < 0.99).all()  # never its own person, whom it copies exactly
    # Seeded, whatever order the rows come in; another seed draws other partners.
    again = permuted_r(personas.reverse(), reference.reverse(), seed=7)
    assert again["personality_id"].to_list() == baseline["personality_id"].to_list()
    assert again["r"].to_list() == pytest.approx(baseline["r"].to_list(), rel=1e-9)
    assert permuted_r(personas, reference, seed=8)["r"].to_list() != pytest.approx(baseline["r"].to_list())


def test_random_respondent_baseline_and_retest_ceiling_by_hand():
    """Reference: scipy.stats.pearsonr between a person's two answer sets, keyed by hand."""
    rng = np.random.default_rng(4)
    first = _people(rng, 40)
    second = first.with_columns(  # a second wave: a third of the answers change by one
        pl.when(pl.Series(rng.random(first.height) < 0.33))
        .then((pl.col("answer") + 1).clip(1, 5))
        .otherwise(pl.col("answer"))
        .alias("answer")
    )
    retest = retest_r(first, second.filter(pl.col("personality_id") <= 30))
    assert retest.height == 30  # everyone in both waves
    for person in (1, 30):
        row = retest.row(by_predicate=pl.col("personality_id") == person, named=True)
        expected = stats.pearsonr(_keyed_vector(first, person), _keyed_vector(second, person)).statistic
        assert row["r"] == pytest.approx(expected, rel=1e-9) and row["items"] == 50
    only = random_respondent_r(first, second, people=pl.Series([3, 5]))
    assert sorted(only["personality_id"]) == [3, 5]


def test_summary_normalises_by_the_ceiling():
    personas = pl.DataFrame(
        {
            "model": "m",
            "condition": "c",
            "questionnaire": "bigfive",
            "persona_id": [1, 2, 3, 4],
            "ref_personality_id": [11, 12, 13, 14],
            "items": 50,
            "r": [0.1, 0.3, -0.1, None],
            "accuracy": [0.2, 0.4, 0.3, 0.1],
            "mae": [1.0, 0.5, 1.5, 2.0],
        }
    )
    baselines = pl.DataFrame(
        {
            "model": "m",
            "condition": "c",
            "baseline": PERMUTATION,
            "questionnaire": "bigfive",
            "personality_id": [11, 12],
            "items": 50,
            "r": [0.05, -0.01],
        }
    )
    ceilings = pl.DataFrame(
        {
            "condition": "c",
            "questionnaire": "bigfive",
            "personality_id": [11, 12, 15],
            "items": 50,
            "r": [0.7, 0.8, 0.6],
        }
    )
    row = fidelity_summary(personas, baselines, ceilings).row(0, named=True)
    # By hand: mean r (0.1 + 0.3 - 0.1) / 3 = 0.1; ceiling (0.7 + 0.8 + 0.6) / 3 = 0.7; 0.1 / 0.7.
    assert (row["n"], row["undefined"]) == (3, 1)
    assert row["mean_r"] == pytest.approx(0.1) and row["ceiling_r"] == pytest.approx(0.7)
    assert row["normalised"] == pytest.approx(0.1 / 0.7) and row["ceiling_n"] == 3
    interval = stats.ttest_1samp([0.1, 0.3, -0.1], 0).confidence_interval()
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((interval.low, interval.high))
    assert (row["median_r"], row["q1_r"], row["q3_r"]) == pytest.approx((0.1, 0.0, 0.2))
    assert row["share_positive"] == pytest.approx(2 / 3) and row["accuracy"] == pytest.approx(0.25)
    assert (row["baseline"], row["baseline_n"], row["baseline_r"]) == (PERMUTATION, 2, pytest.approx(0.02))
    # No retest loaded: no ceiling and nothing normalised.
    alone = fidelity_summary(personas, baselines).row(0, named=True)
    assert (alone["ceiling_r"], alone["normalised"], alone["ceiling_n"]) == (None, None, 0)


def _keyed_by_person(answers: pl.DataFrame, questionnaire: str) -> dict[int, np.ndarray]:
    """Each person's keyed answers to ``questionnaire`` in item order (questionnaires.keyed_items)."""
    rows = keyed_items(answers.filter(pl.col("questionnaire") == questionnaire), get_questionnaire(questionnaire))
    return {
        person: group.sort("question_number")["keyed"].to_numpy()
        for (person,), group in rows.group_by("personality_id")
    }


def _mean_pearson(left: dict, right: dict, people) -> float:
    return float(np.mean([stats.pearsonr(left[p], right[p]).statistic for p in people]))


def test_agreement_report_baselines_and_retest_ceiling(db_target, tmp_path):
    """Reference: scipy.stats.pearsonr per person on the loaded populations' keyed answers; the
    normalised ratio by hand. sample has sample_random and a retest (sample_retest, a CSV written
    here: people 1-40 again, a quarter of their Big Five answers moved by one); sample_maxN has
    neither, so its baseline is the permutation one and it has no ceiling."""
    instance = dg.DagsterInstance.ephemeral()
    resources = research_resources(db_target)
    load_populations(resources, instance, ["sample", "sample_random", "sample_maxN"])
    first = reference_answers(db_target, "sample")
    rng = np.random.default_rng(9)
    moved = rng.random(first.height) < 0.25
    second = first.with_columns(
        pl.when(pl.Series(moved) & (pl.col("questionnaire") == "bigfive"))
        .then(pl.when(pl.col("answer") < 5).then(pl.col("answer") + 1).otherwise(pl.col("answer") - 1))
        .otherwise(pl.col("answer"))
        .alias("answer")
    ).filter(pl.col("personality_id") <= 40)
    second.write_csv(tmp_path / "sample_retest.csv")
    load_population(
        db_target, "sample_retest", LoadOptions(path=str(tmp_path / "sample_retest.csv")), log=lambda message: None
    )
    for population in ("sample", "sample_maxN"):
        assert materialize_study(resources, instance, "simulated", population, max_people=10).success
    result = dg.materialize([agreement_report], resources=resources, instance=instance)
    metadata = result.asset_materializations_for_node("agreement_report")[0].metadata
    summary = pl.read_csv(metadata["individual_fidelity_csv"].value)
    personas = pl.read_parquet(metadata["individual_fidelity_personas"].value)
    assert set(summary.select("questionnaire", "condition").rows()) == {
        (q, c) for q in ("bigfive", "epqr_a") for c in ("sample", "sample_maxN")
    }
    refs = personas.filter(pl.col("condition") == "sample")["ref_personality_id"].unique().sort().to_list()
    random = reference_answers(db_target, "sample_random")
    for questionnaire in ("bigfive", "epqr_a"):
        row = summary.row(
            by_predicate=(pl.col("questionnaire") == questionnaire) & (pl.col("condition") == "sample"), named=True
        )
        base, again = _keyed_by_person(first, questionnaire), _keyed_by_person(second, questionnaire)
        ceiling = _mean_pearson(base, again, range(1, 41))
        assert (row["ceiling_n"], row["ceiling_r"]) == (40, pytest.approx(ceiling, rel=1e-9))
        assert row["normalised"] == pytest.approx(row["mean_r"] / ceiling, rel=1e-9)
        assert row["baseline"] == RANDOM_RESPONDENTS and row["baseline_n"] == len(refs) == 10
        randoms = _keyed_by_person(random, questionnaire)
        assert row["baseline_r"] == pytest.approx(_mean_pearson(base, randoms, refs), rel=1e-9)
        assert row["mean_r"] == pytest.approx(
            personas.filter((pl.col("questionnaire") == questionnaire) & (pl.col("condition") == "sample"))["r"].mean()
        )
    maxn = summary.filter(pl.col("condition") == "sample_maxN")
    assert set(maxn["baseline"]) == {PERMUTATION} and maxn["ceiling_r"].null_count() == maxn.height
    assert metadata["min_mean_r"].value == pytest.approx(summary["mean_r"].min(), abs=1e-4)
    assert metadata["min_normalised"].value == pytest.approx(summary["normalised"].min(), abs=1e-4)
    shown = metadata["individual_fidelity"]
    assert [record.data["mean_r"] for record in shown.records] == [round(r, 3) for r in summary["mean_r"]]
    assert metadata["individual_fidelity_rows"].value == summary.height
    figure = metadata["individual_fidelity_figure"].value
    assert base64.b64decode(figure.split("data:image/png;base64,")[1].rstrip(")"))[:4] == b"\x89PNG"
