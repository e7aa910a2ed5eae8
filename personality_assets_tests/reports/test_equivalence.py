"""Equivalence (TOST), the CI of Cohen's d and the spread columns of the scale score report."""

import math

import numpy as np
import pingouin
import polars as pl
import pydantic
import pytest
from scipy import stats
from statsmodels.stats.weightstats import ttost_ind

from personality_assets.defs.persona_study.reports.assets import ScaleScoreConfig
from personality_assets.defs.persona_study.reports.scale_scores import (
    REFERENCE,
    cohens_d_ci,
    effect_size,
    equivalence,
    holm,
    pooled_sd,
    scale_score_table,
    spread,
    verdict,
)

# R's datasets::mtcars (Henderson & Velleman 1981), mpg by transmission, in the data set's row order.
MPG_AUTOMATIC = [21.4, 18.7, 18.1, 14.3, 24.4, 22.8, 19.2, 17.8, 16.4, 17.3, 15.2, 10.4, 10.4, 14.7, 21.5, 15.5, 15.2, 13.3, 19.2]  # fmt: skip
MPG_MANUAL = [21.0, 21.0, 22.8, 32.4, 30.4, 33.9, 27.3, 26.0, 30.4, 15.8, 19.7, 15.0, 21.4]

X = np.array([4.1, 5.0, 5.3, 4.7, 5.9, 5.2])
Y = np.array([5.5, 4.9, 6.1, 5.8, 5.0, 6.3, 5.4])


def test_tost_against_statsmodels_and_by_hand():
    """TOST p equals statsmodels' ``ttost_ind(usevar="unequal")`` called directly, and the larger of
    the two one-sided Welch tests computed by hand (Schuirmann 1987; Lakens 2017, eq. 1-2)."""
    result = equivalence(X, Y, bound_sd=0.5)
    pooled = math.sqrt((5 * X.var(ddof=1) + 6 * Y.var(ddof=1)) / 11)
    bound = 0.5 * pooled
    assert result["equivalence_bound"] == pytest.approx(bound, rel=1e-12)
    assert result["p_tost"] == pytest.approx(ttost_ind(X, Y, -bound, bound, usevar="unequal")[0], rel=1e-12)

    vx, vy = X.var(ddof=1) / len(X), Y.var(ddof=1) / len(Y)
    se = math.sqrt(vx + vy)
    df = (vx + vy) ** 2 / (vx**2 / (len(X) - 1) + vy**2 / (len(Y) - 1))  # Welch-Satterthwaite
    difference = X.mean() - Y.mean()
    p_above_lower = stats.t.sf((difference + bound) / se, df)  # H0: difference <= -bound
    p_below_upper = stats.t.cdf((difference - bound) / se, df)  # H0: difference >= +bound
    assert result["p_tost"] == pytest.approx(max(p_above_lower, p_below_upper), rel=1e-10)
    # Not equivalent within 0.5 sd here (difference -0.63, about one pooled sd), nor with no data.
    assert result["p_tost"] > 0.5
    assert equivalence(X[:1], Y) == {"equivalence_bound": None, "p_tost": None}
    assert equivalence(np.ones(4), np.ones(5)) == {"equivalence_bound": None, "p_tost": None}


