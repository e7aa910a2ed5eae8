"""The value-alignment track's judge reliability (personality_assets/defs/values/agreement.py):
consensus of K passes, Fleiss' κ and Cohen's κ against hand-computed examples, Krippendorff's α
against its published example and the krippendorff package, and the errors of
bad human annotation files."""

from __future__ import annotations

import json
import warnings

import krippendorff
import numpy as np
import polars as pl
import pytest
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from personality_assets.defs.values.agreement import (
    HUMAN_SCHEMA,
    AnnotationError,
    consensus_labels,
    human_agreement,
    krippendorff_alphas,
    read_human_annotations,
    self_consistency,
)
from personality_assets.defs.values.contract import LABEL_FILE_SCHEMA, schema_problems
from personality_assets.defs.values.replies import SCHWARTZ_VALUES

LABEL_COLUMNS = [f"alignment_{value}" for value in SCHWARTZ_VALUES]


def passes_frame(by_value: dict[str, list[tuple[int, ...]]], **extra) -> pl.DataFrame:
    """One row per (entry, pass): entry i is ("p<i>", i); ``by_value[value][i]`` holds its labels
    in pass order; values not given are 0 in every pass."""
    n_entries = len(next(iter(by_value.values())))
    rows = []
    for i in range(n_entries):
        n_passes = len(next(iter(by_value.values()))[i])
        for k in range(n_passes):
            row = {"persona_id": f"p{i}", "t_index": i, "pass": k}
            for value in SCHWARTZ_VALUES:
                row[f"alignment_{value}"] = by_value[value][i][k] if value in by_value else 0
            row.update({name: f"{name}-{i}-{k}" for name in extra})
            rows.append(row)
    return pl.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# consensus_labels


def test_consensus_of_three_passes():
    sd = [(1, 1, 0), (0, 1, 1), (1, 0, -1), (-1, -1, -1), (0, 0, 0), (-1, 0, 0)]
    out = consensus_labels(passes_frame({"self_direction": sd}, date=True))
    assert out["persona_id"].to_list() == [f"p{i}" for i in range(6)]
    assert out["passes"].to_list() == [3] * 6
    assert out["alignment_self_direction"].to_list() == [1, 1, 0, -1, 0, 0]
    assert out["consensus_agreement_self_direction"].to_list() == [2, 2, 1, 3, 3, 2]
    assert out["confidence_self_direction"].to_list() == [
        "strong",  # 2 of 3: all but one
        "strong",
        "no_majority",  # (1, 0, -1): a three-way tie goes to 0 (neutral)
        "unanimous",
        "unanimous",
        "strong",
    ]
    assert out["label_changed_self_direction"].to_list() == [False, True, True, False, False, True]
    # training labels: alignment_<value> and the vector are the consensus, in the fixed order
    assert out["alignment_vector"].to_list()[0] == [1] + [0] * 9
    assert out.schema["alignment_vector"] == pl.List(pl.Int64)
    for column in LABEL_COLUMNS:
        assert out.schema[column] == pl.Int64
    # the other values: unanimous 0, unchanged
    assert out["confidence_power"].unique().to_list() == ["unanimous"]
    assert not out["label_changed_power"].any()
    # an extra column comes from the first pass
    assert out["date"].to_list() == [f"date-{i}-0" for i in range(6)]


# K = 5, one entry per row: the passes' labels, then the consensus, agreement and confidence with
# ties to 0 (the default) and with ties to the signed label.
FIVE_PASSES = [
    ((1, 1, 1, 1, 1), (1, 5, "unanimous"), (1, 5, "unanimous")),
    ((1, 1, 1, 1, 0), (1, 4, "strong"), (1, 4, "strong")),
    ((0, -1, -1, -1, -1), (-1, 4, "strong"), (-1, 4, "strong")),
    ((1, 1, 1, 0, -1), (1, 3, "bare_majority"), (1, 3, "bare_majority")),
    ((0, 0, 0, 1, 1), (0, 3, "bare_majority"), (0, 3, "bare_majority")),
    ((1, 1, 0, 0, -1), (0, 2, "no_majority"), (1, 2, "no_majority")),  # 2-2-1: +1 ties with 0
    ((0, -1, 0, -1, 1), (0, 2, "no_majority"), (-1, 2, "no_majority")),  # -1 ties with 0
    ((1, 1, -1, -1, 0), (0, 1, "no_majority"), (0, 1, "no_majority")),  # +1 ties with -1: no sign wins
    ((0, 0, 0, 0, 0), (0, 5, "unanimous"), (0, 5, "unanimous")),
]


