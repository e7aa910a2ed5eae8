"""Cronbach's α per scale, with a bootstrap 95% CI and the standardised α.

Respondents are the rows of a respondents × items matrix of keyed item values (reversed items
already reversed, see ``questionnaires.keyed_items``): for personas one row per experiment (a
persona's repetitions are separate rows, as in the original study), for humans one per person.

Missing answers: **listwise**. A respondent missing any item of the scale (or all of them, having
answered another scale of the questionnaire) is left out of that scale's α; ``n`` is the
respondents used and ``n_missing`` those left out. (Pairwise deletion
mixes covariances from different subsets and can give α outside [-inf, 1]; personas rarely miss
an item, so listwise loses little.)

α is undefined, not an error, when fewer than two respondents or items remain or the total score
has no variance (every respondent has the same scale score, e.g. a model putting every persona at
the extreme): ``alpha`` is null and ``note`` says why. The standardised α (from the mean
inter-item correlation) is undefined as soon as one item has no variance.

The bootstrap resamples respondents with replacement (``resamples`` times, seeded from the
configured seed and the row's questionnaire, scale, model and condition, with the respondents in
an order set by their answers, so the same data give the same CI in any database) and takes the
2.5th and 97.5th percentiles of α over the resamples where it is defined. It is vectorised:
each resample is a row of counts, so item and total variances of all resamples come from a few
matrix products instead of a loop.

Beside α, each row has **McDonald's ω total** and **Guttman's λ6**, both on the item correlation
matrix (standardised items) of the same complete respondents:

- ω total = (Σλ)² / ((Σλ)² + Σψ) from a one-factor model, loadings λ and uniquenesses
  ψ = 1 − λ² (``omega_total``). The model is fitted by **maximum likelihood** with scikit-learn's
  ``FactorAnalysis`` (see ``one_factor`` for how it sees the correlation matrix): ML is the
  estimator of the CFA-based ω (semTools, ``factanal`` in Lambda4's ``omega.tot``), it does not
  depend on the items' scales, and scikit-learn's implementation is maintained and works with
  the scikit-learn this project runs (``factor_analyzer.FactorAnalyzer.fit`` 0.5.1 fails on
  scikit-learn ≥ 1.8, whose ``check_array`` no longer takes ``force_all_finite``). psych's
  default minres gives the same ω to within 0.01 on data with one factor (tested).
- λ6 = 1 − Σᵢ(1 − R²ᵢ) / ΣR, with R²ᵢ the squared multiple correlation of item i on the others
  (1 − 1/(R⁻¹)ᵢᵢ) and ΣR the sum of all entries of the correlation matrix (the variance of the
  sum of the standardised items), as psych's ``alpha`` and ``splitHalf`` compute it.

ω and λ6 are empty, with ``omega_note`` saying why (never an error), when the scale has fewer than
3 items (a one-factor model needs 3 to be identified), an item has no variance, the correlation
matrix is singular (fewer respondents than items, or an item a linear function of others), the
ML fit does not converge, or it is a Heywood case (an item's uniqueness ψ < 0.005, i.e. a
communality of 0.995 or more; random answers typically end here). λ6 needs only the first three
to hold. Hierarchical ω needs facets, and no shipped questionnaire defines any, so it is not
computed.

ω's bootstrap 95% CI resamples the respondents ``omega_resamples`` times (200 by default,
independently of α's resamples and seeded likewise). It is vectorised too: the resamples'
correlation matrices come from two matrix products of the resample counts, and all resamples are
fitted at once by scikit-learn's own ML iteration written for a stack of matrices (``batched_ml``,
warm-started at the sample's solution); a resample whose fit does not converge or is a Heywood
case is left out (so is one not converged after 200 iterations from the sample's solution), and
``omega_resamples`` counts those used; with fewer than half of them used, the CI is empty (the
rest would bias it) and ``omega_note`` says so.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import polars as pl
from sklearn.decomposition import FactorAnalysis
from sklearn.exceptions import ConvergenceWarning

from personality_assets.defs.persona_study.reports.scale_scores import REFERENCE, SCALE_ROW

RESAMPLES = 1000
OMEGA_RESAMPLES = 200
SEED = 42
HEYWOOD = 0.005  # an item's uniqueness below this (communality above 0.995): a Heywood case
ML_TOLERANCE = 1e-8  # the sample's ML fit converged: log-likelihood gain below this (scikit-learn's rule)
RESAMPLE_TOLERANCE = 1e-7  # a resample's fit converged: no uniqueness changed by this much
ML_ITERATIONS = 300  # the sample's ML fit: data with a common factor converge in under 50
RESAMPLE_ITERATIONS = 200  # a resample's fit, started at the sample's solution, not converged by then is left out
POWER_STEPS = 4  # power steps refining the leading eigenvector in each iteration of batched_ml
COLUMNS = {
    **SCALE_ROW,
    "items": pl.Int64,
    "n": pl.Int64,
    "n_missing": pl.Int64,
    "alpha": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "standardized_alpha": pl.Float64,
    "resamples": pl.Int64,
    "note": pl.String,
    "omega_total": pl.Float64,
    "omega_ci_low": pl.Float64,
    "omega_ci_high": pl.Float64,
    "omega_resamples": pl.Int64,
    "lambda6": pl.Float64,
    "omega_note": pl.String,
    # Reference people only: who the population's load left out, and why (see the report's doc).
    "excluded_at_load": pl.Int64,
    "excluded_reasons": pl.String,
}


def cronbach_alpha(matrix: np.ndarray) -> float | None:
    """α of a complete respondents × items matrix; None when undefined."""
    n, k = matrix.shape
    if n < 2 or k < 2:
        return None
    total_variance = matrix.sum(axis=1).var(ddof=1)
    if total_variance == 0:
        return None
    return float(k / (k - 1) * (1 - matrix.var(axis=0, ddof=1).sum() / total_variance))


def standardized_alpha(matrix: np.ndarray) -> float | None:
    """k·r̄ / (1 + (k-1)·r̄) with r̄ the mean inter-item Pearson correlation; None when undefined."""
    n, k = matrix.shape
    if n < 2 or k < 2 or (matrix.var(axis=0) == 0).any():
        return None
    correlations = np.corrcoef(matrix, rowvar=False)
    mean_r = correlations[~np.eye(k, dtype=bool)].mean()
    return float(k * mean_r / (1 + (k - 1) * mean_r))


def bootstrap_alpha(matrix: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """α of each bootstrap resample of the rows (NaN where undefined)."""
    n, k = matrix.shape
    rng = np.random.default_rng(seed)
    totals = matrix.sum(axis=1)
    columns = np.column_stack([matrix, totals])  # items, then the scale total
    alphas = np.empty(resamples)
    chunk = max(1, 2_000_000 // max(n, 1))  # bounds memory at ~16 MB of counts per chunk
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        picks = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
        counts = np.bincount(picks.ravel(), minlength=size * n).reshape(size, n).astype(float)
        sums, squares = counts @ columns, counts @ (columns**2)
        variances = (squares - sums**2 / n) / (n - 1)
        item_variance, total_variance = variances[:, :k].sum(axis=1), variances[:, k]
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = k / (k - 1) * (1 - item_variance / total_variance)
        # Rounding leaves tiny non-zero variances where the true one is 0: treat those as none.
        alpha[total_variance <= 1e-12 * max(1.0, float(np.abs(totals).max()) ** 2)] = np.nan
        alphas[start : start + size] = alpha
    return alphas


def scale_reliability(matrix: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """α, its bootstrap CI and the standardised α of one scale; rows with a NaN are dropped."""
    complete = matrix[~np.isnan(matrix).any(axis=1)]
    n, k = complete.shape
    result = {
        "items": k,
        "n": n,
        "n_missing": matrix.shape[0] - n,
        "alpha": cronbach_alpha(complete),
        "ci_low": None,
        "ci_high": None,
        "standardized_alpha": standardized_alpha(complete),
        "resamples": 0,
        "note": None,
    }
    if result["alpha"] is None:
        result["note"] = (
            "undefined: fewer than 2 respondents or items"
            if n < 2 or k < 2
            else "undefined: no variance in the scale score"
        )
        return result
    if resamples:
        alphas = bootstrap_alpha(complete, resamples, seed)
        defined = alphas[~np.isnan(alphas)]
        result["resamples"] = len(defined)
        if len(defined):
            result["ci_low"], result["ci_high"] = (float(v) for v in np.percentile(defined, [2.5, 97.5]))
    return result


def item_correlations(matrix: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """The item correlation matrix of a complete respondents × items matrix, or None and why ω and
    λ6 are undefined on it."""
    n, k = matrix.shape
    if k < 3:
        return None, "undefined: fewer than 3 items"
    if n < 2 or (matrix.var(axis=0) == 0).any():
        return None, "undefined: an item has no variance"
    correlations = np.corrcoef(matrix, rowvar=False)
    if n <= k or np.linalg.cond(correlations) > 1e12:
        return None, "undefined: singular item correlation matrix"
    return correlations, None


def guttman_lambda6(correlations: np.ndarray) -> float:
    """Guttman's λ6 of a (non-singular) correlation matrix: 1 − Σ(1 − smcᵢ) / ΣR, where
    1 − smcᵢ = 1 / (R⁻¹)ᵢᵢ is item i's variance not explained by the other items."""
    return float(1 - (1 / np.diag(np.linalg.inv(correlations))).sum() / correlations.sum())


