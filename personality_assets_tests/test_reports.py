"""Research reports: statistics against hand-computed values, and the report asset over partitions."""

import math

import dagster as dg
import numpy as np
import polars as pl
import pytest

from personality_assets.defs.persona_study.assets import (
    experiment_registrations,
    personas,
    questionnaire_answers,
    questionnaire_scores,
)
from personality_assets.defs.reference.assets import questionnaires, reference_questionnaires
from personality_assets.defs.reports.assets import scale_score_report
from personality_assets.defs.reports.scale_scores import holm, marker, scale_score_table, welch
from personality_assets.defs.resources import LLMEngineResource, ResearchDatabase


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
            "population": ["p"] * 8,
            "questionnaire": ["q"] * 8,
            "scale": ["S"] * 8,
            "score": [1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0],
        }
    )
    humans = pl.DataFrame(
        {"population": ["p"] * 4, "questionnaire": ["q"] * 4, "scale": ["S"] * 4, "score": [2.0, 4.0, 6.0, 8.0]}
    )
    table = scale_score_table(personas, humans)
    assert table["model"].to_list() == ["human", "k", "m"]
    m = table.row(by_predicate=pl.col("model") == "m", named=True)
    assert (m["n"], m["mean"], m["reference_mean"], m["difference"]) == (4, 2.5, 5.0, -2.5)
    tested = table.filter(pl.col("p").is_not_null())
    assert tested["p_holm"].to_list() == pytest.approx(holm(tested["p"].to_list()))
    human = table.row(by_predicate=pl.col("model") == "human", named=True)
    assert (human["n"], human["mean"], human["p"]) == (4, 5.0, None)


def test_report_asset_across_models_and_conditions(db_target):
    instance = dg.DagsterInstance.ephemeral()
    resources = {
        "research_db": ResearchDatabase(
            url=db_target.url,
            reference_schema=db_target.reference_schema,
            experiment_schema=db_target.experiment_schema,
        ),
        "llm": LLMEngineResource(progress_every_s=1),
    }
    instance.add_dynamic_partitions("population", ["sample", "sample_maxN"])
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
    result = dg.materialize([scale_score_report], resources=resources, instance=instance)
    metadata = result.asset_materializations_for_node("scale_score_report")[0].metadata
    report = pl.read_parquet(metadata["parquet"].value)
    assert pl.read_csv(metadata["csv"].value).height == report.height
    bigfive = report.filter(pl.col("questionnaire") == "bigfive")
    # 5 scales x (2 models x 2 conditions + humans of 2 conditions)
    assert bigfive.height == 5 * (4 + 2)
    assert set(bigfive["model"]) == {"simulated", "simulated_alt", "human"}
    # MaxN personas are at the neurotic end (Emotional Stability low), unlike those of the base sample.
    est = bigfive.filter(pl.col("scale") == "EST", pl.col("model") == "simulated")
    means = dict(zip(est["condition"], est["mean"], strict=True))
    assert means["sample_maxN"] < 1.6 < means["sample"]
    tested = report.filter(pl.col("model") != "human", pl.col("p").is_not_null())
    assert metadata["tests"].value == tested.height >= 4 * 5  # at least every Big Five scale of every group
    assert metadata["significant_after_holm"].value == tested.filter(pl.col("p_holm") < 0.05).height
    assert "difference/simulated/sample/bigfive.EXT" in metadata