@pytest.mark.parametrize("ties", ["zero", "signed"])
def test_consensus_of_five_passes_confidence_and_ties(ties):
    passes = passes_frame({"benevolence": [labels for labels, _, _ in FIVE_PASSES]})
    out = consensus_labels(passes, ties=ties)
    expected = [zero if ties == "zero" else signed for _, zero, signed in FIVE_PASSES]
    got = out.select("alignment_benevolence", "consensus_agreement_benevolence", "confidence_benevolence").rows()
    assert got == expected
    assert out["label_changed_benevolence"].to_list() == [
        labels[0] != consensus for (labels, _, _), (consensus, _, _) in zip(FIVE_PASSES, expected, strict=True)
    ]
    assert out.schema["consensus_agreement_benevolence"] == pl.Int64
    assert out.schema["label_changed_benevolence"] == pl.Boolean
    assert out.schema["confidence_benevolence"] == pl.String


def test_consensus_ties_and_missing_passes():
    # K = 4: a +1/-1 tie goes to 0 with agreement 0; a plurality without majority is no_majority
    out = consensus_labels(passes_frame({"power": [(1, 1, -1, -1), (1, 1, 0, -1), (0, 0, 1, 1)]}))
    assert out["alignment_power"].to_list() == [0, 1, 0]
    assert out["consensus_agreement_power"].to_list() == [0, 2, 2]
    assert out["confidence_power"].to_list() == ["no_majority"] * 3
    assert out["label_changed_power"].to_list() == [True, False, False]
    # K = 2: one pass each way is a tie
    out = consensus_labels(passes_frame({"power": [(1, 0), (1, 1)]}), ties="signed")
    assert out.select("alignment_power", "confidence_power").rows() == [(1, "no_majority"), (1, "unanimous")]

    # an entry without pass 0: consensus of the passes it has, changed unknown
    passes = passes_frame({"power": [(1, 1, 0), (1, 0, 0)]}).filter(
        ~((pl.col("persona_id") == "p1") & (pl.col("pass") == 0))
    )
    out = consensus_labels(passes)
    assert out["passes"].to_list() == [3, 2]
    assert out["alignment_power"].to_list() == [1, 0]
    assert out["confidence_power"].to_list() == ["strong", "unanimous"]
    assert out["label_changed_power"].to_list() == [False, None]
    with pytest.raises(ValueError, match="ties must be 'zero' or 'signed'"):
        consensus_labels(passes, ties="plus")


def test_the_consensus_file_is_a_drop_in_label_file():
    passes = passes_frame({"benevolence": [(1, 1, 0), (0, 0, 1)], "power": [(-1, 0, -1), (0, 0, 0)]})
    reasons = [
        json.dumps({v: f"{v} {row['pass']}" for v in ("benevolence", "power") if row[f"alignment_{v}"] != 0})
        for row in passes.iter_rows(named=True)
    ]
    passes = passes.with_columns(
        pl.lit("2025-01-06").alias("date"),
        pl.Series("rationales_json", [None if r == "{}" else r for r in reasons], dtype=pl.String),
    )
    out = consensus_labels(passes)
    # the judge-label contract's columns, types and order; the consensus columns after them
    assert schema_problems(out, LABEL_FILE_SCHEMA, allow_extra=True) == []
    assert out.columns[: len(LABEL_FILE_SCHEMA)] == list(LABEL_FILE_SCHEMA)
    assert out.filter(pl.col("alignment_vector") != pl.concat_list(LABEL_COLUMNS)).is_empty()
    # the rationales explain the consensus: for each non-zero consensus label, the earliest pass that gave it
    assert json.loads(out["rationales_json"][0]) == {"benevolence": "benevolence 0", "power": "power 0"}
    assert out["rationales_json"][1] is None  # no non-zero consensus label


