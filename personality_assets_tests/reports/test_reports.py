"""Research reports: statistics against hand-computed values, and the report asset over partitions."""

import base64
import math
import re
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
from scipy import stats

from personality_assets import settings
from personality_assets.defs.persona_study.assets import (
    experiment_registrations,
    personas,
    questionnaire_answers,
    questionnaire_scores,
)
from personality_assets.defs.persona_study.reports.agreement import agreement_table
from personality_assets.defs.persona_study.reports.assets import (
    agreement_report,
    demographics_report,
    distribution_report,
    reliability_report,
    response_style_report,
    scale_score_report,
    study_report,
    validity_report,
)
from personality_assets.defs.persona_study.reports.demographics import (
    MarginalsError,
    demographics_table,
    marginals_table,
    read_marginals,
)
from personality_assets.defs.persona_study.reports.reliability import (
    bootstrap_alpha,
    cronbach_alpha,
    reliability_table,
    scale_reliability,
    standardized_alpha,
)
from personality_assets.defs.persona_study.reports.scale_scores import holm, marker, scale_score_table, welch
from personality_assets.defs.persona_study.reports.validity import (
    TraitPair,
    TraitPairsError,
    correlate,
    read_trait_pairs,
    validity_table,
)
from personality_assets.defs.reference.assets import questionnaires, reference_questionnaires
from personality_assets.populations.load import LoadOptions, load_population
from personality_assets.questionnaires import get_questionnaire, keyed_items
from personality_assets_tests.support.study import research_resources


def test_welch_against_hand_computed_values():
    personas, humans = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0, 6.0, 8.0])
    # By hand: means 2.5 and 5, variances 5/3 and 20/3, n = 4 each.
    se = math.sqrt(5 / 3 / 4 + 20 / 3 / 4)  # 1.4434
    t = (2.5 - 5.0) / se  # -1.7321
    df = (5 / 12 + 20 / 12) ** 2 / ((5 / 12) ** 2 / 3 + (20 / 12) ** 2 / 3)  # 4.4118
    pooled = math.sqrt((3 * 5 / 3 + 3 * 20 / 3) / 6)  # 2.0412
    result = welch(personas, humans)
    assert result["welch_t"] == pytest.approx(t, rel=1e-9) and result["df"] == pytest.approx(df, rel=1e-9)
    assert result["cohens_d"] == pytest.approx(-2.5 / pooled, rel=1e-9)
    from scipy import stats

    half = stats.t.ppf(0.975, df) * se
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((-2.5 - half, -2.5 + half), rel=1e-9)
    assert result["p"] == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-9)


def test_nothing_to_test_is_empty_not_an_error():
    assert welch(np.array([3.0]), np.array([1.0, 2.0]))["p"] is None
    assert welch(np.array([3.0, 3.0]), np.array([3.0, 3.0]))["welch_t"] is None


def test_holm_against_hand_computed_values():
    # Sorted 0.01 < 0.03 < 0.04 with m = 3: 0.03, max(0.06, 0.03), max(0.04, 0.06).
    assert holm([0.04, 0.01, None, 0.03]) == pytest.approx([0.06, 0.03, None, 0.06])
    assert [marker(p) for p in (0.0005, 0.005, 0.03, 0.2, None)] == ["***", "**", "*", "ns", "n/a"]


def test_scale_score_table_rows_and_family():
    personas = pl.DataFrame(
        {
            "model": ["m"] * 4 + ["k"] * 4,
            "condition": ["p"] * 8,
            "questionnaire": ["q"] * 8,
            "scale": ["S"] * 8,
            "score": [1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0],
        }
    )
    humans = pl.DataFrame(
        {"condition": ["p"] * 4, "questionnaire": ["q"] * 4, "scale": ["S"] * 4, "score": [2.0, 4.0, 6.0, 8.0]}
    )
    table = scale_score_table(personas, humans)
    assert table["model"].to_list() == ["reference", "k", "m"]  # the reference people first
    m = table.row(by_predicate=pl.col("model") == "m", named=True)
    assert (m["n"], m["mean"], m["reference_mean"], m["difference"]) == (4, 2.5, 5.0, -2.5)
    tested = table.filter(pl.col("p").is_not_null())
    assert tested["p_holm"].to_list() == pytest.approx(holm(tested["p"].to_list()))
    human = table.row(by_predicate=pl.col("model") == "reference", named=True)
    assert (human["n"], human["mean"], human["p"]) == (4, 5.0, None)


