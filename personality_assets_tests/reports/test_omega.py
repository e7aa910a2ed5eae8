"""McDonald's ω total and Guttman's λ6 of the reliability report, against known values and other
implementations.

The second implementation of the one-factor model is ``factor_analyzer`` 0.5.1: its ML (R's
``factanal`` objective) and minres (psych's) fits by L-BFGS-B, a different algorithm from
scikit-learn's iteration. Its ``FactorAnalyzer.fit`` fails on scikit-learn ≥ 1.8 (it passes
``force_all_finite`` to ``check_array``), so the tests call the fitting step that ``fit`` runs on
a correlation matrix, ``_fit_factor_analysis``.
"""

from __future__ import annotations

import numpy as np
import pingouin
import pytest
from factor_analyzer import FactorAnalyzer
from factor_analyzer.utils import smc
from sklearn.decomposition import FactorAnalysis

from personality_assets.defs.persona_study.reports.reliability import (
    bootstrap_omega,
    guttman_lambda6,
    omega_total,
    one_factor,
    scale_omega,
)

LOADINGS = np.array([0.4, 0.5, 0.6, 0.7, 0.8, 0.5, 0.6, 0.45, 0.55, 0.65])


def _one_factor_data(n: int, loadings: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 1)) * loadings + rng.normal(size=(n, len(loadings))) * np.sqrt(1 - loadings**2)


def _factor_analyzer_omega(correlations: np.ndarray, method: str) -> float:
    model = FactorAnalyzer(n_factors=1, rotation=None, method=method, is_corr_matrix=True)
    loadings = model._fit_factor_analysis(correlations.copy())[:, 0]
    return float(omega_total(loadings, 1 - loadings**2))


def _pingouin_items() -> np.ndarray:
    """pingouin's shipped ``cronbach_alpha`` data set: 15 respondents × 10 Likert items."""
    long = pingouin.read_dataset("cronbach_alpha")
    return long.pivot(index="Subj", columns="Items", values="Scores").to_numpy(float)


def test_omega_recovers_the_population_omega_of_a_known_one_factor_model():
    # Population ω of standardised items from their loadings: (Σλ)² / ((Σλ)² + Σ(1 − λ²)).
    population = LOADINGS.sum() ** 2 / (LOADINGS.sum() ** 2 + (1 - LOADINGS**2).sum())
    result = scale_omega(_one_factor_data(20_000, LOADINGS, seed=7), resamples=100, seed=1)
    assert result["omega_total"] == pytest.approx(population, abs=0.01)
    assert result["omega_ci_low"] < result["omega_total"] < result["omega_ci_high"]
    assert result["omega_resamples"] == 100 and result["omega_note"] is None


@pytest.mark.parametrize(
    "items", [_pingouin_items(), _one_factor_data(500, LOADINGS, seed=3)], ids=["pingouin", "simulated"]
)
def test_omega_against_factor_analyzer(items):
    correlations = np.corrcoef(items, rowvar=False)
    ours = scale_omega(items, resamples=0)["omega_total"]
    # The same estimator (ML) by another algorithm: the same ω.
    assert ours == pytest.approx(_factor_analyzer_omega(correlations, "ml"), abs=1e-4)
    if len(items) >= 500:  # psych's minres: the same ω to 0.01 on data with one factor
        assert ours == pytest.approx(_factor_analyzer_omega(correlations, "minres"), abs=0.01)


def test_the_correlation_matrix_fit_is_scikit_learns_fit_on_the_standardised_items():
    items = _one_factor_data(400, LOADINGS, seed=5)
    standardised = (items - items.mean(axis=0)) / items.std(axis=0)
    direct = FactorAnalysis(n_components=1, svd_method="lapack", tol=1e-10, max_iter=10_000).fit(standardised)
    loadings, uniquenesses, converged = one_factor(np.corrcoef(items, rowvar=False))
    assert converged
    assert uniquenesses == pytest.approx(direct.noise_variance_, abs=1e-4)
    assert omega_total(loadings, uniquenesses) == pytest.approx(
        omega_total(direct.components_[0], direct.noise_variance_), abs=1e-5
    )


def test_bootstrap_fits_every_resample_as_the_sample_is_fitted():
    items = np.clip(np.round(_one_factor_data(300, LOADINGS[:6], seed=11) * 1.2 + 3), 1, 5)
    loadings, uniquenesses, _ = one_factor(np.corrcoef(items, rowvar=False))
    omegas = bootstrap_omega(items, loadings, uniquenesses, resamples=12, seed=4)
    # The same resamples: the counts of the same draws.
    picks = np.random.default_rng(4).integers(0, len(items), size=(12, len(items)))
    one_by_one = [omega_total(*one_factor(np.corrcoef(items[rows], rowvar=False))[:2]) for rows in picks]
    assert omegas == pytest.approx(one_by_one, abs=1e-4)
    again = scale_omega(items, resamples=50, seed=9)
    assert scale_omega(items, resamples=50, seed=9)["omega_ci_low"] == again["omega_ci_low"]


def test_lambda6_against_regressions_and_factor_analyzer_smc():
    rng = np.random.default_rng(2)
    items = rng.normal(size=(40, 4)) + rng.normal(size=(40, 1))
    correlations = np.corrcoef(items, rowvar=False)
    # By hand: each standardised item regressed (OLS) on the others; its unexplained share 1 − R².
    z = (items - items.mean(axis=0)) / items.std(axis=0)
    unexplained = []
    for i in range(4):
        others = np.column_stack([np.ones(40), np.delete(z, i, axis=1)])
        coefficients, *_ = np.linalg.lstsq(others, z[:, i], rcond=None)
        residual = z[:, i] - others @ coefficients
        unexplained.append(residual.var() / z[:, i].var())
    by_hand = 1 - sum(unexplained) / correlations.sum()
    assert guttman_lambda6(correlations) == pytest.approx(by_hand, rel=1e-9)
    assert guttman_lambda6(correlations) == pytest.approx(
        1 - (1 - smc(correlations)).sum() / correlations.sum(), rel=1e-12
    )
    assert scale_omega(items, resamples=0)["lambda6"] == pytest.approx(by_hand, rel=1e-12)


def test_undefined_omega_is_an_empty_cell_with_a_note():
    two_items = _one_factor_data(100, LOADINGS[:2], seed=1)
    assert scale_omega(two_items)["omega_note"] == "undefined: fewer than 3 items"
    constant = _one_factor_data(100, LOADINGS[:4], seed=1)
    constant[:, 2] = 3.0
    assert scale_omega(constant)["omega_note"] == "undefined: an item has no variance"
    few = _one_factor_data(4, LOADINGS[:5], seed=1)
    result = scale_omega(few)
    assert result["omega_note"] == "undefined: singular item correlation matrix" and result["lambda6"] is None
    # Three items correlating 0.8, 0.8 and 0.5: the exact one-factor solution has λ₁² = 0.8·0.8/0.5
    # = 1.28 > 1, so ML ends at a uniqueness of 0 (a Heywood case). Data with exactly these
    # correlations: whitened noise coloured by the matrix's Cholesky factor.
    target = np.array([[1.0, 0.8, 0.8], [0.8, 1.0, 0.5], [0.8, 0.5, 1.0]])
    noise = np.random.default_rng(0).normal(size=(200, 3))
    noise = (noise - noise.mean(axis=0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(noise, rowvar=False))).T
    heywood = noise @ np.linalg.cholesky(target).T
    result = scale_omega(heywood, resamples=50)
    assert result["omega_total"] is None and result["omega_ci_low"] is None
    assert result["omega_note"].startswith("undefined: Heywood case") and result["lambda6"] is not None