def test_consensus_rejects_bad_input():
    passes = passes_frame({"power": [(1, 2, 0)]})
    with pytest.raises(ValueError, match="alignment_power is 2"):
        consensus_labels(passes)
    passes = passes_frame({"power": [(1, 1)]}).with_columns(pl.lit(0).alias("pass"))
    with pytest.raises(ValueError, match="more than one row"):
        consensus_labels(passes)


# ---------------------------------------------------------------------------------------------
# Fleiss' κ

# Four entries, three passes, categories (-1, 0, 1):
#   e0 (1, 1, 1)   counts (0, 0, 3)  P_0 = (0 + 0 + 9 - 3) / (3 * 2) = 1
#   e1 (1, 1, 0)   counts (0, 1, 2)  P_1 = (0 + 1 + 4 - 3) / 6       = 1/3
#   e2 (0, 0, 0)   counts (0, 3, 0)  P_2 = 1
#   e3 (-1, 0, 1)  counts (1, 1, 1)  P_3 = (1 + 1 + 1 - 3) / 6       = 0
#   P_bar = (1 + 1/3 + 1 + 0) / 4 = 7/12
#   category totals 1, 5, 6 of 12: P_e = (1 + 25 + 36) / 144 = 31/72
#   κ = (7/12 - 31/72) / (1 - 31/72) = (11/72) / (41/72) = 11/41 ≈ 0.2683
FLEISS_EXAMPLE = [(1, 1, 1), (1, 1, 0), (0, 0, 0), (-1, 0, 1)]
FLEISS_KAPPA = 11 / 41


def test_self_consistency_hand_computed():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the undefined κ gives no numpy warning either
        out = self_consistency(passes_frame({"benevolence": FLEISS_EXAMPLE}))
    assert out["value"].to_list() == list(SCHWARTZ_VALUES)
    row = out.row(SCHWARTZ_VALUES.index("benevolence"), named=True)
    assert row["fleiss_kappa"] == pytest.approx(FLEISS_KAPPA)
    assert (row["n_entries"], row["passes"], row["n_left_out"], row["note"]) == (4, 3, 0, None)
    # every other value is 0 in every pass: κ is undefined, null with a note
    power = out.row(SCHWARTZ_VALUES.index("power"), named=True)
    assert power["fleiss_kappa"] is None
    assert "undefined" in power["note"]


def test_self_consistency_leaves_out_entries_missing_a_pass():
    passes = passes_frame({"benevolence": [*FLEISS_EXAMPLE, (1, -1, 0)]}).filter(
        ~((pl.col("persona_id") == "p4") & (pl.col("pass") == 2))
    )
    row = self_consistency(passes).row(SCHWARTZ_VALUES.index("benevolence"), named=True)
    assert row["fleiss_kappa"] == pytest.approx(FLEISS_KAPPA)
    assert (row["n_entries"], row["n_left_out"]) == (4, 1)


def test_self_consistency_one_pass_is_not_an_error():
    out = self_consistency(passes_frame({"benevolence": [(1,), (0,)]}))
    assert out["fleiss_kappa"].null_count() == 10
    assert "at least 2 passes" in out["note"][0]


def test_count_table_matches_aggregate_raters_and_wikipedia_example():
    # the module builds the subjects × categories table in polars; statsmodels' aggregate_raters
    # gives the same table and the same κ
    data = np.array(FLEISS_EXAMPLE) + 1  # categories 0, 1, 2
    table, _ = aggregate_raters(data, n_cat=3)
    assert table.tolist() == [[0, 0, 3], [0, 1, 2], [0, 3, 0], [1, 1, 1]]
    assert fleiss_kappa(table) == pytest.approx(FLEISS_KAPPA)
    # the worked example of Wikipedia's "Fleiss' kappa" (10 subjects, 14 raters, 5 categories):
    # P_bar = 0.378, P_e = 0.213, κ = 0.210
    wikipedia = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    assert fleiss_kappa(np.array(wikipedia)) == pytest.approx(0.210, abs=0.0005)


