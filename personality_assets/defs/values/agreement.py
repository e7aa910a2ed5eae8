"""Judge reliability for the value-alignment track: consensus of K judge passes, the judge's
self-consistency across passes (Fleiss' κ), and agreement with human annotators (Cohen's κ judge vs
each human, Fleiss' κ among the humans); beside each κ, Krippendorff's α, nominal and ordinal.
Plain polars + statsmodels + krippendorff, no Dagster.

Labels are -1 (misaligned), 0 (neutral) and +1 (aligned) for each of the ten Schwartz values, in the
columns ``alignment_<value>``; an entry is keyed by (persona_id, t_index).

κ comes from ``statsmodels.stats.inter_rater`` (``fleiss_kappa``, ``cohens_kappa``); this module only
builds the tables they take. κ is undefined when chance agreement is 1 (every label in one category):
statsmodels then returns nan, which is reported here as a null κ with a note, never an error.

Krippendorff's α comes from the ``krippendorff`` package (``krippendorff.alpha`` on the units ×
labels count table, ``value_domain`` -1, 0, 1), at two levels of measurement: ``nominal`` (every
disagreement counts the same) and ``ordinal`` (the labels are ordered, -1 < 0 < +1, so -1 vs +1
counts more than either vs 0). Unlike κ it takes any number of raters per unit: a unit (entry)
with labels from fewer than two raters is not pairable and adds nothing, so entries missing some
passes or some annotators still count. α is undefined when no entry has two labels or every
pairable label is in one category (expected disagreement 0): a null α with a note.
"""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import polars as pl
from statsmodels.stats.inter_rater import cohens_kappa, fleiss_kappa

from personality_assets.defs.values.replies import SCHWARTZ_VALUES
from personality_assets.errors import NoRetryError

KEY = ["persona_id", "t_index"]
PASS = "pass"
LABELS = (-1, 0, 1)
LABEL_COLUMNS = [f"alignment_{value}" for value in SCHWARTZ_VALUES]

# Confidence tiers of a consensus label, from its agreement a (passes that gave it) out of n passes,
# as in the published consensus file (K = 5: 5, 4, 3, at most 2).
UNANIMOUS = "unanimous"  # a = n
STRONG = "strong"  # a = n - 1 and a > n / 2 (all but one; with n = 3 this is 2 of 3)
BARE_MAJORITY = "bare_majority"  # n / 2 < a < n - 1
NO_MAJORITY = "no_majority"  # a <= n / 2: a plurality or a tie
# Tie rules: where the most frequent label is shared by 0 and one of -1 / +1.
TIES = ("zero", "signed")

UNDEFINED_KAPPA = "κ undefined: every label is in one category (chance agreement is 1)"
UNDEFINED_ALPHA = "α undefined: every pairable label is in one category (expected disagreement is 0)"
ALPHA_LEVELS = ("nominal", "ordinal")
ALPHA_COLUMNS = [f"krippendorff_alpha_{level}" for level in ALPHA_LEVELS]


class AnnotationError(NoRetryError):
    """A human annotation file that cannot be read: names the file, the line and the column."""


# ---------------------------------------------------------------------------------------------
# Validation and the per-entry category counts that consensus and Fleiss' κ share


def _check_labels(df: pl.DataFrame, what: str, key: list[str]) -> None:
    """Raise ValueError for missing columns, labels outside {-1, 0, 1} (or null) and duplicate keys."""
    missing = [column for column in [*key, *LABEL_COLUMNS] if column not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}")
    invalid = {column: ~pl.col(column).is_in(LABELS) | pl.col(column).is_null() for column in LABEL_COLUMNS}
    n_invalid = df.select(expr.sum().alias(column) for column, expr in invalid.items()).row(0)
    for column, count in zip(LABEL_COLUMNS, n_invalid, strict=True):
        if count:
            bad = df.filter(invalid[column])
            row = bad.row(0, named=True)
            where = ", ".join(f"{k}={row[k]!r}" for k in key)
            raise ValueError(
                f"{what}: {column} is {row[column]!r} at {where} ({bad.height} such rows); labels must be -1, 0 or 1"
            )
    if df.select(pl.struct(key).is_duplicated().any()).item():
        duplicated = df.filter(pl.struct(key).is_duplicated())
        row = duplicated.row(0, named=True)
        where = ", ".join(f"{k}={row[k]!r}" for k in key)
        raise ValueError(f"{what}: more than one row for {where}")