def test_alpha_against_hand_computed_values():
    # 4 respondents x 3 items: item variances 11/12, 2/3, 11/12 (sum 2.5); totals 3, 5, 7, 9 have
    # variance 20/3; alpha = 3/2 * (1 - 2.5 / (20/3)) = 0.9375.
    matrix = np.array([[1, 1, 1], [1, 2, 2], [2, 2, 3], [3, 3, 3]], dtype=float)
    assert cronbach_alpha(matrix) == pytest.approx(0.9375)
    r = np.corrcoef(matrix, rowvar=False)[np.triu_indices(3, 1)].mean()
    assert standardized_alpha(matrix) == pytest.approx(3 * r / (1 + 2 * r))


def test_alpha_with_missing_answers_matches_pingouin_listwise():
    pingouin = pytest.importorskip("pingouin")
    import pandas as pd

    rng = np.random.default_rng(7)
    trait = rng.normal(size=(400, 1))
    matrix = (trait + rng.normal(size=(400, 6)) > 0).astype(float)
    matrix[rng.random(matrix.shape) < 0.04] = np.nan
    result = scale_reliability(matrix, resamples=500, seed=1)
    expected, _ = pingouin.cronbach_alpha(pd.DataFrame(matrix), nan_policy="listwise")
    complete = int((~np.isnan(matrix).any(axis=1)).sum())
    assert result["alpha"] == pytest.approx(expected, rel=1e-9)
    assert (result["n"], result["n_missing"], result["items"]) == (complete, 400 - complete, 6)
    assert result["ci_low"] < result["alpha"] < result["ci_high"] and result["resamples"] == 500
    # The vectorised bootstrap equals resampling rows one by one with the same draws.
    alphas = bootstrap_alpha(matrix[~np.isnan(matrix).any(axis=1)], resamples=20, seed=3)
    rows = np.random.default_rng(3).integers(0, complete, size=(20, complete))
    loop = [cronbach_alpha(matrix[~np.isnan(matrix).any(axis=1)][picks]) for picks in rows]
    assert alphas == pytest.approx(loop, rel=1e-9)
    # Seeded: the same CI twice.
    assert scale_reliability(matrix, resamples=500, seed=1)["ci_low"] == result["ci_low"]


def test_alpha_undefined_without_variance_is_a_note_not_an_error():
    everyone_the_same = np.array([[6, 6, 6], [6, 6, 6], [6, 6, 6]], dtype=float)
    result = scale_reliability(everyone_the_same, resamples=100)
    assert result["alpha"] is None and result["ci_low"] is None and result["standardized_alpha"] is None
    assert result["note"] == "undefined: no variance in the scale score"
    assert scale_reliability(np.array([[1.0, 2.0]]))["note"] == "undefined: fewer than 2 respondents or items"


def test_reliability_table_keys_reversed_items_first():
    # A likert questionnaire with one reversed item: consistent answers give alpha 1 only once reversed.
    keyed = keyed_items(
        pl.DataFrame(
            {
                "respondent": [1, 1, 2, 2, 3, 3],
                "question_number": [1, 4, 1, 4, 1, 4],  # bigfive EXT1 (+) and EXT4 (-)
                "answer": [5, 1, 3, 3, 1, 5],
            }
        ),
        get_questionnaire("bigfive"),
    ).with_columns(pl.lit("m").alias("model"), pl.lit("c").alias("condition"), pl.lit("bigfive").alias("questionnaire"))
    # α cannot tell a right reversal from a shifted one (x -> 5 - x gives the same α), so check the
    # keyed values themselves: a reversed likert item on 1..5 is 6 - answer, within the answer range.
    assert keyed.sort("respondent", "question_number")["keyed"].to_list() == [5, 5, 3, 3, 1, 1]
    table = reliability_table(keyed, resamples=0)
    assert table["alpha"].to_list() == [pytest.approx(1.0)] and table["n"].to_list() == [3]


def _bigfive_keyed(answers: pl.DataFrame) -> pl.DataFrame:
    """keyed_items of bigfive answers (model, condition, respondent, question_number, answer)."""
    return keyed_items(answers, get_questionnaire("bigfive")).with_columns(pl.lit("bigfive").alias("questionnaire"))