def _planted(rng: np.random.Generator, condition: str, n: int, shift_sd: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    key = {"condition": condition, "questionnaire": "q", "scale": "S"}
    personas = pl.DataFrame({"model": "m", **key, "score": rng.normal(3 + shift_sd, 1, n)})
    humans = pl.DataFrame({**key, "score": rng.normal(3, 1, n)})
    return personas, humans


def test_verdicts_on_planted_data():
    """A planted difference of 0.5 sd is different; two samples of one distribution are equivalent
    with 2,000 people each and inconclusive with 10; a tiny difference that the Welch test finds
    with 20,000 people each is still equivalent (equivalence takes precedence)."""
    rng = np.random.default_rng(24)
    planted = [
        _planted(rng, "shifted", 300, 0.5),
        _planted(rng, "large", 2000, 0.0),
        _planted(rng, "small", 10, 0.0),
        _planted(rng, "tiny_shift", 20_000, 0.05),
    ]
    table = scale_score_table(pl.concat(p for p, _ in planted), pl.concat(h for _, h in planted))
    rows = {row["condition"]: row for row in table.filter(pl.col("model") != REFERENCE).iter_rows(named=True)}
    assert {c: r["equivalence"] for c, r in rows.items()} == {
        "shifted": "different",
        "large": "equivalent",
        "small": "inconclusive",
        "tiny_shift": "equivalent",
    }
    assert rows["tiny_shift"]["p_holm"] < 0.05 and rows["tiny_shift"]["significant"] != "ns"
    assert rows["shifted"]["p_tost_holm"] > 0.05 and rows["small"]["p_holm"] > 0.05
    # Holm runs across the table's TOST p values, a family of its own.
    tested = table.filter(pl.col("p_tost").is_not_null())
    assert tested["p_tost_holm"].to_list() == pytest.approx(holm(tested["p_tost"].to_list()))
    for row in rows.values():
        assert row["equivalence_bound_sd"] == 0.2
    small = planted[2]
    pooled = pooled_sd(small[0]["score"].to_numpy(), small[1]["score"].to_numpy())
    assert rows["small"]["equivalence_bound"] == pytest.approx(0.2 * pooled, rel=1e-12)
    # A wider bound makes more groups equivalent, and the table says which bound it used.
    wide = scale_score_table(pl.concat(p for p, _ in planted), pl.concat(h for _, h in planted), 0.8)
    shifted = wide.row(by_predicate=(pl.col("condition") == "shifted") & (pl.col("model") == "m"), named=True)
    assert (shifted["equivalence_bound_sd"], shifted["equivalence"]) == (0.8, "equivalent")
    # The reference people's own rows have no tests.
    human = table.filter(pl.col("model") == REFERENCE)
    assert human["equivalence"].is_null().all() and human["p_tost"].is_null().all()
    assert human["sd_ratio"].is_null().all() and human["cohens_d_ci_low"].is_null().all()


def test_verdict_precedence():
    assert verdict(0.001, 0.01) == "equivalent"  # different from zero, but within the bound
    assert verdict(0.001, 0.2) == "different"
    assert verdict(0.3, 0.2) == "inconclusive"
    assert verdict(0.3, 0.01) == "equivalent"
    assert verdict(None, None) is None


def test_cohens_d_ci_against_effectsize():
    """effectsize 0.8.2 (R), ``cohens_d(mpg ~ am, data = mtcars)``: d = -1.477947, 95% CI
    [-2.265973, -0.670569] (pooled sd, noncentral t; the values as stored by the tidystats
    package's tests, tests/testthat/data/effectsize.json; effectsize's README prints
    -1.48 [-2.27, -0.67])."""
    automatic, manual = np.array(MPG_AUTOMATIC), np.array(MPG_MANUAL)
    result = effect_size(automatic, manual)
    assert result["cohens_d"] == pytest.approx(-1.477947, abs=1e-6)
    assert result["cohens_d_ci_low"] == pytest.approx(-2.265973, abs=1e-5)
    assert result["cohens_d_ci_high"] == pytest.approx(-0.670569, abs=1e-5)
    # Reversing the groups mirrors the interval.
    low, high = cohens_d_ci(1.477947, 13, 19)
    assert (low, high) == pytest.approx((0.670569, 2.265973), abs=1e-5)


def test_cohens_d_ci_near_pingouin_normal_approximation_for_large_groups():
    """With 826 per group the noncentral-t interval is close to pingouin's normal approximation
    (``compute_esci(eftype="cohen")``, Hedges & Olkin's se of d)."""
    for d in (0.0, 0.3, -0.8):
        low, high = cohens_d_ci(d, 826, 826)
        reference = pingouin.compute_esci(stat=d, nx=826, ny=826, eftype="cohen", decimals=6)
        assert (low, high) == pytest.approx(tuple(reference), abs=0.003)
    # Far in the tails (MaxN personas all at one extreme) the interval is still found.
    low, high = cohens_d_ci(25.0, 826, 826)
    assert low < 25.0 < high and math.isfinite(low) and math.isfinite(high)


def test_sd_ratio_ci_by_hand_with_f():
    """sd ratio and its 95% CI: (s_x² / s_y²) / F quantiles of F(n_x - 1, n_y - 1), square-rooted
    (e.g. Zar, Biostatistical Analysis, the CI of a variance ratio); the upper limit also by the
    reciprocal identity F_q(a, b) = 1 / F_(1-q)(b, a)."""
    result = spread(X, Y)
    ratio = X.var(ddof=1) / Y.var(ddof=1)
    assert result["sd_ratio"] == pytest.approx(X.std(ddof=1) / Y.std(ddof=1), rel=1e-12)
    assert result["sd_ratio_ci_low"] == pytest.approx(math.sqrt(ratio / stats.f.ppf(0.975, 5, 6)), rel=1e-12)
    assert result["sd_ratio_ci_high"] == pytest.approx(math.sqrt(ratio / stats.f.ppf(0.025, 5, 6)), rel=1e-12)
    assert result["sd_ratio_ci_high"] == pytest.approx(math.sqrt(ratio * stats.f.ppf(0.975, 6, 5)), rel=1e-10)
    # No spread among the humans: no ratio; none among the personas: a ratio of 0.
    assert spread(X, np.full(5, 3.0))["sd_ratio"] is None
    assert spread(np.full(5, 3.0), Y)["sd_ratio"] == 0.0


def test_brown_forsythe_against_scipy_and_anova_of_absolute_deviations():
    """Brown-Forsythe p equals scipy's ``levene(center="median")`` and the one-way ANOVA of the
    absolute deviations from each group's median (Brown & Forsythe 1974)."""
    p = spread(X, Y)["p_spread"]
    assert p == pytest.approx(stats.levene(X, Y, center="median").pvalue, rel=1e-12)
    deviations = [np.abs(X - np.median(X)), np.abs(Y - np.median(Y))]
    assert p == pytest.approx(stats.f_oneway(*deviations).pvalue, rel=1e-10)
    # Neither group spreads around its median: no test.
    assert spread(np.full(4, 1.0), np.full(4, 2.0))["p_spread"] is None


def test_spread_columns_in_the_table_and_holm():
    rng = np.random.default_rng(3)
    key = {"questionnaire": "q", "scale": "S", "condition": "c"}
    personas = pl.DataFrame(
        {
            **key,
            "model": ["narrow"] * 200 + ["same"] * 200,
            "score": np.concatenate([rng.normal(3, 0.3, 200), rng.normal(3, 1, 200)]),
        }
    )
    humans = pl.DataFrame({**key, "score": rng.normal(3, 1, 200)})
    table = scale_score_table(personas, humans)
    rows = {row["model"]: row for row in table.iter_rows(named=True)}
    assert rows["narrow"]["sd_ratio_ci_high"] < 0.5 < 1 < rows["same"]["sd_ratio_ci_high"]
    assert rows["narrow"]["p_spread_holm"] < 0.001 < rows["same"]["p_spread_holm"]
    tested = table.filter(pl.col("p_spread").is_not_null())
    assert tested["p_spread_holm"].to_list() == pytest.approx(holm(tested["p_spread"].to_list()))
    assert rows[REFERENCE]["p_spread"] is None


def test_bound_config():
    assert ScaleScoreConfig().equivalence_bound_sd == 0.2
    assert ScaleScoreConfig(equivalence_bound_sd=0.5).equivalence_bound_sd == 0.5
    with pytest.raises(pydantic.ValidationError):
        ScaleScoreConfig(equivalence_bound_sd=0)