def _count_column(value: str, label: int) -> str:
    return f"_n{label:+d}_{value}"


def _category_counts(df: pl.DataFrame, group: list[str], raters: str) -> pl.DataFrame:
    """One row per ``group`` with ``raters`` (how many rows it has) and, per value and label, how
    many of its rows gave that label: the subjects × categories table of Fleiss' κ, for all ten
    values in one vectorised group_by (statsmodels' ``aggregate_raters`` builds the same table with
    a Python loop over subjects, about 1 s per value per million entries)."""
    return df.group_by(group).agg(
        pl.len().cast(pl.Int64).alias(raters),
        *(
            (pl.col(f"alignment_{value}") == label).sum().cast(pl.Int64).alias(_count_column(value, label))
            for value in SCHWARTZ_VALUES
            for label in LABELS
        ),
    )


def _count_table(counts: pl.DataFrame, value: str) -> np.ndarray:
    """The (subjects × 3) count table of one value, categories in the order -1, 0, 1."""
    return counts.select(_count_column(value, label) for label in LABELS).to_numpy()


def _fleiss(table: np.ndarray, raters: int, what: str) -> tuple[float | None, str | None]:
    """Fleiss' κ of a subjects × categories count table (statsmodels), or (None, why not)."""
    if raters < 2:
        return None, f"Fleiss' κ needs at least 2 {what}"
    if table.shape[0] == 0:
        return None, "no entries"
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = float(fleiss_kappa(table, method="fleiss"))
    if np.isnan(kappa):
        return None, UNDEFINED_KAPPA
    return kappa, None


def krippendorff_alphas(
    value_counts: np.ndarray, value_domain=LABELS, raters: str = "raters"
) -> tuple[dict[str, float | None], str | None]:
    """Krippendorff's α, nominal and ordinal, of a units × categories count table (how many raters
    gave each unit each label, categories in the order of ``value_domain``), by the ``krippendorff``
    package: ``({"krippendorff_alpha_nominal": α, "krippendorff_alpha_ordinal": α}, note)``.

    Units with fewer than two labels are allowed (they are not pairable and add nothing). Both α
    are None, with a note, when no unit has labels from two raters or every pairable label is in
    one category; the package would raise or divide 0 by 0 there.
    """
    table = np.asarray(value_counts, dtype=np.int64).reshape(-1, len(value_domain))
    pairable = table[table.sum(axis=1) >= 2]
    undefined = dict.fromkeys(ALPHA_COLUMNS)
    if pairable.shape[0] == 0:
        return undefined, f"α needs an entry with labels from at least 2 {raters}"
    if np.count_nonzero(pairable.sum(axis=0)) < 2:
        return undefined, UNDEFINED_ALPHA
    return {
        f"krippendorff_alpha_{level}": float(
            krippendorff.alpha(value_counts=table, value_domain=list(value_domain), level_of_measurement=level)
        )
        for level in ALPHA_LEVELS
    }, None


def _notes(kappa_note: str | None, alpha_note: str | None) -> str | None:
    """The row's note: κ's and α's, once when both are undefined for the same reason."""
    if kappa_note == UNDEFINED_KAPPA and alpha_note == UNDEFINED_ALPHA:
        return "κ and α undefined: every label is in one category"
    return "; ".join(note for note in (kappa_note, alpha_note) if note) or None


# ---------------------------------------------------------------------------------------------
# 1. Consensus of K judge passes