def test_n_missing_counts_respondents_without_any_item_of_the_scale():
    # Respondent 3 answered the AGR items (22, 24) but no EXT item (1, 3): missing from EXT all the
    # same, as respondent 4 who answered one EXT item.
    answers = pl.DataFrame(
        {
            "respondent": [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5, 5],
            "question_number": [1, 3, 22, 24, 1, 3, 22, 24, 22, 24, 1, 22, 24, 1, 3, 22, 24],
            "answer": [5, 4, 2, 4, 3, 3, 4, 2, 1, 5, 4, 3, 3, 1, 2, 5, 4],
        }
    ).with_columns(pl.lit("m").alias("model"), pl.lit("c").alias("condition"))
    table = reliability_table(_bigfive_keyed(answers), resamples=0)
    counts = {row["scale"]: (row["n"], row["n_missing"]) for row in table.iter_rows(named=True)}
    assert counts == {"EXT": (3, 2), "AGR": (5, 0)}


def test_bootstrap_ci_does_not_depend_on_the_order_the_data_were_built_in():
    # The same answers of two conditions, once with respondent ids in one order and the
    # conditions in one order, once renumbered the other way round (as in a database whose
    # partitions ran in another order): every row's CI is the same.
    rng = np.random.default_rng(5)
    trait = rng.normal(size=(60, 1))
    matrix = np.clip(np.rint(3 + trait + rng.normal(size=(60, 4))), 1, 5).astype(int)  # one trait, 4 items
    frames = []
    for condition, people in (("c1", range(30)), ("c2", range(30, 60))):
        for person in people:
            for item, number in enumerate((1, 3, 22, 24)):  # EXT1, EXT3, AGR2, AGR4: all keyed +
                frames.append((condition, person, number, int(matrix[person, item])))
    answers = pl.DataFrame(
        frames, schema=["condition", "respondent", "question_number", "answer"], orient="row"
    ).with_columns(pl.lit("m").alias("model"))
    first = reliability_table(_bigfive_keyed(answers), resamples=200)
    renumbered = answers.with_columns((1000 - pl.col("respondent")).alias("respondent")).reverse()
    second = reliability_table(_bigfive_keyed(renumbered), resamples=200)
    columns = ["questionnaire", "scale", "condition", "n", "alpha", "ci_low", "ci_high"]
    assert first.select(columns).to_dicts() == second.select(columns).to_dicts()
    # One condition on its own gets the same CIs as among the others.
    alone = reliability_table(_bigfive_keyed(renumbered.filter(pl.col("condition") == "c2")), resamples=200)
    assert alone.select(columns).to_dicts() == first.filter(pl.col("condition") == "c2").select(columns).to_dicts()


def test_correlations_and_trait_pairs(tmp_path):
    x, y = np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([2.0, 1.0, 4.0, 3.0, 5.0])
    result = correlate(x, y)
    assert result["pearson_r"] == pytest.approx(np.corrcoef(x, y)[0, 1]) == pytest.approx(0.8)
    assert result["spearman_rho"] == pytest.approx(0.8)
    z, half = math.atanh(0.8), 1.959963984540054 / math.sqrt(5 - 3)
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((math.tanh(z - half), math.tanh(z + half)))
    assert correlate(x, np.ones(5))["note"] == "undefined: no variance in one of the scores"
    pairs_file = tmp_path / "pairs.toml"
    pairs_file.write_text('[[pair]]\ntrait = "E"\na = "epqr_a.E"\nb = "bigfive"\n')
    with pytest.raises(TraitPairsError, match=r"pairs.toml: pair 1: b = 'bigfive' is not"):
        read_trait_pairs(pairs_file)
    pairs_file.write_text('[[pair]]\ntrait = "E"\na = "epqr_a.E"\nb = 3\n')
    with pytest.raises(TraitPairsError, match=r"pair 1: b = 3 is not"):
        read_trait_pairs(pairs_file)
    pairs_file.write_text('[[pair]]\ntrait = "E"\na = "epqr_a.E"\n')
    with pytest.raises(TraitPairsError, match=r"pair 1: missing field 'b'"):
        read_trait_pairs(pairs_file)
    shipped = read_trait_pairs(settings.trait_pairs_file())
    assert ("epqr_a", "N") in [p.a for p in shipped if p.b == ("bigfive", "EST") and p.expected == "negative"]


