"""Robustness report: its statistics against scipy, pingouin and statsmodels, the matched-cell
pairing of an unbalanced design by hand, the verdict at its thresholds, and the asset."""

import base64
import random
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pingouin
import polars as pl
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from personality_assets.defs.persona_study.presentation import (
    DEFAULT_ORDER_SEED,
    Presentation,
    own_code,
    presented_numbers,
    shuffled_order,
)
from personality_assets.defs.persona_study.reports.assets import (
    agreement_report,
    demographics_report,
    reliability_report,
    robustness_report,
    scale_score_report,
    study_report,
    validity_report,
)
from personality_assets.defs.persona_study.reports.robustness import (
    COLUMNS,
    FACTORS,
    LEVEL_COLUMNS,
    SHIFT_D,
    SHIFT_P,
    UNSTABLE_ICC,
    persona_level_scores,
    robustness_table,
    verdict,
)
from personality_assets.defs.persona_study.simulate import answer_hints, simulated_answers
from personality_assets.llm.config import ResponseStyle
from personality_assets.questionnaires import get_questionnaire, score
from personality_assets_tests.support.study import load_populations, materialize_study, research_resources

BASE = {factor: base for factor, base in FACTORS.items()}


def _scores(rows: list[dict]) -> pl.DataFrame:
    """Scale scores of one model × condition: each row names persona_id, score and the levels
    that differ from the base; experiment ids are numbered in order."""
    return pl.DataFrame(
        [
            {
                "model": "m",
                "condition": "c",
                "questionnaire": row.get("questionnaire", "bigfive"),
                "scale": row.get("scale", "EXT"),
                "experiment_id": row.get("experiment_id", i),
                "persona_id": row["persona_id"],
                **BASE,
                **{factor: row[factor] for factor in FACTORS if factor in row},
                "score": float(row["score"]),
            }
            for i, row in enumerate(rows)
        ]
    )


# Ten personas' base scores and their scores under a shuffled order (made up, unequal shifts).
BASE_SCORES = [3.1, 2.4, 4.0, 3.6, 1.8, 2.9, 3.3, 4.4, 2.2, 3.0]
SHUFFLED = [3.4, 2.5, 4.3, 3.5, 2.3, 3.1, 3.2, 4.9, 2.6, 3.3]
# A second scale, barely moved, so Holm has a family of two.
OTHER_BASE = [2.0, 3.0, 4.0, 2.5, 3.5, 1.5, 4.5, 3.0, 2.0, 3.8]
OTHER_SHUFFLED = [2.1, 2.9, 4.0, 2.6, 3.4, 1.6, 4.4, 3.1, 1.9, 3.9]


def _two_scales() -> pl.DataFrame:
    rows = []
    for scale, base, level in (("EXT", BASE_SCORES, SHUFFLED), ("AGR", OTHER_BASE, OTHER_SHUFFLED)):
        for persona, (b, s) in enumerate(zip(base, level, strict=True)):
            rows.append({"scale": scale, "persona_id": persona, "score": b})
            rows.append({"scale": scale, "persona_id": persona, "score": s, "item_order": "shuffled_1"})
    return _scores(rows)