def consensus_labels(passes: pl.DataFrame, ties: str = "zero") -> pl.DataFrame:
    """One row per (persona_id, t_index): the consensus of the judge's passes over that entry, in
    the published consensus format (a drop-in judge-label file).

    ``passes`` has one row per (persona_id, t_index, pass), ``pass`` 0 being the first pass, and the
    ten ``alignment_<value>`` columns; optionally ``rationales_json`` (a JSON object value -> reason,
    or null) and other columns such as ``date``. Per value, the consensus label is the label given
    by more passes than each other label. When no label has that, the most frequent label is shared
    (a tie):

    - ``ties="zero"`` (default): a tie goes to 0 (neutral). The passes disagree on whether the
      entry expresses the value at all, and "no clear evidence" is what 0 means; a +1 or -1 needs
      more votes than each other label (non-zero labels are the minority, about a quarter).
    - ``ties="signed"``: a tie between 0 and exactly one of -1 / +1 goes to that signed label
      (K = 5: (1, 1, 0, 0, -1) -> +1, as the published consensus file resolves its 2-of-5 ties). A
      tie between -1 and +1 (with or without 0) still goes to 0: no sign can be preferred.

    Both rules treat the passes as exchangeable: the consensus depends only on the labels given,
    not on which call came first. The output has the judge-label contract's columns, in its order:
    persona_id, t_index, the other input columns (``date``), ``alignment_vector`` and the ten
    ``alignment_<value>`` (the consensus), ``rationales_json`` when the input has it (for each
    non-zero consensus label, the reason of the earliest pass that gave that label; null when no
    label is non-zero); then per value

    - ``confidence_<value>``: ``unanimous`` (every pass gave the consensus label), ``strong`` (all
      but one, and more than half), ``bare_majority`` (more than half, fewer than all but one),
      ``no_majority`` (half or fewer: a plurality or a tie);
    - ``consensus_agreement_<value>`` (i64): how many passes gave the consensus label (0 when a
      -1/+1 tie went to 0);
    - ``label_changed_<value>`` (bool): the consensus differs from pass 0's label (null when the
      entry has no pass 0);

    and ``passes``: how many passes the entry has (K unless some failed). An entry missing some
    passes gets the consensus of those it has, its tiers from its own count. The other input
    columns are taken from the entry's earliest pass.
    """
    if ties not in TIES:
        raise ValueError(f"ties must be 'zero' or 'signed', not {ties!r}")
    _check_labels(passes, "judge passes", [*KEY, PASS])
    reasons = "rationales_json" in passes.columns
    ignored = {*KEY, PASS, *LABEL_COLUMNS, "alignment_vector", "rationales_json"}
    extra = [column for column in passes.columns if column not in ignored]

    # the earliest pass of each entry (pass 0 unless it failed): its extra columns and pass 0's labels
    first_pass = passes.filter(pl.col(PASS) == pl.col(PASS).min().over(KEY)).select(
        *KEY,
        *extra,
        *(
            pl.when(pl.col(PASS) == 0).then(pl.col(column)).alias(f"_first_{value}")
            for value, column in zip(SCHWARTZ_VALUES, LABEL_COLUMNS, strict=True)
        ),
    )
    df = _category_counts(passes, KEY, "passes").join(first_pass, on=KEY, how="left")

    derived = []
    for value in SCHWARTZ_VALUES:
        neg, zero, pos = (pl.col(_count_column(value, label)) for label in LABELS)
        label = (
            pl.when((pos > zero) & (pos > neg))
            .then(pl.lit(1, pl.Int64))
            .when((neg > zero) & (neg > pos))
            .then(pl.lit(-1, pl.Int64))
        )
        if ties == "signed":
            label = (
                label.when((pos == zero) & (pos > neg))
                .then(pl.lit(1, pl.Int64))
                .when((neg == zero) & (neg > pos))
                .then(pl.lit(-1, pl.Int64))
            )
        label = label.otherwise(pl.lit(0, pl.Int64))
        agreement = pl.when(label == 1).then(pos).when(label == -1).then(neg).otherwise(zero).cast(pl.Int64)
        n = pl.col("passes")
        derived += [
            label.alias(f"alignment_{value}"),
            pl.when(agreement == n)
            .then(pl.lit(UNANIMOUS))
            .when(agreement * 2 <= n)
            .then(pl.lit(NO_MAJORITY))
            .when(agreement == n - 1)
            .then(pl.lit(STRONG))
            .otherwise(pl.lit(BARE_MAJORITY))
            .alias(f"confidence_{value}"),
            agreement.alias(f"consensus_agreement_{value}"),
            (label != pl.col(f"_first_{value}")).alias(f"label_changed_{value}"),
        ]
    df = df.with_columns(derived).with_columns(pl.concat_list(LABEL_COLUMNS).alias("alignment_vector"))
    if reasons:
        df = df.join(_consensus_rationales(passes, df), on=KEY, how="left")
    per_value = [
        f"{kind}_{value}"
        for value in SCHWARTZ_VALUES
        for kind in ("confidence", "consensus_agreement", "label_changed")
    ]
    return df.select(
        *KEY,
        *extra,
        "alignment_vector",
        *LABEL_COLUMNS,
        *(["rationales_json"] if reasons else []),
        *per_value,
        "passes",
    ).sort(KEY)