def test_validity_table_per_persona_and_skipped_pairs():
    # Two repetitions per persona are averaged before correlating; bfi44 was never answered.
    scores = pl.DataFrame(
        {
            "model": ["m"] * 12,
            "condition": ["c"] * 12,
            "respondent": [1, 1, 2, 2, 3, 3] * 2,
            "questionnaire": ["epqr_a"] * 6 + ["bigfive"] * 6,
            "scale": ["E"] * 6 + ["EXT"] * 6,
            "score": [1.0, 3.0, 4.0, 4.0, 6.0, 6.0, 2.0, 2.0, 3.0, 3.0, 5.0, 5.0],
        }
    )
    pairs = [
        TraitPair("E", ("epqr_a", "E"), ("bigfive", "EXT"), "positive"),
        TraitPair("E", ("epqr_a", "E"), ("bfi44", "E"), "positive"),
    ]
    table, skipped = validity_table(scores, pairs)
    assert skipped == pairs[1:] and table.height == 1
    assert table["n"][0] == 3 and table["pearson_r"][0] == pytest.approx(np.corrcoef([2, 4, 6], [2, 3, 5])[0, 1])


def test_agreement_against_hand_computed_values():
    # EPQR-A item 2 (E, keyed yes) and item 1 (N, keyed yes); persona vs reference person 7.
    answers = pl.DataFrame(
        {
            "model": ["m"] * 4,
            "condition": ["c"] * 4,
            "questionnaire": ["epqr_a"] * 4,
            "question_number": [2, 2, 2, 2],
            "answer": [1, 1, 0, 0],
            "ref_personality_id": [7, 8, 9, 10],
        }
    )
    reference = pl.DataFrame(
        {
            "condition": ["c"] * 4,
            "personality_id": [7, 8, 9, 10],
            "questionnaire": ["epqr_a"] * 4,
            "question_number": [2, 2, 2, 2],
            "answer": [1, 0, 1, 0],
        }
    )
    row = agreement_table(answers, reference).row(0, named=True)
    # yes/yes, yes/no, no/yes, no/no: accuracy 2/4; precision 1/2 (said yes); recall 1/2 (truly yes).
    assert (row["scale"], row["n"], row["accuracy"], row["precision"], row["recall"]) == ("E", 4, 0.5, 0.5, 0.5)
    assert row["mae"] is None
    likert = agreement_table(
        answers.with_columns(pl.lit("bigfive").alias("questionnaire"), pl.Series("answer", [5, 4, 1, 3])),
        reference.with_columns(pl.lit("bigfive").alias("questionnaire"), pl.Series("answer", [5, 2, 2, 3])),
    ).row(0, named=True)
    # Errors 0, 2, 1, 0: MAE 3/4, RMSE sqrt(5/4); exact agreement 2/4.
    assert (likert["mae"], likert["rmse"], likert["accuracy"]) == pytest.approx((0.75, math.sqrt(1.25), 0.5))
    assert likert["precision"] is None


def test_demographics_z_tests_and_marginals(tmp_path):
    personas = pl.DataFrame(
        {
            "model": ["m"] * 200,
            "condition": ["base"] * 100 + ["base_maxN"] * 100,
            "gender": ["female"] * 50 + ["male"] * 50 + ["female"] * 70 + ["male"] * 30,
            "race": ["White"] * 200,
            "sexual_orientation": [None] * 200,
            "age": [30] * 150 + [70] * 50,
            "religious_belief": [" Christian "] * 200,
            "political_orientation": [""] * 200,
        }
    )
    table = demographics_table(personas, {"base": "base", "base_maxN": "base"})
    female = table.row(
        by_predicate=(pl.col("attribute") == "gender")
        & (pl.col("category") == "female")
        & (pl.col("condition") == "base_maxN"),
        named=True,
    )
    pooled = 120 / 200
    z = (0.7 - 0.5) / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 100))
    assert (female["share"], female["base_share"], female["z"]) == pytest.approx((0.7, 0.5, z))
    assert female["p"] == pytest.approx(2 * stats.norm.sf(z))
    tested = table.filter(pl.col("p").is_not_null())
    assert tested["p_holm"].to_list() == pytest.approx(holm(tested["p"].to_list()))
    categories = dict(
        table.filter(pl.col("condition") == "base").group_by("attribute").agg(pl.col("category").sort()).rows()
    )
    assert categories["religion"] == ["christian"] and categories["politics"] == ["(not given)"]
    assert categories["age_band"] == ["25-34", "65+"]
    # A category with no variance anywhere (race: all White) has no test rather than an error.
    assert table.filter(pl.col("attribute") == "race")["p"].null_count() == 2

    marginals_file = tmp_path / "marginals.csv"
    marginals_file.write_text("attribute,category,share\ngender,female,50.5\ngender,male,49.5\n")
    fit = marginals_table(table, read_marginals(marginals_file)).row(
        by_predicate=pl.col("condition") == "base_maxN", named=True
    )
    expected = np.array([0.505, 0.495]) * 100
    chi2 = ((70 - expected[0]) ** 2 / expected[0]) + ((30 - expected[1]) ** 2 / expected[1])
    assert (fit["n"], fit["unlisted"], fit["df"]) == (100, 0, 1)
    assert fit["total_variation"] == pytest.approx(0.5 * (abs(0.7 - 0.505) + abs(0.3 - 0.495)))
    assert fit["chi2"] == pytest.approx(chi2) and fit["p"] == pytest.approx(stats.chi2.sf(chi2, 1))
    marginals_file.write_text("attribute,category,share\ngender,female,0.5\nshoe size,42,0.5\n")
    with pytest.raises(MarginalsError, match=r"marginals.csv: unknown attributes \['shoe size'\]"):
        read_marginals(marginals_file)
    marginals_file.write_text("attribute,category,share\ngender,female,0.5\ngender,male,0.3\ngender,female,0.2\n")
    with pytest.raises(MarginalsError, match=r"marginals.csv: gender 'female' is listed twice \(rows 2, 4\)"):
        read_marginals(marginals_file)
    marginals_file.write_text("attribute,category,share\ngender,female,\n")
    with pytest.raises(MarginalsError, match=r"marginals.csv: row 2: share must be a number"):
        read_marginals(marginals_file)


