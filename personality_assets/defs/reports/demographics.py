"""Persona demographics per model × condition, against the base condition and external marginals.

Attributes: gender, race and sexual orientation as cleaned when the personas were stored
(``persona_study/demographics.py``), age in bands, religion and politics lower-cased as written.
A persona that left an attribute empty counts as "(not given)".

- ``demographics_table``: count, n and share per model × condition × attribute × category; for a
  derived condition (MaxN, MaxP, random, ...) the two-sided z-test on the proportion against the
  same model's personas of the base condition (statsmodels' ``proportions_ztest``), with Holm's
  correction across the whole table's tests.
- ``marginals_table``: per model × condition × attribute named in a user's marginals CSV
  (``attribute,category,share``, e.g. census shares): the total-variation distance between the
  personas' shares and the marginals, and a χ² goodness-of-fit test (scipy) of the counts against
  them. Personas in categories the file does not list are counted in ``unlisted`` and left out of
  the χ² test; shares in the file are normalised to sum to 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest

from personality_assets.defs.reports.scale_scores import holm, marker
from personality_assets.errors import NoRetryError

ATTRIBUTES = ("gender", "race", "sexual_orientation", "age_band", "religion", "politics")
AGE_BANDS = [(18, "18-24"), (25, "25-34"), (35, "35-44"), (45, "45-54"), (55, "55-64"), (65, "65+")]
NOT_GIVEN = "(not given)"
COLUMNS = {
    "attribute": pl.String,
    "category": pl.String,
    "model": pl.String,
    "condition": pl.String,
    "base_condition": pl.String,
    "count": pl.Int64,
    "n": pl.Int64,
    "share": pl.Float64,
    "base_share": pl.Float64,
    "z": pl.Float64,
    "p": pl.Float64,
    "p_holm": pl.Float64,
    "significant": pl.String,
}
MARGINAL_COLUMNS = {
    "attribute": pl.String,
    "model": pl.String,
    "condition": pl.String,
    "n": pl.Int64,
    "unlisted": pl.Int64,
    "total_variation": pl.Float64,
    "chi2": pl.Float64,
    "df": pl.Int64,
    "p": pl.Float64,
}


class MarginalsError(NoRetryError):
    """The marginals file is invalid."""


def age_band(age: pl.Expr) -> pl.Expr:
    band = pl.lit("under 18")
    for lower, name in AGE_BANDS:
        band = pl.when(age >= lower).then(pl.lit(name)).otherwise(band)
    return pl.when(age.is_null()).then(pl.lit(None)).otherwise(band)


def persona_attributes(personas: pl.DataFrame) -> pl.DataFrame:
    """model, condition, attribute, category: one row per persona and attribute."""
    text = lambda column: pl.col(column).str.strip_chars().str.to_lowercase().replace("", None)  # noqa: E731
    wide = personas.select(
        "model",
        "condition",
        pl.col("gender"),
        pl.col("race"),
        pl.col("sexual_orientation"),
        age_band(pl.col("age")).alias("age_band"),
        text("religious_belief").alias("religion"),
        text("political_orientation").alias("politics"),
    )
    return (
        wide.unpivot(
            index=["model", "condition"], on=list(ATTRIBUTES), variable_name="attribute", value_name="category"
        )
        .with_columns(pl.col("category").fill_null(NOT_GIVEN))
        .cast({"category": pl.String})
    )


def demographics_table(personas: pl.DataFrame, base_of: dict[str, str]) -> pl.DataFrame:
    """``personas``: model, condition, gender, race, sexual_orientation, age, religious_belief,
    political_orientation. ``base_of``: condition -> its base condition (itself for a base)."""
    long = persona_attributes(personas)
    counts = long.group_by("attribute", "category", "model", "condition").agg(pl.len().alias("count"))
    totals = long.group_by("attribute", "model", "condition").agg(pl.len().alias("n"))
    # Every category seen anywhere in an attribute gets a row (count 0) in every model × condition.
    grid = (
        counts.select("attribute", "category")
        .unique()
        .join(totals, on="attribute")
        .join(counts, on=["attribute", "category", "model", "condition"], how="left")
        .with_columns(
            pl.col("count").fill_null(0),
            pl.col("condition").replace_strict(base_of, default=pl.col("condition")).alias("base_condition"),
        )
        .with_columns((pl.col("count") / pl.col("n")).alias("share"))
    )
    base = grid.select(
        "attribute",
        "category",
        "model",
        pl.col("condition").alias("base_condition"),
        pl.col("count").alias("base_count"),
        pl.col("n").alias("base_n"),
        pl.col("share").alias("base_share"),
    )
    table = grid.join(base, on=["attribute", "category", "model", "base_condition"], how="left")
    tests = [
        _z_test(row) if row["condition"] != row["base_condition"] else (None, None)
        for row in table.iter_rows(named=True)
    ]
    adjusted = holm([p for _, p in tests])
    return (
        table.with_columns(
            pl.Series("z", [z for z, _ in tests], dtype=pl.Float64),
            pl.Series("p", [p for _, p in tests], dtype=pl.Float64),
            pl.Series("p_holm", adjusted, dtype=pl.Float64),
            pl.Series("significant", [marker(p) for p in adjusted], dtype=pl.String),
        )
        .select(list(COLUMNS))
        .cast(COLUMNS)
        .sort("attribute", "model", "condition", "category")
    )


def _z_test(row: dict) -> tuple[float | None, float | None]:
    """Two-proportion z-test of a category's share against the base condition's; None when the
    base is missing or the pooled proportion is 0 or 1 (no variance)."""
    if row["base_n"] is None:
        return None, None
    pooled = (row["count"] + row["base_count"]) / (row["n"] + row["base_n"])
    if pooled in (0, 1):
        return None, None
    z, p = proportions_ztest([row["count"], row["base_count"]], [row["n"], row["base_n"]])
    return float(z), float(p)


def read_marginals(path: Path) -> pl.DataFrame:
    """attribute, category, share (normalised per attribute), from a user's CSV."""
    try:
        frame = pl.read_csv(path, schema_overrides={"share": pl.Float64}, comment_prefix="#")
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise MarginalsError(f"{path}: cannot read the marginals: {exc}") from exc
    if set(frame.columns) != {"attribute", "category", "share"}:
        raise MarginalsError(f"{path}: expected columns attribute,category,share, got {','.join(frame.columns)}")
    unknown = sorted(set(frame["attribute"]) - set(ATTRIBUTES))
    if unknown:
        raise MarginalsError(f"{path}: unknown attributes {unknown}; known: {list(ATTRIBUTES)}")
    bad = frame.with_row_index("row", offset=2).filter(pl.col("share").is_null() | (pl.col("share") < 0))
    if bad.height:
        raise MarginalsError(f"{path}: row {bad['row'][0]}: share must be a number >= 0")
    twice = frame.with_row_index("row", offset=2).filter(pl.struct("attribute", "category").is_duplicated())
    if twice.height:
        first = twice.row(0, named=True)
        raise MarginalsError(
            f"{path}: {first['attribute']} {first['category']!r} is listed twice (rows {', '.join(map(str, twice['row']))})"
        )
    return frame.with_columns((pl.col("share") / pl.col("share").sum().over("attribute")).alias("share"))