def test_statistics_against_scipy_pingouin_and_statsmodels():
    table, levels = robustness_table(_two_scales())
    assert table.schema == pl.Schema(COLUMNS) and levels.schema == pl.Schema(LEVEL_COLUMNS)
    assert table.select("scale", "factor", "level", "base_level").rows() == [
        ("AGR", "item_order", "shuffled_1", "as_defined"),
        ("EXT", "item_order", "shuffled_1", "as_defined"),
    ]
    row = table.row(by_predicate=pl.col("scale") == "EXT", named=True)
    base, level = np.array(BASE_SCORES), np.array(SHUFFLED)
    shifts = level - base
    assert row["n"] == 10
    assert row["base_mean"] == pytest.approx(base.mean()) and row["level_mean"] == pytest.approx(level.mean())
    assert row["mean_shift"] == pytest.approx(0.24)  # the shifts sum to 2.4
    assert row["sd_shift"] == pytest.approx(shifts.std(ddof=1))
    assert row["d_z"] == pytest.approx(0.24 / shifts.std(ddof=1))
    mean_sd = (base.std(ddof=1) + level.std(ddof=1)) / 2
    assert row["d_av"] == pytest.approx(0.24 / mean_sd)
    paired = stats.ttest_rel(level, base)
    assert row["t"] == pytest.approx(paired.statistic) and row["p_t"] == pytest.approx(paired.pvalue)
    assert row["wilcoxon_p"] == pytest.approx(stats.wilcoxon(level, base).pvalue)

    long = pd.DataFrame(
        {"persona": list(range(10)) * 2, "rater": ["base"] * 10 + ["level"] * 10, "score": [*base, *level]}
    )
    icc = pingouin.intraclass_corr(long, targets="persona", raters="rater", ratings="score").set_index("Type")
    # pingouin's ICC(C,1) is ICC(3,1), its ICC(A,1) is ICC(2,1); it rounds the CI to 2 decimals.
    assert row["icc"] == pytest.approx(icc.loc["ICC(C,1)", "ICC"])
    assert (row["icc_ci_low"], row["icc_ci_high"]) == pytest.approx(tuple(icc.loc["ICC(C,1)", "CI95"]), abs=0.005)
    assert row["icc_agreement"] == pytest.approx(icc.loc["ICC(A,1)", "ICC"])
    assert (row["icc_agreement_ci_low"], row["icc_agreement_ci_high"]) == pytest.approx(
        tuple(icc.loc["ICC(A,1)", "CI95"]), abs=0.005
    )
    assert row["icc_ci_low"] < row["icc"] < row["icc_ci_high"]
    # ICC(3,1) and ICC(2,1) from the two-way ANOVA's mean squares, by hand.
    matrix = np.column_stack([base, level])
    n, k = matrix.shape
    grand = matrix.mean()
    ms_rows = k * ((matrix.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    ms_columns = n * ((matrix.mean(axis=0) - grand) ** 2).sum() / (k - 1)
    residual = matrix - matrix.mean(axis=1, keepdims=True) - matrix.mean(axis=0) + grand
    ms_error = (residual**2).sum() / ((n - 1) * (k - 1))
    assert row["icc"] == pytest.approx((ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error))
    assert row["icc_agreement"] == pytest.approx(
        (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error + k * (ms_columns - ms_error) / n)
    )

    # Holm across the whole table's paired-t p values.
    assert table["p_holm"].to_list() == pytest.approx(list(multipletests(table["p_t"].to_list(), method="holm")[1]))
    # Alpha is left empty without keyed item answers; the verdict follows its rule.
    assert table["alpha_base"].null_count() == 2
    assert table["verdict"].to_list() == [
        verdict(r["icc"], r["p_holm"], r["d_av"]) for r in table.iter_rows(named=True)
    ]
    # Each persona's pair of scores, for the figure.
    ext = levels.filter(pl.col("scale") == "EXT").sort("persona_id")
    assert ext["score"].to_list() == pytest.approx(SHUFFLED) and ext["base_score"].to_list() == pytest.approx(
        BASE_SCORES
    )


def test_alpha_under_each_level_over_the_matched_experiments():
    # Three EXT items per experiment; the scale score is their mean, as scoring does.
    rng = np.random.default_rng(3)
    keyed_rows, score_rows = [], []
    experiment = 0
    for persona in range(30):
        trait = rng.normal(3, 0.8)
        for order in ("as_defined", "shuffled_1"):
            items = np.clip(np.round(trait + rng.normal(0, 0.7, 3)), 1, 5)
            keyed_rows += [
                {"respondent": experiment, "question_number": number, "keyed": float(value)}
                for number, value in zip((1, 6, 11), items, strict=True)
            ]
            score_rows.append(
                {"persona_id": persona, "experiment_id": experiment, "item_order": order, "score": items.mean()}
            )
            experiment += 1
    # One experiment under the shuffled order has no base twin: neither side's alpha uses it.
    keyed_rows += [{"respondent": 999, "question_number": n, "keyed": 5.0} for n in (1, 6, 11)]
    score_rows.append({"persona_id": 99, "experiment_id": 999, "item_order": "shuffled_1", "score": 5.0})
    keyed = pl.DataFrame(keyed_rows).with_columns(
        model=pl.lit("m"), condition=pl.lit("c"), questionnaire=pl.lit("bigfive"), scale=pl.lit("EXT")
    )
    table, _ = robustness_table(_scores(score_rows), keyed)
    row = table.row(0, named=True)
    assert row["n"] == 30
    for side, order in (("alpha_base", "as_defined"), ("alpha_level", "shuffled_1")):
        experiments = [r["experiment_id"] for r in score_rows if r["item_order"] == order and r["persona_id"] != 99]
        wide = (
            keyed.filter(pl.col("respondent").is_in(experiments))
            .pivot(on="question_number", index="respondent", values="keyed")
            .drop("respondent")
            .to_numpy()
        )
        assert row[side] == pytest.approx(pingouin.cronbach_alpha(pd.DataFrame(wide))[0])


def test_matched_cells_in_an_unbalanced_design():
    rows = [
        # Persona 1 answered the shuffled order only with ascending options, twice as defined
        # (scores 2 and 4) and once descending as defined (5).
        {"persona_id": 1, "score": 2},
        {"persona_id": 1, "score": 4},
        {"persona_id": 1, "score": 5, "option_order": "descending"},
        {"persona_id": 1, "score": 3.5, "item_order": "shuffled_1"},
        # Persona 2 answered every cell, with three repetitions in one.
        {"persona_id": 2, "score": 1},
        {"persona_id": 2, "score": 2, "option_order": "descending"},
        {"persona_id": 2, "score": 2, "option_order": "descending"},
        {"persona_id": 2, "score": 5, "option_order": "descending"},
        {"persona_id": 2, "score": 4, "item_order": "shuffled_1"},
        {"persona_id": 2, "score": 6, "item_order": "shuffled_1", "option_order": "descending"},
        # Persona 3 has no base twin for its shuffled order: left out of the item-order comparison.
        {"persona_id": 3, "score": 3, "item_order": "shuffled_1", "option_order": "descending"},
        {"persona_id": 3, "score": 1},
    ]
    levels = persona_level_scores(_scores(rows))
    got = {(r["factor"], r["persona_id"]): (r["score"], r["base_score"]) for r in levels.iter_rows(named=True)}
    assert got == {
        # Item order, matched on option order. Persona 1: ascending only: 3.5 vs mean(2, 4).
        ("item_order", 1): (3.5, 3.0),
        # Persona 2: ascending 4 vs 1, descending 6 vs mean(2, 2, 5) = 3: level mean(4, 6), base mean(1, 3)
        # (pooling the repetitions instead would give a base of 2.5).
        ("item_order", 2): (5.0, 2.0),
        # Option order, matched on item order. Persona 1: as defined only: 5 vs 3.
        ("option_order", 1): (5.0, 3.0),
        # Persona 2: as defined 3 vs 1, shuffled 6 vs 4.
        ("option_order", 2): (4.5, 2.5),
    }
    table, _ = robustness_table(_scores(rows))
    item_order = table.row(by_predicate=pl.col("factor") == "item_order", named=True)
    assert (item_order["n"], item_order["base_mean"], item_order["level_mean"]) == (2, 2.5, 4.25)
    assert item_order["mean_shift"] == pytest.approx(1.75)
    # Two personas: a paired t, but no ICC (fewer than 3 personas), so no verdict.
    assert item_order["t"] is not None and (item_order["icc"], item_order["verdict"]) == (None, None)
    # One persona: no test either.
    one, _ = robustness_table(_scores(rows).filter(pl.col("persona_id") == 1))
    assert one.select("n", "t", "icc", "verdict").rows() == [(1, None, None, None)] * 2


@pytest.mark.parametrize(
    ("icc", "p_holm", "d_av", "expected"),
    [
        (UNSTABLE_ICC - 1e-9, 0.001, 1.0, "unstable"),
        (UNSTABLE_ICC, 0.001, 1.0, "shifts"),  # an ICC of exactly 0.75 is not unstable
        (0.9, SHIFT_P, 1.0, "stable"),  # p must be below 0.05
        (0.9, SHIFT_P - 1e-9, SHIFT_D, "shifts"),  # |d_av| of exactly 0.2 is a shift
        (0.9, SHIFT_P - 1e-9, -SHIFT_D, "shifts"),
        (0.9, 0.001, SHIFT_D - 1e-9, "stable"),
        (0.9, None, 1.0, "stable"),
        (None, 0.001, 1.0, None),
    ],
)
def test_verdict_at_its_thresholds(icc, p_holm, d_av, expected):
    assert verdict(icc, p_holm, d_av) == expected


def test_no_change_of_presentation_gives_empty_tables():
    for scores in (_scores([{"persona_id": 1, "score": 3}, {"persona_id": 1, "score": 4}]), _two_scales().clear()):
        table, levels = robustness_table(scores)
        assert table.is_empty() and table.schema == pl.Schema(COLUMNS)
        assert levels.is_empty() and levels.schema == pl.Schema(LEVEL_COLUMNS)


def test_constant_shift_and_no_shift_are_not_errors():
    same = _scores(
        [{"persona_id": p, "score": s} for p, s in enumerate(BASE_SCORES)]
        + [{"persona_id": p, "score": s, "wording": "paraphrase"} for p, s in enumerate(BASE_SCORES)]
    )
    row = robustness_table(same)[0].row(0, named=True)
    assert (row["mean_shift"], row["t"], row["wilcoxon_p"]) == (0.0, None, None)
    assert row["icc"] == pytest.approx(1.0) and row["verdict"] == "stable"


def test_asset_empty_without_other_presentations_then_a_row_per_scale_and_level(db_target):
    instance = dg.DagsterInstance.ephemeral()
    resources = research_resources(db_target)
    load_populations(resources, instance, ["sample"])
    assert materialize_study(resources, instance, "simulated", "sample", max_people=8).success
    result = dg.materialize([robustness_report], resources=resources, instance=instance)
    metadata = result.asset_materializations_for_node("robustness_report")[0].metadata
    assert pl.read_parquet(metadata["parquet"].value).is_empty()
    assert "item_order: shuffled" in metadata["note"].value and "ICC(3,1) < 0.75" in metadata["thresholds"].value

    # One shuffled order and the reversed answer scale for the same personas.
    conditions = {"item_order": "shuffled", "orders": 1, "option_orders": ["ascending", "descending"]}
    run_config = {"experiment_registrations": {"config": conditions}}
    assert materialize_study(resources, instance, "simulated", "sample", max_people=8, run_config=run_config).success
    result = dg.materialize([robustness_report], resources=resources, instance=instance)
    metadata = result.asset_materializations_for_node("robustness_report")[0].metadata
    report = pl.read_parquet(metadata["parquet"].value)
    # 9 scales (Big Five and EPQR-A) x (item_order shuffled_1, option_order descending), 8 personas each.
    assert report.height == 9 * 2 and set(report["n"]) == {8} and "note" not in metadata
    assert set(report.select("factor", "level").rows()) == {
        ("item_order", "shuffled_1"),
        ("option_order", "descending"),
    }
    assert report["alpha_base"].null_count() < report.height and report["icc"].null_count() < report.height
    levels = pl.read_parquet(metadata["levels"].value)
    assert levels.height == 9 * 2 * 8
    counts = dict(report["verdict"].value_counts().rows())
    for level_verdict in ("stable", "shifts", "unstable"):
        assert metadata[f"rows_{level_verdict}"].value == counts.get(level_verdict, 0)
    assert metadata["min_icc"].value == pytest.approx(report["icc"].min(), abs=1e-4)
    assert [record.data["icc"] for record in metadata["table"].records] == [
        None if icc is None else round(icc, 3) for icc in report["icc"]
    ]
    figure = metadata["figure/bigfive_EXT"].value
    assert figure.startswith("**Each persona's Extraversion (IPIP-50) score under every non-base presentation level")
    assert base64.b64decode(figure.split("data:image/png;base64,")[1].rstrip(")"))[:4] == b"\x89PNG"
    assert len([key for key in metadata if key.startswith("figure/")]) == 9

    reports = [scale_score_report, reliability_report, validity_report, agreement_report, demographics_report]
    result = dg.materialize([*reports, robustness_report, study_report], resources=resources, instance=instance)
    page = Path(result.asset_materializations_for_node("study_report")[0].metadata["html"].value).read_text()
    assert "Robustness to presentation" in page and "robustness_scatter_bigfive_EXT" in page


# Known answers (issue 23, item 4): the simulator answers as 150 people with Big Five traits, each
# "persona" under two presentations; a planted response style must be found (Holm p < .05 on the
# rows it moves) in at least 19 of 20 seeds, and nothing flagged in at most 1 of 20 without it.
BIGFIVE = get_questionnaire("bigfive")
PEOPLE = 150
SEEDS = range(20)
PLANTED_SHIFT = 0.15  # rows whose expected shift is at least this are the planted ones
NO_REFERENCE = pl.DataFrame(
    schema={"questionnaire": pl.String, "personality_id": pl.Int64, "question_number": pl.Int64, "answer": pl.Int64}
)
# The registration's first shuffle of the Big Five, as a study registered with `item_order: shuffled`.
SHUFFLED_1 = shuffled_order(BIGFIVE, DEFAULT_ORDER_SEED, 1)


def _trait_hints(seed: int) -> dict[int, dict]:
    """The simulator's hints for ``PEOPLE`` people with standard-normal Big Five traits."""
    rng = np.random.default_rng(seed)
    traits = {
        person: dict(zip(("EXT", "EST", "AGR", "CSN", "OPN"), rng.normal(0, 1, 5).round(3).tolist(), strict=True))
        for person in range(PEOPLE)
    }
    return answer_hints(BIGFIVE, NO_REFERENCE, traits)


def _simulated_scores(seed: int, presentations: list[Presentation], style: ResponseStyle) -> pl.DataFrame:
    """Each person answers every presentation with ``style``; the codes shown are mapped back to
    the questionnaire's (as the study stores them) and scored."""
    rows = []
    for person, hints in sorted(_trait_hints(seed).items()):
        for presentation in presentations:
            shown_hints = hints | {"order": presented_numbers(BIGFIVE, presentation.order)}
            if presentation.descending:
                shown_hints["option_order"] = presentation.option_order
            rng = random.Random(f"{seed}:{person}:{presentation.item_order}:{presentation.option_order}")
            for number, shown in simulated_answers(rng, shown_hints, style).items():
                answer = own_code(BIGFIVE, shown, presentation.option_order)
                rows.append((person, presentation.item_order, presentation.option_order, int(number), answer))
    answers = pl.DataFrame(
        rows, schema=["persona_id", "item_order", "option_order", "question_number", "answer"], orient="row"
    )
    return score(answers, BIGFIVE, by=["persona_id", "item_order", "option_order"]).with_columns(
        model=pl.lit("simulated"),
        condition=pl.lit("people"),
        questionnaire=pl.lit("bigfive"),
        wording=pl.lit("original"),
    )


def _keyed_signs() -> dict[int, int]:
    return {number: 1 if key == "+" else -1 for number, key in BIGFIVE.items.select("number", "key").iter_rows()}


def _detections(presentations, style, expected: dict[str, float]) -> tuple[int, int]:
    """Seeds where every planted row (|expected shift| >= PLANTED_SHIFT) shifts significantly in
    the expected direction, and seeds where any row is flagged."""
    planted = {scale for scale, shift in expected.items() if abs(shift) >= PLANTED_SHIFT}
    detected = flagged = 0
    for seed in SEEDS:
        table, _ = robustness_table(_simulated_scores(seed, presentations, style))
        significant = table.filter(pl.col("p_holm") < 0.05)
        flagged += significant.height > 0
        found = {
            row["scale"] for row in significant.iter_rows(named=True) if row["mean_shift"] * expected[row["scale"]] > 0
        }
        detected += planted <= found
    return detected, flagged


def test_order_drift_is_found_on_the_scales_the_shuffle_moved_and_nothing_without_it():
    # Order drift pushes each answer toward "agree" by drift × position / last position, so a
    # scale's score moves by the mean over its items of ±(shuffled - defined position) × drift /
    # last position: + for items keyed up, - for reversed ones (agreeing lowers their keyed value).
    presentations = [Presentation(), Presentation("shuffled_1", seed=DEFAULT_ORDER_SEED, order=SHUFFLED_1)]
    drift = 1.0
    defined, shuffled = presented_numbers(BIGFIVE, None), list(SHUFFLED_1)
    last, signs = len(defined) - 1, _keyed_signs()
    expected = {
        scale: float(
            np.mean([signs[n] * (shuffled.index(n) - defined.index(n)) * drift / last for n in group["number"]])
        )
        for (scale,), group in BIGFIVE.items.group_by("scale")
    }
    assert {scale for scale, shift in expected.items() if abs(shift) >= PLANTED_SHIFT} == {"OPN"}  # this shuffle
    detected, _ = _detections(presentations, ResponseStyle(order_drift=drift), expected)
    assert detected >= 19
    _, flagged = _detections(presentations, ResponseStyle(), expected)
    assert flagged <= 1


def test_primacy_is_found_on_unbalanced_scales_and_nothing_without_it():
    # Primacy replaces an answer with the first option shown with probability p: code 1 on the
    # ascending scale, code 5 on the reversed one, so the descending answers are 4p higher on
    # average, and a scale's score moves by 4p × (items keyed up - reversed items) / items.
    presentations = [Presentation(), Presentation(option_order="descending")]
    primacy = 0.15
    high_minus_low = BIGFIVE.max_answer - BIGFIVE.min_answer
    signs = _keyed_signs()
    expected = {
        scale: primacy * high_minus_low * sum(signs[n] for n in group["number"]) / group.height
        for (scale,), group in BIGFIVE.items.group_by("scale")
    }
    assert {scale for scale, shift in expected.items() if abs(shift) >= PLANTED_SHIFT} == {"EST", "OPN"}
    detected, _ = _detections(presentations, ResponseStyle(primacy=primacy), expected)
    assert detected >= 19
    _, flagged = _detections(presentations, ResponseStyle(), expected)
    assert flagged <= 1