def test_report_asset_across_models_and_conditions(db_target):
    instance = dg.DagsterInstance.ephemeral()
    resources = research_resources(db_target)
    instance.add_dynamic_partitions("population", ["sample", "sample_maxN"])
    instance.add_dynamic_partitions("model", ["simulated", "simulated_alt"])
    assert dg.materialize([questionnaires], resources=resources, instance=instance).success
    for population in ("sample", "sample_maxN"):
        dg.materialize([reference_questionnaires], partition_key=population, resources=resources, instance=instance)
    study = [personas, experiment_registrations, questionnaire_answers, questionnaire_scores]
    for model in ("simulated", "simulated_alt"):
        for population in ("sample", "sample_maxN"):
            key = dg.MultiPartitionKey({"model": model, "population": population})
            config = {"ops": {"personas": {"config": {"max_people": 20}}}}
            assert dg.materialize(
                study, partition_key=key, resources=resources, instance=instance, run_config=config
            ).success
    settings.marginals_file().parent.mkdir(parents=True, exist_ok=True)
    settings.marginals_file().write_text("attribute,category,share\ngender,female,0.505\ngender,male,0.495\n")
    reports = [
        scale_score_report,
        reliability_report,
        validity_report,
        agreement_report,
        distribution_report,
        demographics_report,
        response_style_report,
    ]
    result = dg.materialize([*reports, study_report], resources=resources, instance=instance)
    assert result.success
    metadata = result.asset_materializations_for_node("scale_score_report")[0].metadata
    report = pl.read_parquet(metadata["parquet"].value)
    assert pl.read_csv(metadata["csv"].value).height == report.height
    bigfive = report.filter(pl.col("questionnaire") == "bigfive")
    # 5 scales x (2 models x 2 conditions + humans of 2 conditions)
    assert bigfive.height == 5 * (4 + 2)
    assert set(bigfive["model"]) == {"simulated", "simulated_alt", "reference"}
    # MaxN personas are at the neurotic end (Emotional Stability low), unlike those of the base sample.
    est = bigfive.filter(pl.col("scale") == "EST", pl.col("model") == "simulated")
    means = dict(zip(est["condition"], est["mean"], strict=True))
    assert means["sample_maxN"] < 1.6 < means["sample"]
    tested = report.filter(pl.col("model") != "reference", pl.col("p").is_not_null())
    assert metadata["tests"].value == tested.height >= 4 * 5  # at least every Big Five scale of every group
    assert metadata["significant_after_holm"].value == tested.filter(pl.col("p_holm") < 0.05).height
    # Headline numbers only: no entry per row (they were 65 one-point charts in the UI).
    assert not [key for key in metadata if "/" in key and not key.startswith("dagster/")]
    assert metadata["max_abs_d"].value == pytest.approx(tested["cohens_d"].abs().max(), abs=1e-4)
    verdicts = tested["equivalence"]
    assert verdicts.is_not_null().all() and set(verdicts) <= {"equivalent", "different", "inconclusive"}
    assert metadata["share_equivalent"].value == pytest.approx((verdicts == "equivalent").mean(), abs=1e-4)
    assert metadata["share_different"].value == pytest.approx((verdicts == "different").mean(), abs=1e-4)
    assert metadata["equivalence_bound_sd"].value == 0.2 and set(tested["equivalence_bound_sd"]) == {0.2}
    ratios = report.filter(pl.col("model") != "reference")["sd_ratio"].drop_nulls()
    assert metadata["min_sd_ratio"].value == pytest.approx(ratios.min(), abs=1e-4)
    # The table inline: the head of what the UI shows, every column described, its full length beside it.
    table = metadata["table"]
    assert isinstance(table, dg.TableMetadataValue) and metadata["table_rows"].value == report.height
    names = [column.name for column in table.schema.columns]
    assert names[:5] == ["questionnaire", "scale", "model", "condition", "n"]
    assert "equivalence" in names and "d [95% CI]" in names
    assert all(column.description for column in table.schema.columns)
    assert len(table.records) == min(50, report.height)
    for record, row in zip(table.records, report.head(50).iter_rows(named=True), strict=False):
        assert [record.data[c] for c in ("questionnaire", "scale", "model", "condition", "n")] == [
            row[c] for c in ("questionnaire", "scale", "model", "condition", "n")
        ]
        assert record.data["difference"] == (None if row["difference"] is None else round(row["difference"], 3))
        assert record.data["equivalence"] == row["equivalence"]

    def report(name):
        return result.asset_materializations_for_node(name)[0].metadata

    # Figures are PNG files beside the tables and shown inline in the UI.
    for name, figure in [
        ("scale_score_report", "score_distributions"),
        ("scale_score_report", "persona_vs_reference"),
        ("reliability_report", "alpha_forest"),
        ("demographics_report", "demographics"),
    ]:
        markdown = report(name)[figure].value
        encoded = markdown.split("data:image/png;base64,")[1].rstrip(")")
        assert base64.b64decode(encoded)[:8] == b"\x89PNG\r\n\x1a\n", (name, figure)

    alpha = pl.read_parquet(report("reliability_report")["parquet"].value)
    # 9 scales x (2 models x 2 conditions + humans of 2 conditions); humans of MaxN have no N variance.
    assert alpha.height == 9 * 6 and report("reliability_report")["bootstrap_resamples"].value == 1000
    maxn_humans = alpha.row(
        by_predicate=(pl.col("model") == "reference")
        & (pl.col("condition") == "sample_maxN")
        & (pl.col("scale") == "N"),
        named=True,
    )
    assert maxn_humans["alpha"] is None and maxn_humans["note"] == "undefined: no variance in the scale score"
    personas_alpha = alpha.filter(pl.col("model") != "reference")["alpha"]
    assert report("reliability_report")["min_alpha"].value == pytest.approx(personas_alpha.min(), abs=1e-4)
    simulated_ext = alpha.filter(
        pl.col("model") == "simulated", pl.col("condition") == "sample", pl.col("scale") == "EXT"
    )
    assert simulated_ext["alpha"].item() > 0.5
    # Omega beside alpha: undefined where the items have no variance, its headline the personas' least.
    assert maxn_humans["omega_total"] is None and maxn_humans["omega_note"] == "undefined: an item has no variance"
    personas_omega = alpha.filter(pl.col("model") != "reference")["omega_total"]
    assert report("reliability_report")["min_omega"].value == pytest.approx(personas_omega.min(), abs=1e-4)
    assert "omega 95% CI" in [column.name for column in report("reliability_report")["table"].schema.columns]

    validity = pl.read_parquet(report("validity_report")["parquet"].value)
    extraversion = validity.filter((pl.col("b") == "bigfive.EXT") & (pl.col("condition") == "sample"))
    assert set(extraversion["model"]) == {"simulated", "simulated_alt", "reference"}
    assert (extraversion["pearson_r"] > 0.5).all() and (
        extraversion.filter(pl.col("model") != "reference")["n"] == 20
    ).all()
    assert report("validity_report")["skipped_pairs"].value == 2  # the bfi44 pairs: never answered

    agreement = pl.read_parquet(report("agreement_report")["parquet"].value)
    assert agreement.filter(pl.col("questionnaire") == "epqr_a")["precision"].null_count() == 0
    assert agreement.filter(pl.col("questionnaire") == "bigfive")["mae"].null_count() == 0
    # 20 personas x 6 items per EPQR-A scale.
    assert set(agreement.filter(pl.col("questionnaire") == "epqr_a")["n"]) == {120}

    assert "vs_marginals" in report("demographics_report")
    fit = pl.read_csv(report("demographics_report")["vs_marginals_csv"].value)
    assert report("demographics_report")["max_total_variation"].value == pytest.approx(
        fit["total_variation"].max(), abs=1e-4
    )

    # Items: 74 (EPQR-A 24, Big Five 50) x 2 models x 2 conditions; scales: 9 x 4.
    distance = report("distribution_report")
    items = pl.read_parquet(distance["parquet"].value)
    scales = pl.read_csv(distance["scales_csv"].value)
    assert items.height == 74 * 4 and scales.height == 9 * 4
    assert items["similarity"].is_between(0, 1).all() and scales["similarity"].is_between(0, 1).all()
    assert distance["min_item_similarity"].value == pytest.approx(items["similarity"].min(), abs=1e-4)
    assert distance["median_scale_similarity"].value == pytest.approx(scales["similarity"].median(), abs=1e-4)
    # The UI's item table starts with the worst item, and shows the first 50 of them.
    worst = items.sort("similarity", "questionnaire", "question_number", "model", "condition").row(0, named=True)
    first = distance["table"].records[0].data
    assert [first["questionnaire"], first["item"]] == [worst["questionnaire"], worst["item"]]
    assert first["similarity"] == pytest.approx(worst["similarity"], abs=5e-4)
    assert len(distance["table"].records) == 50 and distance["table_rows"].value == items.height
    assert len(distance["scales"].records) == scales.height == distance["scales_rows"].value

    fidelity = pl.read_csv(report("agreement_report")["individual_fidelity_csv"].value)
    assert fidelity.height == 2 * 2 * 2 and set(fidelity["baseline"]) == {"permutation"}

    page = Path(report("study_report")["html"].value).read_text()
    assert page.count("<img") == 6 and "Cronbach" in page and "Item-level agreement" in page
    assert "Distribution distance" in page and "individual fidelity" in page
    assert "Response styles" in page
    # Every figure numbered, its caption readable (no questionnaire codes) and saying n.
    figcaptions = re.findall(r"<figcaption><b>Figure (\d+)\.</b> ([^<]*)</figcaption>", page)
    assert [int(number) for number, _ in figcaptions] == list(range(1, 7))
    for _, text in figcaptions:
        assert "n = " in text and not re.search(r"\b(bigfive|epqr_a)\b", text), text
    alpha_caption = report("reliability_report")["alpha_forest"].value.split("**")[1]
    assert "Human reference" in alpha_caption or "human reference" in alpha_caption
    assert "n = " in alpha_caption
    assert Path(report("study_report")["latest"].value).read_text() == page
    # Numbered, captioned tables: first the original's Table 4 grid of the IPIP-50, every table also as CSV and LaTeX.
    assert "<b>Table 1.</b> IPIP-50 scale scores, mean ± sd, per model × condition" in page
    assert "Agreeableness (IPIP-50)" in page and "Human reference" in page and "p (Holm)" in page
    exports = [Path(file) for file in report("study_report")["export_files"].value]
    tables = report("study_report")["tables"].value
    assert len(exports) == 2 * tables and page.count("<p class='caption'") == tables
    assert all(file.exists() for file in exports) and exports[0].name == "table_1.csv"
    assert pl.read_csv(exports[0]).columns[:3] == ["Model", "Condition", "Extraversion"]
    assert "\\begin{tabular}" in exports[1].read_text()


