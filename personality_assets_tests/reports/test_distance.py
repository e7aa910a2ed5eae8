"""Distribution distance: scipy's Wasserstein distance normalised by the answer range."""

import numpy as np
import polars as pl
import pytest
from scipy import stats

from personality_assets.defs.persona_study.reports.distance import (
    item_distances,
    scale_distances,
    scale_range,
    similarity,
)
from personality_assets.questionnaires import get_questionnaire


def test_point_masses_at_the_ends_of_the_range_are_as_far_apart_as_can_be():
    # By hand: all the personas at 1, all the humans at 5 on a 1..5 scale: the whole mass moves 4.
    distance, similar = similarity(np.array([1, 1, 1]), np.array([5, 5]), 4.0)
    assert (distance, similar) == (4.0, 0.0)


def test_identical_distributions_have_similarity_one():
    answers = np.array([1, 2, 2, 3, 5])
    assert similarity(answers, answers, 4.0) == (0.0, 1.0)
    # The same shares from samples of different sizes: still no distance.
    assert similarity(np.repeat(answers, 3), answers, 4.0) == (0.0, 1.0)
    assert similarity(np.array([]), answers, 4.0) == (None, None)


def _answers(rng, people, numbers, probabilities):
    return pl.DataFrame(
        [
            (person, number, int(rng.choice([1, 2, 3, 4, 5], p=probabilities)))
            for person in range(people)
            for number in numbers
        ],
        schema=["personality_id", "question_number", "answer"],
        orient="row",
    ).with_columns(pl.lit("bigfive").alias("questionnaire"), pl.lit("c").alias("condition"))


def test_item_distances_against_scipy_on_the_raw_answers():
    """Reference: scipy.stats.wasserstein_distance on every raw answer (the table weighs codes by
    their counts instead)."""
    rng = np.random.default_rng(3)
    personas = _answers(rng, 90, [1, 4], [0.05, 0.1, 0.5, 0.25, 0.1]).with_columns(pl.lit("m").alias("model"))
    humans = _answers(rng, 70, [1, 4], [0.2, 0.2, 0.2, 0.2, 0.2])
    table = item_distances(personas, humans)
    assert table.height == 2 and table["item"].to_list() == ["EXT1", "EXT4"]  # bigfive items 1 and 4
    for row in table.iter_rows(named=True):
        mine = personas.filter(pl.col("question_number") == row["question_number"])["answer"].to_numpy()
        theirs = humans.filter(pl.col("question_number") == row["question_number"])["answer"].to_numpy()
        expected = stats.wasserstein_distance(mine, theirs)
        assert row["wasserstein"] == pytest.approx(expected, rel=1e-12)
        assert row["similarity"] == pytest.approx(1 - expected / 4, rel=1e-12)
        assert (row["n"], row["reference_n"], row["range"], row["scale"]) == (90, 70, 4.0, "EXT")
        assert row["mean"] == pytest.approx(mine.mean()) and row["reference_mean"] == pytest.approx(theirs.mean())


def test_scale_distances_use_the_possible_range_of_the_score():
    """Reference: scipy.stats.wasserstein_distance on the scores; a keyed count's range is its
    number of items (EPQR-A E: 0..6), a likert mean's the answer codes (Big Five: 1..5)."""
    assert scale_range(get_questionnaire("epqr_a"), "E") == 6.0
    assert scale_range(get_questionnaire("bigfive"), "EXT") == 4.0
    personas = pl.DataFrame(
        {
            "model": ["m"] * 6,
            "condition": ["c"] * 6,
            "questionnaire": ["epqr_a"] * 6,
            "scale": ["E"] * 6,
            "score": [0.0, 1.0, 1.0, 2.0, 6.0, 6.0],
        }
    )
    humans = pl.DataFrame(
        {"condition": ["c"] * 4, "questionnaire": ["epqr_a"] * 4, "scale": ["E"] * 4, "score": [3.0, 3.0, 4.0, 5.0]}
    )
    row = scale_distances(personas, humans).row(0, named=True)
    expected = stats.wasserstein_distance(personas["score"].to_numpy(), humans["score"].to_numpy())
    assert row["wasserstein"] == pytest.approx(expected) and row["similarity"] == pytest.approx(1 - expected / 6)
    assert (row["n"], row["reference_n"], row["range"]) == (6, 4, 6.0)
    # Humans of another condition only: nothing to compare, no error.
    alone = scale_distances(personas.with_columns(pl.lit("other").alias("condition")), humans).row(0, named=True)
    assert (alone["wasserstein"], alone["similarity"], alone["reference_n"]) == (None, None, 0)