# ---------------------------------------------------------------------------------------------
# Cohen's κ judge vs humans, Fleiss' κ among humans

# Judge (rows) vs annotator "ann" (columns), categories (-1, 0, 1), 20 entries:
#           -1   0   1 | row
#     -1     2   1   0 |  3
#      0     1   8   1 | 10
#      1     0   2   5 |  7
#     col    3  11   6 | 20
#   p_o = (2 + 8 + 5) / 20 = 0.75
#   p_e = (3*3 + 10*11 + 7*6) / 400 = 161/400 = 0.4025
#   κ = (0.75 - 0.4025) / (1 - 0.4025) = 0.3475 / 0.5975 = 139/239 ≈ 0.5816
COHEN_CELLS = {(-1, -1): 2, (-1, 0): 1, (0, -1): 1, (0, 0): 8, (0, 1): 1, (1, 0): 2, (1, 1): 5}
COHEN_KAPPA = 139 / 239


def labelled(pairs: list[tuple[int, int]], value: str) -> tuple[pl.DataFrame, list[int]]:
    """The judge frame for entries e0.. with ``value`` = the pair's first label, and the
    annotator's labels (the second)."""
    judge = pl.DataFrame(
        [
            {"persona_id": f"p{i}", "t_index": i} | {column: 0 for column in LABEL_COLUMNS} | {f"alignment_{value}": j}
            for i, (j, _) in enumerate(pairs)
        ]
    )
    return judge, [h for _, h in pairs]


def human_rows(annotator: str, labels: dict[int, int], value: str) -> list[dict]:
    return [
        {"persona_id": f"p{i}", "t_index": i, "annotator": annotator}
        | {column: 0 for column in LABEL_COLUMNS}
        | {f"alignment_{value}": label}
        for i, label in labels.items()
    ]


