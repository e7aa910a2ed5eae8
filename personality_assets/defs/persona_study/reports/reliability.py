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
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from personality_assets.defs.persona_study.reports.scale_scores import REFERENCE, SCALE_ROW

RESAMPLES = 1000
SEED = 42
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


def reliability_table(keyed: pl.DataFrame, resamples: int = RESAMPLES, seed: int = SEED) -> pl.DataFrame:
    """``keyed``: model, condition, questionnaire, scale, respondent, question_number, keyed.
    One row per questionnaire × scale × model × condition; a scale's respondents are everyone who
    answered an item of its questionnaire (in that model × condition)."""
    rows = []
    respondents = {
        key: group["respondent"].unique()
        for key, group in keyed.group_by("model", "condition", "questionnaire", maintain_order=True)
    }
    groups = keyed.partition_by("model", "condition", "questionnaire", "scale", as_dict=True)
    for (model, condition, questionnaire, scale), group in groups.items():
        matrix = item_matrix(group, "respondent", respondents[(model, condition, questionnaire)])
        rows.append(
            {
                "questionnaire": questionnaire,
                "scale": scale,
                "model": model,
                "condition": condition,
                **scale_reliability(matrix, resamples, row_seed(seed, questionnaire, scale, model, condition)),
            }
        )
    # The reference people's row first in each condition, then the models.
    return pl.DataFrame(rows, schema=COLUMNS).sort(
        "questionnaire", "scale", "condition", pl.col("model") != REFERENCE, "model"
    )