def marginals_table(demographics: pl.DataFrame, marginals: pl.DataFrame) -> pl.DataFrame:
    """Total-variation distance and χ² goodness of fit of each model × condition's categories."""
    rows = []
    for (attribute, model, condition), group in demographics.filter(
        pl.col("attribute").is_in(marginals["attribute"].unique().to_list())
    ).group_by("attribute", "model", "condition"):
        expected = marginals.filter(pl.col("attribute") == attribute).select("category", "share")
        both = group.select("category", "count").join(expected, on="category", how="full", coalesce=True)
        both = both.with_columns(pl.col("count").fill_null(0), pl.col("share").fill_null(0.0))
        n = int(group["count"].sum())
        listed = both.filter(pl.col("category").is_in(expected["category"].to_list()))
        matched = int(listed["count"].sum())
        total_variation = 0.5 * float((both["count"] / max(n, 1) - both["share"]).abs().sum())
        chi2 = p = df = None
        positive = listed.filter(pl.col("share") > 0)
        if matched and positive.height > 1 and positive["count"].sum() == matched:
            result = stats.chisquare(positive["count"].to_numpy(), positive["share"].to_numpy() * matched)
            chi2, p, df = float(result.statistic), float(result.pvalue), positive.height - 1
        rows.append(
            {
                "attribute": attribute,
                "model": model,
                "condition": condition,
                "n": n,
                "unlisted": n - matched,
                "total_variation": total_variation,
                "chi2": chi2,
                "df": df,
                "p": p if p is None or not np.isnan(p) else None,
            }
        )
    return pl.DataFrame(rows, schema=MARGINAL_COLUMNS).sort("attribute", "condition", "model")