def _consensus_rationales(passes: pl.DataFrame, consensus: pl.DataFrame) -> pl.DataFrame:
    """KEY and rationales_json: per non-zero consensus label, the reason of the earliest pass that
    gave it (null when the entry has no non-zero consensus label)."""
    reasons = passes.select(
        *KEY,
        PASS,
        *LABEL_COLUMNS,
        *(
            pl.col("rationales_json").str.json_path_match(f"$.{value}").alias(f"_why_{value}")
            for value in SCHWARTZ_VALUES
        ),
    ).join(consensus.select(*KEY, *(pl.col(c).alias(f"_consensus_{c}") for c in LABEL_COLUMNS)), on=KEY)
    chosen = (
        reasons.sort(PASS)
        .group_by(KEY)
        .agg(
            pl.col(f"_why_{value}")
            .filter((pl.col(column) == pl.col(f"_consensus_{column}")) & (pl.col(column) != 0))
            .first()
            .alias(value)
            for value, column in zip(SCHWARTZ_VALUES, LABEL_COLUMNS, strict=True)
        )
    )
    as_json = [
        json.dumps({value: why for value, why in row.items() if why is not None}, ensure_ascii=False)
        if any(why is not None for why in row.values())
        else None
        for row in chosen.select(SCHWARTZ_VALUES).iter_rows(named=True)
    ]
    return chosen.select(*KEY).with_columns(pl.Series("rationales_json", as_json, dtype=pl.String))


# ---------------------------------------------------------------------------------------------
# 2. Self-consistency of the judge across passes


def self_consistency(passes: pl.DataFrame) -> pl.DataFrame:
    """Per value, Fleiss' κ and Krippendorff's α across the judge's passes: entries are the
    subjects (units), the K passes the raters (coders), -1/0/1 the categories (statsmodels
    ``fleiss_kappa``; ``krippendorff.alpha``, nominal and ordinal).

    K is the number of distinct ``pass`` values. Entries missing any pass are left out of κ
    (Fleiss' κ needs the same number of raters per subject); ``n_left_out`` says how many. α takes
    them too: it uses every entry with at least two passes (``n_entries_alpha``). Columns: value,
    fleiss_kappa, krippendorff_alpha_nominal, krippendorff_alpha_ordinal (each null when undefined,
    with ``note``), n_entries, n_entries_alpha, passes, n_left_out, note.
    """
    _check_labels(passes, "judge passes", [*KEY, PASS])
    k = passes[PASS].n_unique()
    counts = _category_counts(passes, KEY, "_passes")
    complete = counts.filter(pl.col("_passes") == k)
    pairable = counts.filter(pl.col("_passes") >= 2)
    rows = []
    for value in SCHWARTZ_VALUES:
        kappa, kappa_note = _fleiss(_count_table(complete, value), k, "passes")
        alphas, alpha_note = krippendorff_alphas(_count_table(pairable, value), raters="passes")
        rows.append(
            {
                "value": value,
                "fleiss_kappa": kappa,
                **alphas,
                "n_entries": complete.height,
                "n_entries_alpha": pairable.height,
                "passes": k,
                "n_left_out": counts.height - complete.height,
                "note": _notes(kappa_note, alpha_note),
            }
        )
    return pl.DataFrame(rows, schema=_SELF_CONSISTENCY_SCHEMA)


