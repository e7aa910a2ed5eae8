"""Benchmark: each report figure drawn and saved from a synthetic study of the reports benchmark's shape.

    .venv/bin/python benchmarks/report_figures.py
    .venv/bin/python benchmarks/report_figures.py --personas 200   # quicker

5 models x 4 conditions x 826 personas (3 repetitions each) on 9 scales of two questionnaires, the
same number of reference people per condition, 6 demographic attributes, the 6 response-style
indices per experiment. No database: the frames the report assets pass to ``reports/plots.py`` are
made directly, so the figure alone is timed. Prints the CPU seconds of each figure (best of
``--repeats``) and its PNG's size; the files go to a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from personality_assets.defs.persona_study.reports import plots
from personality_assets.defs.persona_study.reports.response_styles import INDICES

MODELS = [f"sim{i}" for i in range(1, 6)]
CONDITIONS = ["bench826", "bench826_maxN", "bench826_maxP", "bench826_random"]
SCALES = [("bigfive", s) for s in ("EXT", "EST", "AGR", "CSN", "OPN")] + [("epqr_a", s) for s in "ENPL"]
CATEGORIES = {
    "gender": ["female", "male", "nonbinary"],
    "race": list("abcdefghij"),
    "age_band": ["18-29", "30-44", "45-59", "60+"],
    "religious_belief": list("pqrstu"),
    "political_orientation": list("lmnoc"),
    "sexual_orientation": list("hbgo"),
}


def frames(personas: int, seed: int = 0) -> dict[str, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    groups = pl.DataFrame(
        [(m, c, q, s) for m in MODELS for c in CONDITIONS for q, s in SCALES],
        schema=["model", "condition", "questionnaire", "scale"],
        orient="row",
    )
    scores = groups.join(pl.DataFrame({"persona_id": np.arange(personas)}), how="cross").join(
        pl.DataFrame({"repetition": [0, 1, 2]}), how="cross"
    )
    scores = scores.with_columns(
        pl.Series("score", rng.normal(30, 8, scores.height)),
        pl.Series("reference_score", rng.normal(30, 8, scores.height)),
    )
    humans = (
        pl.DataFrame(
            [(c, q, s) for c in CONDITIONS for q, s in SCALES],
            schema=["condition", "questionnaire", "scale"],
            orient="row",
        )
        .join(pl.DataFrame({"respondent": np.arange(personas)}), how="cross")
        .with_columns(pl.lit("reference").alias("model"))
    )
    humans = humans.with_columns(pl.Series("score", rng.normal(30, 8, humans.height)))
    per_persona = scores.group_by("model", "condition", "questionnaire", "scale", "persona_id").agg(
        pl.col("score").mean()
    )
    columns = ["model", "condition", "questionnaire", "scale", "score"]
    reliability = pl.concat(
        [
            groups,
            pl.DataFrame(
                [("reference", c, q, s) for c in CONDITIONS for q, s in SCALES], schema=groups.schema, orient="row"
            ),
        ]
    )
    reliability = reliability.with_columns(
        pl.lit(personas, pl.Int64).alias("n"), pl.Series("alpha", rng.uniform(0.5, 0.9, reliability.height))
    ).with_columns((pl.col("alpha") - 0.05).alias("ci_low"), (pl.col("alpha") + 0.04).alias("ci_high"))
    demographics = []
    for attribute, names in CATEGORIES.items():
        for model in MODELS:
            for condition in CONDITIONS:
                counts = rng.multinomial(personas, np.ones(len(names)) / len(names))
                demographics += [
                    (attribute, name, model, condition, int(n), personas, n / personas)
                    for name, n in zip(names, counts, strict=True)
                ]
    indices = (
        pl.DataFrame(
            [(m, c, q) for m in MODELS for c in CONDITIONS for q in ("bigfive", "epqr_a")],
            schema=["model", "condition", "questionnaire"],
            orient="row",
        )
        .join(pl.DataFrame({"persona_id": np.arange(personas)}), how="cross")
        .join(pl.DataFrame({"repetition": [0, 1, 2]}), how="cross")
    )
    indices = indices.with_columns(
        pl.lit("persona").alias("respondent"),
        pl.col("persona_id").alias("personality_id"),
        *[pl.Series(index, rng.uniform(0, 1, indices.height)) for index in INDICES],
    ).drop("repetition")
    return {
        "distributions": pl.concat([per_persona.select(columns), humans.select(columns)]),
        "scores": scores,
        "reliability": reliability,
        "demographics": pl.DataFrame(
            demographics, schema=["attribute", "category", "model", "condition", "count", "n", "share"], orient="row"
        ),
        "indices": indices,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--personas", type=int, default=826)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    data = frames(args.personas)
    folder = Path(tempfile.mkdtemp(prefix="report_figures_"))
    figures = {
        "score_distributions": lambda p: plots.score_distributions(data["distributions"], p),
        "persona_vs_reference": lambda p: plots.persona_vs_reference(data["scores"], p),
        "alpha_forest": lambda p: plots.alpha_forest(data["reliability"], p),
        "demographic_bars": lambda p: plots.demographic_bars(data["demographics"], p),
        "response_styles": lambda p: plots.response_styles(data["indices"], p, INDICES),
    }
    print(f"{len(MODELS)} models x {len(CONDITIONS)} conditions x {args.personas} personas, {len(SCALES)} scales")
    for name, draw in figures.items():
        best = float("inf")
        for _ in range(args.repeats):
            start = time.process_time()
            path = draw(folder / f"{name}.png")
            best = min(best, time.process_time() - start)
        print(f"  {name:22s} {best:5.2f} s CPU  {path.stat().st_size / 1024:6.0f} KiB", flush=True)


if __name__ == "__main__":
    main()