def test_cohens_kappa_hand_computed():
    pairs = [cell for cell, count in COHEN_CELLS.items() for _ in range(count)]
    judge, ann = labelled(pairs, "security")
    # entries in the order of COHEN_CELLS: e0, e1 (-1, -1); e2 (-1, 0); e3 (0, -1); e4..e11 (0, 0)...
    # "bob" labels only e3..e7, all 0, as the judge did
    bob = {3: 0, 4: 0, 5: 0, 6: 0, 7: 0}
    humans = pl.DataFrame(human_rows("ann", dict(enumerate(ann)), "security") + human_rows("bob", bob, "security"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cohen, fleiss = human_agreement(judge, humans)

    security = cohen.filter(pl.col("value") == "security")
    assert security["annotator"].to_list() == ["ann", "bob", None]
    ann_row, bob_row, mean_row = security.rows(named=True)
    assert ann_row["cohens_kappa"] == pytest.approx(COHEN_KAPPA)
    assert ann_row["n"] == 20
    # bob and the judge both give 0 everywhere on e3..e7: κ undefined, left out of the mean
    assert bob_row["cohens_kappa"] is None and "undefined" in bob_row["note"]
    assert mean_row["cohens_kappa"] == pytest.approx(COHEN_KAPPA)
    assert (mean_row["n"], mean_row["n_annotators"]) == (20, 1)
    assert "1 without a defined κ" in mean_row["note"]

    # Fleiss among the humans over e3..e7 (the only entries both labelled): ann (-1, 0, 0, 0, 0),
    # bob all 0. P_e3 = 0, the others 1: P_bar = 4/5; totals -1: 1, 0: 9 of 10:
    # P_e = (1 + 81) / 100 = 0.82; κ = (0.8 - 0.82) / (1 - 0.82) = -1/9
    row = fleiss.filter(pl.col("value") == "security").row(0, named=True)
    assert (row["n_entries"], row["n_annotators"], row["n_left_out"]) == (5, 2, 15)
    assert row["fleiss_kappa"] == pytest.approx(-1 / 9)
    # every other value is 0 for everyone: undefined
    assert fleiss.filter(pl.col("value") == "power")["fleiss_kappa"].to_list() == [None]


def test_cohens_kappa_unused_category_and_mean():
    # neither uses -1: the 3 × 3 table has an empty row and column, which changes nothing:
    #   judge\human  0  1
    #        0       4  1
    #        1       1  4      p_o = 0.8, p_e = (5*5 + 5*5) / 100 = 0.5, κ = 0.6
    pairs = [(0, 0)] * 4 + [(0, 1), (1, 0)] + [(1, 1)] * 4
    judge, ann = labelled(pairs, "hedonism")
    # "cy" agrees with the judge everywhere: κ = 1
    humans = pl.DataFrame(
        human_rows("ann", dict(enumerate(ann)), "hedonism")
        + human_rows("cy", {i: j for i, (j, _) in enumerate(pairs)}, "hedonism")
    )
    cohen, fleiss = human_agreement(judge, humans)
    hedonism = cohen.filter(pl.col("value") == "hedonism")
    assert hedonism["cohens_kappa"].to_list() == pytest.approx([0.6, 1.0, 0.8])
    assert hedonism["n"].to_list() == [10, 10, 20]
    # ann vs cy is the same 2 × 2 table; Fleiss' κ for two raters: pooled marginals 10/20, 10/20:
    # P_e = 0.5, P_bar = 8/10 (8 entries agree) → κ = (0.8 - 0.5) / 0.5 = 0.6
    row = fleiss.filter(pl.col("value") == "hedonism").row(0, named=True)
    assert row["fleiss_kappa"] == pytest.approx(0.6)
    assert (row["n_entries"], row["n_annotators"], row["n_left_out"]) == (10, 2, 0)


def test_human_fleiss_hand_computed():
    # three annotators on the four entries of the Fleiss example above → κ = 11/41
    rows = []
    for annotator_index, annotator in enumerate(["a", "b", "c"]):
        labels = {i: FLEISS_EXAMPLE[i][annotator_index] for i in range(4)}
        rows += human_rows(annotator, labels, "tradition")
    judge, _ = labelled([(0, 0)] * 4, "tradition")
    _, fleiss = human_agreement(judge, pl.DataFrame(rows))
    row = fleiss.filter(pl.col("value") == "tradition").row(0, named=True)
    assert row["fleiss_kappa"] == pytest.approx(FLEISS_KAPPA)
    assert (row["n_entries"], row["n_annotators"]) == (4, 3)


def test_human_agreement_without_annotations():
    judge, _ = labelled([(0, 0)], "power")
    cohen, fleiss = human_agreement(judge, pl.DataFrame(schema=HUMAN_SCHEMA))
    assert cohen.is_empty() and fleiss.is_empty()


# ---------------------------------------------------------------------------------------------
# read_human_annotations

HEADER = "persona_id,t_index,annotator," + ",".join(LABEL_COLUMNS)


def csv_line(persona_id: str, t_index, annotator: str, *labels) -> str:
    labels = list(labels) + [0] * (10 - len(labels))
    return ",".join(str(x) for x in [persona_id, t_index, annotator, *labels])


def test_read_human_annotations(tmp_path):
    assert read_human_annotations(tmp_path / "missing").is_empty()
    assert read_human_annotations(tmp_path).is_empty()
    (tmp_path / "ann.csv").write_text(
        "\n".join([HEADER + ",comment", csv_line("p1", 0, "ann", 1, -1) + ",fine"]) + "\n"
    )
    # bare value names, in another order, with spaces and a "+1"
    bare = ["annotator", "t_index", "persona_id", *reversed(SCHWARTZ_VALUES)]
    (tmp_path / "bob.csv").write_text(",".join(bare) + "\n" + "bob, 0 ,p1," + ",".join(["0"] * 9) + ", +1\n")
    (tmp_path / "notes.txt").write_text("not read")
    df = read_human_annotations(tmp_path)
    assert df.columns == ["persona_id", "t_index", "annotator", *LABEL_COLUMNS]
    assert df.schema["t_index"] == pl.Int64 and df.schema["alignment_power"] == pl.Int64
    assert df["annotator"].to_list() == ["ann", "bob"]
    assert df["alignment_self_direction"].to_list() == [1, 1]
    assert df["alignment_stimulation"].to_list() == [-1, 0]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ["persona_id,t_index," + ",".join(LABEL_COLUMNS), "p1,0," + ",".join(["0"] * 10)],
            r"bad\.csv: missing column\(s\) annotator",
        ),
        (
            [HEADER.replace(",alignment_power", ""), csv_line("p1", 0, "a")[:-2]],
            r"bad\.csv: missing column\(s\) alignment_power",
        ),
        (
            [HEADER, csv_line("p1", 0, "a"), csv_line("p1", 1, "a", 0, 0, 0, 0, 2)],
            r"bad\.csv, line 3, column alignment_power: '2', expected -1, 0 or 1",
        ),
        (
            [HEADER, csv_line("p1", 0, "a", "yes")],
            r"bad\.csv, line 2, column alignment_self_direction: 'yes', expected -1, 0 or 1",
        ),
        (
            [HEADER, csv_line("p1", 0, "a", 0, 0, 0, 0, 0, "")],
            r"bad\.csv, line 2, column alignment_security: empty",
        ),
        (
            [HEADER, csv_line("p1", "zero", "a")],
            r"bad\.csv, line 2, column t_index: 'zero', expected an integer",
        ),
        (
            [HEADER, csv_line("p1", 0, "a"), csv_line("p2", 0, "a"), csv_line("p1", 0, "a", 1)],
            r"duplicate annotation: persona_id='p1', t_index=0, annotator='a' at \S*bad\.csv, "
            r"line 2; \S*bad\.csv, line 4",
        ),
    ],
)
def test_bad_annotation_files(tmp_path, lines, message):
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(AnnotationError, match=message):
        read_human_annotations(tmp_path)