def test_reference_reports_cover_every_loaded_population(db_target):
    # Two populations loaded; at first no persona study at all, then one of sample's partitions.
    instance = dg.DagsterInstance.ephemeral()
    resources = research_resources(db_target)
    instance.add_dynamic_partitions("population", ["sample", "sample_maxN"])
    assert dg.materialize([questionnaires], resources=resources, instance=instance).success
    for population in ("sample", "sample_maxN"):
        dg.materialize([reference_questionnaires], partition_key=population, resources=resources, instance=instance)

    def reports():
        result = dg.materialize([scale_score_report, reliability_report], resources=resources, instance=instance)
        assert result.success
        return [
            pl.read_parquet(result.asset_materializations_for_node(name)[0].metadata["parquet"].value)
            for name in ("scale_score_report", "reliability_report")
        ]

    for table in reports():
        assert set(table["model"]) == {"reference"}
        assert set(table["condition"]) == {"sample", "sample_maxN"}
    instance.add_dynamic_partitions("model", ["simulated"])
    key = dg.MultiPartitionKey({"model": "simulated", "population": "sample"})
    study = [personas, experiment_registrations, questionnaire_answers, questionnaire_scores]
    config = {"ops": {"personas": {"config": {"max_people": 5}}}}
    assert dg.materialize(study, partition_key=key, resources=resources, instance=instance, run_config=config).success
    for table in reports():
        humans = table.filter(pl.col("model") == "reference")
        assert set(humans["condition"]) == {"sample", "sample_maxN"}
        assert set(table.filter(pl.col("model") == "simulated")["condition"]) == {"sample"}
        # Every scale of every questionnaire the people answered, in each population.
        assert humans.group_by("condition").len()["len"].to_list() == [9, 9]


