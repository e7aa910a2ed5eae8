"""Cross-questionnaire validity: the same trait measured by two questionnaires should correlate.

Per trait pair (``trait_pairs.toml``) × model × condition: each persona's score on scale ``a`` and
on scale ``b`` (the mean over its repetitions), Pearson's r with its 95% CI (Fisher z, scipy)
and p, Spearman's ρ and p, and n (personas with both scores). The humans of a reference
population that answered both questionnaires get a row too (model "reference").
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from scipy import stats

from personality_assets.defs.reports.scale_scores import REFERENCE
from personality_assets.errors import NoRetryError

COLUMNS = {
    "trait": pl.String,
    "a": pl.String,
    "b": pl.String,
    "expected": pl.String,
    "model": pl.String,
    "condition": pl.String,
    "n": pl.Int64,
    "pearson_r": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "pearson_p": pl.Float64,
    "spearman_rho": pl.Float64,
    "spearman_p": pl.Float64,
    "note": pl.String,
}


class TraitPairsError(NoRetryError):
    """The trait pairs file is invalid."""


@dataclass(frozen=True)
class TraitPair:
    trait: str
    a: tuple[str, str]  # questionnaire, scale
    b: tuple[str, str]
    expected: str

    @property
    def questionnaires(self) -> set[str]:
        return {self.a[0], self.b[0]}


def read_trait_pairs(path: Path) -> list[TraitPair]:
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TraitPairsError(f"{path}: cannot read trait pairs: {exc}") from exc
    pairs = []
    for number, entry in enumerate(raw.get("pair", []), start=1):
        if not isinstance(entry, dict):
            raise TraitPairsError(f"{path}: pair {number}: expected a [[pair]] table, got {entry!r}")
        try:
            trait, a, b, expected = entry["trait"], entry["a"], entry["b"], entry.get("expected", "positive")
        except KeyError as exc:
            raise TraitPairsError(f"{path}: pair {number}: missing field {exc.args[0]!r}") from None
        for field, value in (("a", a), ("b", b)):
            if not isinstance(value, str) or value.count(".") != 1:
                raise TraitPairsError(f"{path}: pair {number}: {field} = {value!r} is not '<questionnaire>.<scale>'")
        if expected not in ("positive", "negative"):
            raise TraitPairsError(f"{path}: pair {number}: expected must be 'positive' or 'negative', not {expected!r}")
        pairs.append(TraitPair(trait, tuple(a.split(".")), tuple(b.split(".")), expected))
    return pairs


def correlate(x: np.ndarray, y: np.ndarray) -> dict:
    """Pearson (with 95% CI) and Spearman; empty with a note when undefined."""
    empty = dict.fromkeys(("pearson_r", "ci_low", "ci_high", "pearson_p", "spearman_rho", "spearman_p"))
    if len(x) < 3:
        return {**empty, "note": "undefined: fewer than 3 personas with both scores"}
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return {**empty, "note": "undefined: no variance in one of the scores"}
    pearson = stats.pearsonr(x, y)
    ci = pearson.confidence_interval(0.95)
    spearman = stats.spearmanr(x, y)
    return {
        "pearson_r": float(pearson.statistic),
        "ci_low": float(ci.low),
        "ci_high": float(ci.high),
        "pearson_p": float(pearson.pvalue),
        "spearman_rho": float(spearman.statistic),
        "spearman_p": float(spearman.pvalue),
        "note": None,
    }


def validity_table(scores: pl.DataFrame, pairs: list[TraitPair]) -> tuple[pl.DataFrame, list[TraitPair]]:
    """``scores``: model, condition, respondent, questionnaire, scale, score (one row per
    repetition for personas). Returns the table and the pairs skipped for lack of data."""
    per_respondent = scores.group_by("model", "condition", "respondent", "questionnaire", "scale").agg(
        pl.col("score").mean()
    )
    present = set(per_respondent["questionnaire"].unique())
    rows, skipped = [], []
    for pair in pairs:
        if not pair.questionnaires <= present:
            skipped.append(pair)
            continue
        side = {}
        for name, (questionnaire, scale) in (("a", pair.a), ("b", pair.b)):
            side[name] = per_respondent.filter(
                (pl.col("questionnaire") == questionnaire) & (pl.col("scale") == scale)
            ).select("model", "condition", "respondent", pl.col("score").alias(name))
        both = side["a"].join(side["b"], on=["model", "condition", "respondent"])
        for (model, condition), group in both.group_by("model", "condition"):
            rows.append(
                {
                    "trait": pair.trait,
                    "a": ".".join(pair.a),
                    "b": ".".join(pair.b),
                    "expected": pair.expected,
                    "model": model,
                    "condition": condition,
                    "n": group.height,
                    **correlate(group["a"].to_numpy(), group["b"].to_numpy()),
                }
            )
    table = pl.DataFrame(rows, schema=COLUMNS).sort(
        "trait", "a", "b", "condition", pl.col("model") != REFERENCE, "model"
    )
    return table, skipped