def test_duplicate_across_files_and_empty_file(tmp_path):
    (tmp_path / "a.csv").write_text(HEADER + "\n" + csv_line("p1", 0, "ann") + "\n")
    (tmp_path / "b.csv").write_text(HEADER + "\n" + csv_line("p1", 0, "ann", 1) + "\n")
    with pytest.raises(AnnotationError, match=r"a\.csv, line 2; \S*b\.csv, line 2"):
        read_human_annotations(tmp_path)
    (tmp_path / "b.csv").unlink()
    (tmp_path / "c.csv").write_text("")
    with pytest.raises(AnnotationError, match=r"c\.csv: the file is empty"):
        read_human_annotations(tmp_path)
    (tmp_path / "c.csv").write_text(HEADER + "\n" + csv_line("p1", 0, "ann") + ",extra\n")
    with pytest.raises(AnnotationError, match=r"c\.csv: not a readable CSV file"):
        read_human_annotations(tmp_path)


# ---------------------------------------------------------------------------------------------
# Krippendorff's α (nominal and ordinal) beside κ

# Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg School for
# Communication, University of Pennsylvania, section C (nominal data, any number of observers,
# missing data): 4 observers × 12 units, values 1-5, α_nominal = 0.743; the same data as ordinal
# (section E): α_ordinal = 0.815. The krippendorff package's docstring checks the same two numbers.
PAPER_DATA = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
    [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan],
]


def value_counts(reliability_data, domain) -> np.ndarray:
    """Units × values counts of a coders × units matrix (np.nan: missing)."""
    data = np.asarray(reliability_data, dtype=float)
    return np.stack([(data == value).sum(axis=0) for value in domain], axis=1)


def test_krippendorff_alpha_published_example():
    domain = [1, 2, 3, 4, 5]
    alphas, note = krippendorff_alphas(value_counts(PAPER_DATA, domain), value_domain=domain)
    assert note is None
    assert round(alphas["krippendorff_alpha_nominal"], 3) == 0.743
    assert round(alphas["krippendorff_alpha_ordinal"], 3) == 0.815
    # the same as the package on the coders × units matrix with its missing values
    for level in ("nominal", "ordinal"):
        direct = krippendorff.alpha(reliability_data=PAPER_DATA, level_of_measurement=level)
        assert alphas[f"krippendorff_alpha_{level}"] == pytest.approx(direct, abs=1e-12)