def one_factor(correlations: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Loadings, uniquenesses and convergence of the one-factor ML model of a (non-singular)
    correlation matrix, by scikit-learn's ``FactorAnalysis``. It sees the data only through their
    covariance matrix, so it is fitted on 2k pseudo-respondents ±√k·C with CᵀC = R (mean 0,
    covariance R): the same fit as on the standardised items, at a cost that does not grow with
    the number of respondents."""
    k = len(correlations)
    root = np.linalg.cholesky(correlations).T * np.sqrt(k)
    model = FactorAnalysis(n_components=1, svd_method="lapack", tol=ML_TOLERANCE, max_iter=ML_ITERATIONS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(np.vstack([root, -root]))
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return model.components_[0], model.noise_variance_, converged


def omega_total(loadings: np.ndarray, uniquenesses: np.ndarray) -> np.ndarray | float:
    """(Σλ)² / ((Σλ)² + Σψ) over the last axis (one model or a stack of them)."""
    common = loadings.sum(axis=-1) ** 2
    return common / (common + uniquenesses.sum(axis=-1))


def batched_ml(
    correlations: np.ndarray, uniquenesses: np.ndarray, loadings: np.ndarray, iterations: int = ML_ITERATIONS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's ``FactorAnalysis`` iteration for one factor, on a stack of correlation
    matrices at once (B × k × k), started at ``uniquenesses`` and ``loadings`` (k each, the
    sample's solution): with D = Ψ^(-1/2), the leading eigenpair (θ, u) of DRD gives
    λ = Ψ^(1/2)·u·√max(θ − 1, 0) and ψ = max(1 − λ², 1e-12). The eigenvector is refined by one
    few power steps per iteration from the previous one, which converges with the fixed point since
    the sample's solution is close. Returns loadings, uniquenesses (B × k) and which converged
    (largest change of ψ below ``RESAMPLE_TOLERANCE``)."""
    size = len(correlations)
    psi = np.tile(uniquenesses, (size, 1))
    vector = np.tile(loadings / np.sqrt(uniquenesses), (size, 1))
    vector /= np.linalg.norm(vector, axis=1, keepdims=True)
    change = np.full(size, np.inf)
    lam = np.zeros_like(psi)
    for _ in range(iterations):
        scale = 1 / np.sqrt(psi)
        for _ in range(POWER_STEPS):  # DRD·u as D(R(Du))
            product = scale * (correlations @ (scale * vector)[:, :, None])[:, :, 0]
            theta = np.linalg.norm(product, axis=1)
            vector = product / theta[:, None]
        lam = np.sqrt(psi) * vector * np.sqrt(np.maximum(theta - 1, 0))[:, None]
        updated = np.maximum(1 - lam**2, 1e-12)
        change = np.abs(updated - psi).max(axis=1)
        psi = updated
        if not (change >= RESAMPLE_TOLERANCE).any():  # NaN (a resample without variance) stops too
            break
    return lam, psi, change < RESAMPLE_TOLERANCE


def bootstrap_omega(
    matrix: np.ndarray,
    loadings: np.ndarray,
    uniquenesses: np.ndarray,
    resamples: int = OMEGA_RESAMPLES,
    seed: int = SEED,
) -> np.ndarray:
    """ω total of each bootstrap resample of the rows of a complete matrix (NaN where a resample
    has an item without variance, its fit does not converge or is a Heywood case), the fits
    started at the sample's ``loadings`` and ``uniquenesses``."""
    n, k = matrix.shape
    rng = np.random.default_rng(seed)
    products = (matrix[:, :, None] * matrix[:, None, :]).reshape(n, k * k)
    omegas = np.empty(resamples)
    chunk = max(1, 2_000_000 // max(n, 1))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        picks = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
        counts = np.bincount(picks.ravel(), minlength=size * n).reshape(size, n).astype(float)
        sums = counts @ matrix
        covariances = (counts @ products).reshape(size, k, k) - sums[:, :, None] * sums[:, None, :] / n
        deviations = np.sqrt(np.clip(np.einsum("bii->bi", covariances), 0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            correlations = covariances / deviations[:, :, None] / deviations[:, None, :]
        # Rounding leaves tiny variances where the true one is 0: treat those as none.
        flat = (deviations**2 <= 1e-12 * n * max(1.0, float(np.abs(matrix).max()) ** 2)).any(axis=1)
        correlations[flat] = np.eye(k)  # fitted harmlessly, then dropped
        lam, psi, converged = batched_ml(correlations, uniquenesses, loadings, RESAMPLE_ITERATIONS)
        omega = omega_total(lam, psi)
        omega[flat | ~converged | (psi < HEYWOOD).any(axis=1)] = np.nan
        omegas[start : start + size] = omega
    return omegas


def scale_omega(matrix: np.ndarray, resamples: int = OMEGA_RESAMPLES, seed: int = SEED) -> dict:
    """ω total with its bootstrap CI and λ6 of one scale; rows with a NaN are dropped (listwise,
    as for α). Undefined values are None with ``omega_note`` saying why."""
    complete = matrix[~np.isnan(matrix).any(axis=1)]
    result = {
        "omega_total": None,
        "omega_ci_low": None,
        "omega_ci_high": None,
        "omega_resamples": 0,
        "lambda6": None,
        "omega_note": None,
    }
    correlations, result["omega_note"] = item_correlations(complete)
    if correlations is None:
        return result
    result["lambda6"] = guttman_lambda6(correlations)
    loadings, uniquenesses, converged = one_factor(correlations)
    if (uniquenesses < HEYWOOD).any():  # whether or not ML is still creeping towards ψ = 0
        result["omega_note"] = "undefined: Heywood case (an item's uniqueness below 0.005)"
        return result
    if not converged:
        result["omega_note"] = "undefined: the one-factor model did not converge"
        return result
    result["omega_total"] = float(omega_total(loadings, uniquenesses))
    if resamples:
        omegas = bootstrap_omega(complete, loadings, uniquenesses, resamples, seed)
        defined = omegas[~np.isnan(omegas)]
        result["omega_resamples"] = len(defined)
        if 2 * len(defined) >= resamples:
            result["omega_ci_low"], result["omega_ci_high"] = (float(v) for v in np.percentile(defined, [2.5, 97.5]))
        else:  # the resamples left would bias the interval (towards the better-behaved ones)
            result["omega_note"] = f"no CI: {len(defined)} of {resamples} resamples converged without a Heywood case"
    return result


def item_matrix(keyed: pl.DataFrame, respondent: str, respondents: pl.Series | None = None) -> np.ndarray:
    """Respondents × items matrix (NaN where an item is missing) from long keyed values, one row
    per ``respondents`` when given (a respondent with no item of the scale is a row of NaN).
    Rows are sorted by their values, so the matrix (and the bootstrap on it) does not depend on
    the respondents' ids or the order they were stored in."""
    wide = keyed.pivot(on="question_number", index=respondent, values="keyed", aggregate_function="first")
    if respondents is not None:
        wide = respondents.alias(respondent).to_frame().join(wide, on=respondent, how="left")
    items = sorted((c for c in wide.columns if c != respondent), key=int)
    return wide.select(items).sort(items, nulls_last=True).to_numpy().astype(float)


def row_seed(seed: int, *identity: str) -> int:
    """A bootstrap seed from the configured seed and a row's identity (questionnaire, scale, model,
    condition), stable across processes (unlike hash()), so a row's CI depends on its data only."""
    digest = hashlib.sha256("\x1f".join([str(seed), *identity]).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def reliability_table(
    keyed: pl.DataFrame, resamples: int = RESAMPLES, seed: int = SEED, omega_resamples: int = OMEGA_RESAMPLES
) -> pl.DataFrame:
    """``keyed``: model, condition, questionnaire, scale, respondent, question_number, keyed.
    One row per questionnaire × scale × model × condition; a scale's respondents are everyone who
    answered an item of its questionnaire (in that model × condition). ω's bootstrap is seeded
    apart from α's (same row identity, one more key), so either count leaves the other's CI alone."""
    rows = []
    respondents = {
        key: group["respondent"].unique()
        for key, group in keyed.group_by("model", "condition", "questionnaire", maintain_order=True)
    }
    groups = keyed.partition_by("model", "condition", "questionnaire", "scale", as_dict=True)
    for (model, condition, questionnaire, scale), group in groups.items():
        matrix = item_matrix(group, "respondent", respondents[(model, condition, questionnaire)])
        identity = (questionnaire, scale, model, condition)
        rows.append(
            {
                "questionnaire": questionnaire,
                "scale": scale,
                "model": model,
                "condition": condition,
                **scale_reliability(matrix, resamples, row_seed(seed, *identity)),
                **scale_omega(matrix, omega_resamples, row_seed(seed, *identity, "omega")),
            }
        )
    # The reference people's row first in each condition, then the models.
    return pl.DataFrame(rows, schema=COLUMNS).sort(
        "questionnaire", "scale", "condition", pl.col("model") != REFERENCE, "model"
    )
