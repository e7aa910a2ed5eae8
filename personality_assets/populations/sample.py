"""The sample population that ships with the package: SYNTHETIC people, reproducible from a seed.

Each person gets five latent traits (Extraversion, Emotional Stability, Agreeableness,
Conscientiousness, Openness) drawn from a multivariate normal with the modest
intercorrelations usually reported for the Big Five, and answers both questionnaires from
them:
* bigfive: answer = 3 + 1.2 * (sign * trait) + item noise, rounded and clipped to 1..5;
* epqr_a: P(yes) = logistic(1.6 * sign * trait + item offset), with E ~ Extraversion,
  N ~ -Emotional Stability, P ~ -(Agreeableness + Conscientiousness) / 2 and
  L (lie) ~ (Agreeableness + Conscientiousness) / 2.
It is not real data and is labelled ``synthetic`` in the database and the metadata.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from personality_assets.questionnaires import Questionnaire

SAMPLE_POPULATION = "sample"
SAMPLE_SEED = 20241120
SAMPLE_SIZE = 300

TRAITS = ["EXT", "EST", "AGR", "CSN", "OPN"]
# Typical Big Five intercorrelations (stability, agreeableness and conscientiousness hang together).
TRAIT_CORRELATIONS = np.array(
    [
        [1.00, 0.20, 0.15, 0.10, 0.25],
        [0.20, 1.00, 0.25, 0.25, 0.10],
        [0.15, 0.25, 1.00, 0.25, 0.15],
        [0.10, 0.25, 0.25, 1.00, 0.05],
        [0.25, 0.10, 0.15, 0.05, 1.00],
    ]
)
EPQ_SCALE_TRAIT = {
    "E": lambda t: t["EXT"],
    "N": lambda t: -t["EST"],
    "P": lambda t: -(t["AGR"] + t["CSN"]) / 2,
    "L": lambda t: (t["AGR"] + t["CSN"]) / 2,
}


def sample_traits(size: int = SAMPLE_SIZE, seed: int = SAMPLE_SEED) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(np.zeros(len(TRAITS)), TRAIT_CORRELATIONS, size=size)
    return {trait: draws[:, index] for index, trait in enumerate(TRAITS)}


def sample_answers(
    questionnaires: list[Questionnaire], size: int = SAMPLE_SIZE, seed: int = SAMPLE_SEED
) -> pl.DataFrame:
    """Long-format answers of the synthetic sample for the given questionnaires."""
    traits = sample_traits(size, seed)
    rng = np.random.default_rng(seed + 1)
    people = np.arange(1, size + 1, dtype=np.int32)
    frames = []
    for questionnaire in questionnaires:
        for item in questionnaire.items.iter_rows(named=True):
            if questionnaire.name == "bigfive":
                sign = 1.0 if item["key"] == "+" else -1.0
                latent = 3 + 1.2 * sign * traits[item["scale"]] + rng.normal(0, 0.7, size)
                answer = np.clip(np.rint(latent), questionnaire.min_answer, questionnaire.max_answer)
            elif questionnaire.name == "epqr_a":
                keyed = questionnaire.code_for_label(item["key"])
                sign = 1.0 if keyed == questionnaire.max_answer else -1.0
                offset = rng.normal(-0.6 if item["scale"] == "P" else 0.0, 0.4)
                p_yes = 1 / (1 + np.exp(-(1.6 * sign * EPQ_SCALE_TRAIT[item["scale"]](traits) + offset)))
                answer = (rng.random(size) < p_yes).astype(int)
            else:
                continue  # no generative model for other questionnaires: the sample does not answer them
            frames.append(
                pl.DataFrame(
                    {
                        "personality_id": people,
                        "questionnaire": questionnaire.name,
                        "question_number": np.full(size, item["number"], dtype=np.int32),
                        "answer": answer.astype(np.int16),
                    }
                )
            )
    return pl.concat(frames).sort("personality_id", "questionnaire", "question_number")