_SELF_CONSISTENCY_SCHEMA = {
    "value": pl.String,
    "fleiss_kappa": pl.Float64,
    **dict.fromkeys(ALPHA_COLUMNS, pl.Float64),
    "n_entries": pl.Int64,
    "n_entries_alpha": pl.Int64,
    "passes": pl.Int64,
    "n_left_out": pl.Int64,
    "note": pl.String,
}


# ---------------------------------------------------------------------------------------------
# 3. Agreement with human annotators


_COHEN_SCHEMA = {
    "value": pl.String,
    "annotator": pl.String,
    "cohens_kappa": pl.Float64,
    **dict.fromkeys(ALPHA_COLUMNS, pl.Float64),
    "n": pl.Int64,
    "n_annotators": pl.Int64,
    "note": pl.String,
}
_HUMAN_FLEISS_SCHEMA = {
    "value": pl.String,
    "fleiss_kappa": pl.Float64,
    **dict.fromkeys(ALPHA_COLUMNS, pl.Float64),
    "n_entries": pl.Int64,
    "n_entries_alpha": pl.Int64,
    "n_annotators": pl.Int64,
    "n_left_out": pl.Int64,
    "note": pl.String,
}


def _contingency(judge_labels: np.ndarray, human_labels: np.ndarray) -> np.ndarray:
    """3 × 3 counts, judge label in rows and human label in columns, both in the order -1, 0, 1:
    every category has its row and column even when nobody used it, so κ's chance agreement is
    computed over the same three categories for every annotator and value."""
    table = np.zeros((3, 3), dtype=np.int64)
    np.add.at(table, (judge_labels + 1, human_labels + 1), 1)
    return table


def _pair_counts(judge_labels: np.ndarray, human_labels: np.ndarray) -> np.ndarray:
    """Entries × 3 counts (-1, 0, 1) of two raters' labels: Krippendorff's value counts."""
    one_hot = np.eye(3, dtype=np.int64)
    return one_hot[judge_labels + 1] + one_hot[human_labels + 1]