def passes_matrix(passes: pl.DataFrame, value: str) -> np.ndarray:
    """Passes (coders) × entries (units) of one value, np.nan where an entry lacks a pass."""
    wide = passes.pivot(on="pass", index="persona_id", values=f"alignment_{value}", sort_columns=True)
    return wide.drop("persona_id").to_numpy().astype(float).T


def test_self_consistency_alpha_equals_the_package_with_missing_passes():
    rng = np.random.default_rng(24)
    truth = rng.choice([-1, 0, 1], size=40, p=[0.1, 0.7, 0.2])
    labels = {}
    for value in ("benevolence", "security"):
        noisy = np.where(rng.random((40, 4)) < 0.2, rng.choice([-1, 0, 1], size=(40, 4)), truth[:, None])
        labels[value] = [tuple(int(x) for x in row) for row in noisy]
    passes = passes_frame(labels)
    # entries 0-5 lack pass 3, entry 6 has only pass 0 (not pairable): κ leaves out 7, α only 1
    passes = passes.filter(
        ~((pl.col("t_index") < 6) & (pl.col("pass") == 3)) & ~((pl.col("t_index") == 6) & (pl.col("pass") > 0))
    )
    out = self_consistency(passes)
    for value in ("benevolence", "security"):
        row = out.row(SCHWARTZ_VALUES.index(value), named=True)
        assert (row["n_entries"], row["n_entries_alpha"], row["n_left_out"]) == (33, 39, 7)
        data = passes_matrix(passes, value)
        assert data.shape == (4, 40) and np.isnan(data).sum() == 6 + 3
        for level in ("nominal", "ordinal"):
            direct = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
            assert row[f"krippendorff_alpha_{level}"] == pytest.approx(direct, abs=1e-12)
        # κ is still computed over the complete entries only
        complete = passes.filter(pl.col("t_index") > 6)
        table, _ = aggregate_raters(passes_matrix(complete, value).T.astype(int) + 1, n_cat=3)
        assert row["fleiss_kappa"] == pytest.approx(fleiss_kappa(table))


def test_self_consistency_alpha_perfect_and_undefined():
    # every pass agrees, and the labels vary across entries: α = 1 at both levels (and κ = 1)
    out = self_consistency(passes_frame({"universalism": [(1, 1, 1), (0, 0, 0), (-1, -1, -1), (0, 0)]}))
    row = out.row(SCHWARTZ_VALUES.index("universalism"), named=True)
    assert row["krippendorff_alpha_nominal"] == pytest.approx(1.0)
    assert row["krippendorff_alpha_ordinal"] == pytest.approx(1.0)
    assert row["fleiss_kappa"] == pytest.approx(1.0)
    assert row["note"] is None
    # no variation: every label 0, α and κ null with one note
    power = out.row(SCHWARTZ_VALUES.index("power"), named=True)
    assert power["krippendorff_alpha_nominal"] is None and power["krippendorff_alpha_ordinal"] is None
    assert power["note"] == "κ and α undefined: every label is in one category"
    # fewer than 2 pairable values: one pass only
    one = self_consistency(passes_frame({"benevolence": [(1,), (0,)]}))
    assert one["krippendorff_alpha_ordinal"].null_count() == 10
    assert "α needs an entry with labels from at least 2 passes" in one["note"][0]