def _bigfive_people(path, people=60, skipped=None):
    """A long CSV of ``people`` answering the Big Five (one trait per scale, plus noise), without
    the rows of ``skipped`` ({person: question numbers}); returns the answers written."""
    items = get_questionnaire("bigfive").items
    rng = np.random.default_rng(11)
    traits = rng.normal(size=(people + 1, 5))
    scale_index = {scale: i for i, scale in enumerate(items["scale"].unique(maintain_order=True))}
    rows = []
    for person in range(1, people + 1):
        for number, scale, key in items.select("number", "scale", "key").iter_rows():
            if number in (skipped or {}).get(person, ()):
                continue
            signed = traits[person, scale_index[scale]] * (1 if key == "+" else -1)
            rows.append((person, number, int(np.clip(np.rint(3 + signed + rng.normal()), 1, 5)), "bigfive"))
    answers = pl.DataFrame(rows, schema=["personality_id", "question_number", "answer", "questionnaire"], orient="row")
    answers.write_csv(path)
    return answers


def test_reference_alpha_uses_everyone_complete_on_the_scale(db_target, tmp_path):
    # People 1-6 skipped EXT1, person 7 every EXT item, person 8 AGR2: the load (require_complete)
    # leaves all 8 out of the population, yet each is complete on other scales, where α counts them.
    pingouin = pytest.importorskip("pingouin")
    import pandas as pd

    ext = get_questionnaire("bigfive").items.filter(pl.col("scale") == "EXT")["number"].to_list()
    skipped = {**{person: [1] for person in range(1, 7)}, 7: ext, 8: [22]}
    answers = _bigfive_people(tmp_path / "people.csv", skipped=skipped)
    load_population(db_target, "people", LoadOptions(path=str(tmp_path / "people.csv")), log=lambda message: None)
    result = dg.materialize(
        [reliability_report],
        resources=research_resources(db_target),
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"ops": {"reliability_report": {"config": {"resamples": 200}}}},
    )
    table = pl.read_parquet(result.asset_materializations_for_node("reliability_report")[0].metadata["parquet"].value)
    rows = {row["scale"]: row for row in table.iter_rows(named=True)}
    assert (rows["EXT"]["n"], rows["EXT"]["n_missing"]) == (53, 7)
    assert (rows["AGR"]["n"], rows["AGR"]["n_missing"]) == (59, 1)
    assert (rows["CSN"]["n"], rows["CSN"]["n_missing"]) == (60, 0)
    for row in rows.values():
        assert row["excluded_at_load"] == 8
        assert (
            row["excluded_reasons"]
            == "incomplete (some items unanswered): 8 people (their complete scales are used here)"
        )
    keyed = keyed_items(answers, get_questionnaire("bigfive"))
    for scale in ("EXT", "AGR", "CSN"):
        wide = keyed.filter(pl.col("scale") == scale).pivot(
            on="question_number", index="personality_id", values="keyed"
        )
        matrix = pd.DataFrame(wide.drop("personality_id").to_numpy().astype(float))
        expected, _ = pingouin.cronbach_alpha(matrix, nan_policy="listwise")
        assert round(rows[scale]["alpha"], 3) == round(expected, 3)
        assert rows[scale]["alpha"] == pytest.approx(expected, rel=1e-9)
        assert rows[scale]["ci_low"] < rows[scale]["alpha"] < rows[scale]["ci_high"]


def test_read_frame_keeps_percent_signs_and_quotes(db_target):
    from sqlalchemy import literal, select

    from personality_assets.db.engine import experiment_transaction, read_frame

    query = select(literal("50% of 'them'").label("text"), literal(3).label("number"))
    with experiment_transaction(db_target) as connection:
        frame = read_frame(connection, query, {"text": pl.String, "number": pl.Int64})
    assert frame.rows() == [("50% of 'them'", 3)]
