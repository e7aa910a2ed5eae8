"""Write a SYNTHETIC file in the exact Open Psychometrics IPIP-FFM ``data-final.csv`` layout.

Used by the tests and the load benchmark, and handy to try the loader without the real
download: tab-separated, 110 columns (50 answers, 50 ``<item>_E`` timings, 10 metadata
columns), ``0`` for an unanswered item, some rows entirely ``NULL``. Written in chunks, so a
million rows need little memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from personality_assets.populations.readers import OPEN_PSYCHOMETRICS_METADATA_COLUMNS
from personality_assets.questionnaires import get_questionnaire

COUNTRIES = np.array(["US", "GB", "CA", "AU", "DE", "IN", "PH", "ES", "NONE"])


def open_psychometrics_columns() -> list[str]:
    codes = get_questionnaire("bigfive").codes
    return [*codes, *(f"{code}_E" for code in codes), *OPEN_PSYCHOMETRICS_METADATA_COLUMNS]


def write_open_psychometrics_file(
    path: Path,
    rows: int,
    *,
    seed: int = 7,
    incomplete_share: float = 0.12,
    null_share: float = 0.001,
    chunk_rows: int = 100_000,
) -> Path:
    """Write exactly ``rows`` rows after the header: about ``null_share`` of them all-NULL and
    ``incomplete_share`` of the others with one skipped item. Returns ``path``."""
    bigfive = get_questionnaire("bigfive")
    codes = bigfive.codes
    signs = np.array([1.0 if key == "+" else -1.0 for key in bigfive.items["key"]])
    scale_index = np.array([list(bigfive.scales).index(scale) for scale in bigfive.items["scale"]])
    columns = open_psychometrics_columns()
    null_line = "\t".join(["NULL"] * len(columns)) + "\n"
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        handle.write("\t".join(columns) + "\n")
        written = 0
        while written < rows:
            chunk = min(chunk_rows, rows - written)
            nulls = int(rng.binomial(chunk, null_share))
            n = chunk - nulls
            traits = rng.normal(size=(n, len(bigfive.scales)))
            latent = 3 + signs * traits[:, scale_index] + rng.normal(0, 0.8, size=(n, len(codes)))
            answers = np.clip(np.rint(latent), 1, 5).astype(np.int8)
            skipped = rng.random(n) < incomplete_share
            answers[skipped, rng.integers(0, len(codes), skipped.sum())] = 0
            frame = pl.DataFrame(
                {
                    **{code: answers[:, i] for i, code in enumerate(codes)},
                    **{f"{code}_E": rng.integers(1000, 20000, n, dtype=np.int32) for code in codes},
                    "dateload": np.full(n, "2016-03-03 02:01:01"),
                    "screenw": rng.choice([768, 1366, 1920], n),
                    "screenh": rng.choice([1024, 768, 1080], n),
                    "introelapse": rng.integers(1, 100, n),
                    "testelapse": rng.integers(100, 500, n),
                    "endelapse": rng.integers(1, 50, n),
                    "IPC": rng.choice([1, 1, 1, 2, 3], n),
                    "country": rng.choice(COUNTRIES, n),
                    "lat_appx_lots_of_err": np.round(rng.uniform(-50, 60, n), 4),
                    "long_appx_lots_of_err": np.round(rng.uniform(-120, 150, n), 4),
                }
            )
            body = frame.write_csv(separator="\t", include_header=False, quote_style="never")
            handle.write(body)
            handle.write(null_line * nulls)
            written += chunk
    return path