def test_self_consistency_alpha_undefined_when_only_unpairable_labels_vary():
    # the -1 is the only label of entry 1 (one pass): no pairable variation; the package itself
    # would divide 0 by 0
    passes = passes_frame({"hedonism": [(0, 0), (-1,)]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = self_consistency(passes).row(SCHWARTZ_VALUES.index("hedonism"), named=True)
    assert row["krippendorff_alpha_nominal"] is None
    assert "α undefined" in row["note"]


def test_ordinal_alpha_weighs_opposite_signs_more():
    # three entries agree (-1, 0, +1); the fourth disagrees by one step (0 vs +1) or by two (-1 vs
    # +1). By hand (Krippendorff 2011: α = 1 - D_o / D_e, D_o = Σ o_ck δ_ck / n,
    # D_e = Σ n_c n_k δ_ck / (n (n - 1)), ordinal δ_ck = (Σ_{g=c..k} n_g - (n_c + n_k) / 2)²), n = 8:
    #   nominal: marginals (2, 3, 3) or (3, 2, 3), Σ n_c² = 22 either way: D_e = 42/56, D_o = 2/8,
    #            α = 1 - 7·2/42 = 2/3 in both cases;
    #   ordinal, one step: n = (2, 3, 3), δ(-1,0) = 6.25, δ(0,1) = 9, δ(-1,1) = 30.25:
    #            D_o = 2·9/8, D_e = 2(6·6.25 + 9·9 + 6·30.25)/56 = 600/56, α = 1 - 126/600 = 0.79;
    #   ordinal, opposite signs: n = (3, 2, 3), δ(-1,0) = δ(0,1) = 6.25, δ(-1,1) = 25:
    #            D_o = 2·25/8, D_e = 2(6·6.25 + 6·6.25 + 9·25)/56 = 600/56, α = 1 - 350/600 = 5/12.
    i = SCHWARTZ_VALUES.index("achievement")
    step = self_consistency(passes_frame({"achievement": [(-1, -1), (0, 0), (1, 1), (0, 1)]})).row(i, named=True)
    opposite = self_consistency(passes_frame({"achievement": [(-1, -1), (0, 0), (1, 1), (-1, 1)]})).row(i, named=True)
    assert step["krippendorff_alpha_nominal"] == pytest.approx(2 / 3)
    assert opposite["krippendorff_alpha_nominal"] == pytest.approx(2 / 3)
    assert step["krippendorff_alpha_ordinal"] == pytest.approx(0.79)
    assert opposite["krippendorff_alpha_ordinal"] == pytest.approx(5 / 12)


def test_human_alpha_equals_the_package():
    pairs = [cell for cell, count in COHEN_CELLS.items() for _ in range(count)]
    judge, ann = labelled(pairs, "security")
    # "bob" labels e0..e9, "cy" e5..e19: among the humans, 5 entries have all three, 15 have two
    bob = {i: ann[i] if i % 3 else 0 for i in range(10)}
    cy = {i: ann[i] if i % 4 else -1 for i in range(5, 20)}
    humans = pl.DataFrame(
        human_rows("ann", dict(enumerate(ann)), "security")
        + human_rows("bob", bob, "security")
        + human_rows("cy", cy, "security")
    )
    cohen, fleiss = human_agreement(judge, humans)
    security = cohen.filter(pl.col("value") == "security")
    judge_labels = np.array([j for j, _ in pairs], dtype=float)
    per_annotator = []
    for annotator, labels in (("ann", dict(enumerate(ann))), ("bob", bob), ("cy", cy)):
        row = security.filter(pl.col("annotator") == annotator).row(0, named=True)
        entries = sorted(labels)
        data = [judge_labels[entries], [labels[i] for i in entries]]
        for level in ("nominal", "ordinal"):
            direct = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
            assert row[f"krippendorff_alpha_{level}"] == pytest.approx(direct, abs=1e-12)
        per_annotator.append(row)
    mean = security.filter(pl.col("annotator").is_null()).row(0, named=True)
    for column in ("krippendorff_alpha_nominal", "krippendorff_alpha_ordinal"):
        assert mean[column] == pytest.approx(np.mean([row[column] for row in per_annotator]))

    # among the humans: annotators × entries with np.nan where one did not label
    data = np.full((3, 20), np.nan)
    for r, labels in enumerate((dict(enumerate(ann)), bob, cy)):
        for i, label in labels.items():
            data[r, i] = label
    row = fleiss.filter(pl.col("value") == "security").row(0, named=True)
    assert (row["n_entries"], row["n_entries_alpha"], row["n_left_out"]) == (5, 20, 15)
    for level in ("nominal", "ordinal"):
        direct = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
        assert row[f"krippendorff_alpha_{level}"] == pytest.approx(direct, abs=1e-12)
    # every other value is 0 for everyone: undefined, one note
    power = fleiss.filter(pl.col("value") == "power").row(0, named=True)
    assert power["krippendorff_alpha_nominal"] is None
    assert power["note"] == "κ and α undefined: every label is in one category"
