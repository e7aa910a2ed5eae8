"""The essays asset's checks, declared on the asset (``check_specs``) so each topic's materialisation
reports its own, and the similarity measure behind the near-duplicate check."""

from __future__ import annotations

import zlib

import dagster as dg
import numpy as np
import polars as pl
from scipy import sparse

from personality_assets.defs.steps import check_specs

ESSAY_CHECKS = check_specs(
    "essays",
    {
        "dimensions_exist": "every essay's four dimension levels exist",
        "word_counts_in_range": "every written essay's word count lies in its quality level's min..max range",
        "no_near_duplicates": "no two essays of the topic share more than near_duplicate_threshold of their word trigrams",
        "plan_covered": "every planned essay is written (none pending or failed)",
    },
)


def shingles(text: str, size: int = 3) -> set[int]:
    """Hashes of the text's word ``size``-grams (lower case)."""
    words = text.lower().split()
    return {zlib.crc32(" ".join(words[i : i + size]).encode()) for i in range(max(len(words) - size + 1, 1))}


def max_pairwise_jaccard(texts: list[str]) -> tuple[float, tuple[int, int] | None]:
    """The largest Jaccard similarity of word-trigram sets between two texts, and which pair.
    One sparse product gives every pair's overlap at once."""
    if len(texts) < 2:
        return 0.0, None
    sets = [shingles(text) for text in texts]
    vocabulary: dict[int, int] = {}
    rows, columns = [], []
    for row, items in enumerate(sets):
        for item in items:
            rows.append(row)
            columns.append(vocabulary.setdefault(item, len(vocabulary)))
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(len(sets), len(vocabulary))
    )
    overlap = (matrix @ matrix.T).toarray()
    sizes = np.array([len(items) for items in sets], dtype=np.float32)
    union = sizes[:, None] + sizes[None, :] - overlap
    jaccard = np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)
    np.fill_diagonal(jaccard, 0.0)
    i, j = np.unravel_index(int(np.argmax(jaccard)), jaccard.shape)
    return float(jaccard[i, j]), (int(min(i, j)), int(max(i, j)))


def essay_checks(essays: pl.DataFrame, dangling: int, threshold: float) -> list[dg.AssetCheckResult]:
    """``essays``: the topic's planned essays (id, content, word_count, min_words, max_words, error);
    ``dangling``: essays whose dimension ids name no level."""
    written = essays.filter(pl.col("content").is_not_null())
    outside = written.filter(
        (pl.col("word_count") < pl.col("min_words")) | (pl.col("word_count") > pl.col("max_words"))
    )
    similarity, pair = max_pairwise_jaccard(written["content"].to_list())
    pair_ids = [int(written["id"][k]) for k in pair] if pair else []
    pending = essays.filter(pl.col("content").is_null())
    return [
        dg.AssetCheckResult(check_name="dimensions_exist", passed=dangling == 0, metadata={"essays": dangling}),
        dg.AssetCheckResult(
            check_name="word_counts_in_range",
            passed=outside.is_empty(),
            severity=dg.AssetCheckSeverity.WARN,  # a real writer misses the range now and then
            metadata={
                "outside_range": outside.height,
                "share": round(outside.height / written.height, 4) if written.height else 0.0,
                "examples": str(outside.select("id", "word_count", "min_words", "max_words").head(5).rows()),
            },
        ),
        dg.AssetCheckResult(
            check_name="no_near_duplicates",
            passed=similarity <= threshold,
            metadata={"max_similarity": round(similarity, 4), "threshold": threshold, "most_similar": str(pair_ids)},
        ),
        dg.AssetCheckResult(
            check_name="plan_covered",
            passed=pending.is_empty(),
            metadata={
                "planned": essays.height,
                "written": written.height,
                "pending": pending.height,
                "failed": pending.filter(pl.col("error").is_not_null()).height,
            },
        ),
    ]