def human_agreement(judge: pl.DataFrame, humans: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Agreement of the judge with human annotators, and of the annotators among themselves.

    ``judge`` has one row per (persona_id, t_index) with the ten ``alignment_<value>`` columns
    (judge_labels or consensus_labels); ``humans`` one row per (persona_id, t_index, annotator), as
    read by :func:`read_human_annotations`.

    First table, per value and annotator: Cohen's κ judge vs that annotator (statsmodels
    ``cohens_kappa``, unweighted, on the 3 × 3 contingency table) and Krippendorff's α (nominal,
    ordinal) of the two over the entries both labelled, with n; then per value a row with a null
    ``annotator``: the mean of the annotators' κ and of their α (the undefined ones left out), n the
    total of their n and ``n_annotators`` how many κ were averaged.

    Second table, per value: Fleiss' κ among the annotators over the entries every annotator
    labelled (``n_left_out``: entries some but not all labelled), with n_entries and n_annotators;
    and Krippendorff's α among them over every entry at least two labelled (``n_entries_alpha``).
    """
    _check_labels(judge, "judge labels", KEY)
    _check_labels(humans, "human annotations", [*KEY, "annotator"])
    annotators = sorted(humans["annotator"].unique().to_list())
    if not annotators:
        return pl.DataFrame(schema=_COHEN_SCHEMA), pl.DataFrame(schema=_HUMAN_FLEISS_SCHEMA)

    both = humans.join(judge.select(*KEY, *LABEL_COLUMNS), on=KEY, how="inner", suffix="_judge")
    by_annotator = {annotator: both.filter(pl.col("annotator") == annotator) for annotator in annotators}
    cohen_rows = []
    for value in SCHWARTZ_VALUES:
        column = f"alignment_{value}"
        kappas, total = [], 0
        alphas: dict[str, list[float]] = {column: [] for column in ALPHA_COLUMNS}
        for annotator, rows in by_annotator.items():
            kappa, note, alpha = None, None, dict.fromkeys(ALPHA_COLUMNS)
            if rows.height == 0:
                note = "no entry labelled by both the judge and this annotator"
            else:
                judge_labels, human_labels = rows[f"{column}_judge"].to_numpy(), rows[column].to_numpy()
                table = _contingency(judge_labels, human_labels)
                with np.errstate(invalid="ignore", divide="ignore"):
                    kappa = float(cohens_kappa(table, return_results=False))
                kappa_note = None
                if np.isnan(kappa):
                    kappa, kappa_note = None, UNDEFINED_KAPPA
                else:
                    kappas.append(kappa)
                    total += rows.height
                alpha, alpha_note = krippendorff_alphas(_pair_counts(judge_labels, human_labels))
                for name, a in alpha.items():
                    if a is not None:
                        alphas[name].append(a)
                note = _notes(kappa_note, alpha_note)
            cohen_rows.append(
                {
                    "value": value,
                    "annotator": annotator,
                    "cohens_kappa": kappa,
                    **alpha,
                    "n": rows.height,
                    "n_annotators": 1,
                    "note": note,
                }
            )
        left_out = len(annotators) - len(kappas)
        alpha_left_out = len(annotators) - len(alphas[ALPHA_COLUMNS[0]])
        note = "mean over annotators"
        if left_out:
            note += f"; {left_out} without a defined κ left out"
        if alpha_left_out != left_out:
            note += f"; {alpha_left_out} without a defined α left out of α"
        cohen_rows.append(
            {
                "value": value,
                "annotator": None,
                "cohens_kappa": float(np.mean(kappas)) if kappas else None,
                **{name: float(np.mean(a)) if a else None for name, a in alphas.items()},
                "n": total,
                "n_annotators": len(kappas),
                "note": note,
            }
        )

    counts = _category_counts(humans, KEY, "_annotators")
    complete = counts.filter(pl.col("_annotators") == len(annotators))
    pairable = counts.filter(pl.col("_annotators") >= 2)
    fleiss_rows = []
    for value in SCHWARTZ_VALUES:
        kappa, kappa_note = _fleiss(_count_table(complete, value), len(annotators), "annotators")
        alphas, alpha_note = krippendorff_alphas(_count_table(pairable, value), raters="annotators")
        fleiss_rows.append(
            {
                "value": value,
                "fleiss_kappa": kappa,
                **alphas,
                "n_entries": complete.height,
                "n_entries_alpha": pairable.height,
                "n_annotators": len(annotators),
                "n_left_out": counts.height - complete.height,
                "note": _notes(kappa_note, alpha_note),
            }
        )
    return (
        pl.DataFrame(cohen_rows, schema=_COHEN_SCHEMA),
        pl.DataFrame(fleiss_rows, schema=_HUMAN_FLEISS_SCHEMA),
    )


# ---------------------------------------------------------------------------------------------
# 4. Reading human annotations


HUMAN_SCHEMA = {
    "persona_id": pl.String,
    "t_index": pl.Int64,
    "annotator": pl.String,
    **{column: pl.Int64 for column in LABEL_COLUMNS},
}


def _read_one(path: Path) -> pl.DataFrame:
    try:
        raw = pl.read_csv(path, infer_schema=False)
    except pl.exceptions.NoDataError:
        raise AnnotationError(f"{path}: the file is empty (expected a header line)") from None
    except pl.exceptions.PolarsError as error:  # e.g. a line with more fields than the header
        raise AnnotationError(f"{path}: not a readable CSV file: {error}") from error
    raw = raw.rename({column: column.strip() for column in raw.columns})
    renames = {}
    for value, column in zip(SCHWARTZ_VALUES, LABEL_COLUMNS, strict=True):
        if column not in raw.columns and value in raw.columns:
            renames[value] = column
        elif column in raw.columns and value in raw.columns:
            raise AnnotationError(f"{path}: both columns {value!r} and {column!r}; keep one")
    raw = raw.rename(renames)
    missing = [column for column in HUMAN_SCHEMA if column not in raw.columns]
    if missing:
        raise AnnotationError(
            f"{path}: missing column(s) {', '.join(missing)} (each value may also be named without"
            " the 'alignment_' prefix)"
        )
    # line 1 is the header, so data row i (0-based) is on line i + 2
    df = raw.select(
        (pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias("_line"),
        *(pl.col(column).str.strip_chars() for column in HUMAN_SCHEMA),
    )
    for column in HUMAN_SCHEMA:
        parsed = pl.col(column)
        if HUMAN_SCHEMA[column] == pl.Int64:
            parsed = parsed.cast(pl.Int64, strict=False)
        allowed = "-1, 0 or 1" if column in LABEL_COLUMNS else "a non-empty value"
        if column == "t_index":
            allowed = "an integer"
        bad = pl.col(column).is_null() | (pl.col(column) == "") | parsed.is_null()
        if column in LABEL_COLUMNS:
            bad = bad | ~parsed.is_in(LABELS)
        wrong = df.filter(bad)
        if wrong.height:
            line, text = wrong.row(0)[0], wrong[column][0]
            more = f" ({wrong.height - 1} more such lines)" if wrong.height > 1 else ""
            shown = "empty" if text in (None, "") else repr(text)
            raise AnnotationError(f"{path}, line {line}, column {column}: {shown}, expected {allowed}{more}")
    return df.with_columns(pl.col(column).cast(dtype) for column, dtype in HUMAN_SCHEMA.items()).with_columns(
        pl.lit(str(path)).alias("_file")
    )


def read_human_annotations(folder: Path) -> pl.DataFrame:
    """Every ``*.csv`` in ``folder`` (not its subfolders), as one frame with persona_id, t_index,
    annotator and the ten ``alignment_<value>`` columns (i64), sorted by annotator and entry.

    Each file needs those columns, the label columns named ``alignment_<value>`` or just
    ``<value>``; other columns are ignored. An :class:`AnnotationError` names the file, the line
    (the header is line 1) and the column of a missing column, an empty cell, a t_index that is not
    an integer or a label outside {-1, 0, 1}, and both places of a (persona_id, t_index, annotator)
    given twice (in one file or across files). A missing or empty folder gives an empty frame.
    """
    folder = Path(folder)
    if not folder.exists():
        return pl.DataFrame(schema=HUMAN_SCHEMA)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: human annotations must be a folder of .csv files")
    frames = [_read_one(path) for path in sorted(folder.glob("*.csv"))]
    if not frames:
        return pl.DataFrame(schema=HUMAN_SCHEMA)
    df = pl.concat(frames)
    key = [*KEY, "annotator"]
    duplicated = df.filter(pl.struct(key).is_duplicated()).sort("_file", "_line")
    if duplicated.height:
        first = duplicated.row(0, named=True)
        same = duplicated.filter(
            (pl.col("persona_id") == first["persona_id"])
            & (pl.col("t_index") == first["t_index"])
            & (pl.col("annotator") == first["annotator"])
        )
        places = "; ".join(f"{f}, line {line}" for f, line in same.select("_file", "_line").rows())
        raise AnnotationError(
            f"duplicate annotation: persona_id={first['persona_id']!r}, t_index={first['t_index']},"
            f" annotator={first['annotator']!r} at {places}"
        )
    return df.select(list(HUMAN_SCHEMA)).sort("annotator", *KEY)
