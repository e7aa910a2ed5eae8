"""The HTML report as a paper prints it (reports/paper.py, reports/html.py), on small hand-built
report tables: no Dagster, no database."""

import re

import polars as pl
import pytest

from personality_assets.defs.persona_study.reports.html import Section, prepare, render_report
from personality_assets.defs.persona_study.reports.paper import (
    GRID_LEGEND,
    MARKER_LEGEND,
    Table,
    alpha_grid,
    caption,
    column_name,
    export_tables,
    format_number,
    format_p,
    questionnaire_label,
    readable,
    report_table,
    scale_label,
    score_grid,
    to_latex,
)


def scale_scores() -> pl.DataFrame:
    rows = []
    for condition in ("sample", "sample_maxN"):
        for scale, mean in (("EXT", 3.0), ("AGR", 3.5)):
            rows.append(("bigfive", scale, "reference", condition, 300, mean, 1.0, None, None, None, "n/a"))
            rows.append(("bigfive", scale, "gpt_x", condition, 20, mean - 0.5, 0.8, -0.5, 0.0, 0.0004, "***"))
    rows.append(("epqr_a", "E", "gpt_x", "sample", 20, 3.0, 1.5, -0.0001, 0.2, 0.6, "ns"))
    return pl.DataFrame(
        rows,
        schema=[
            "questionnaire",
            "scale",
            "model",
            "condition",
            "n",
            "mean",
            "sd",
            "difference",
            "p",
            "p_holm",
            "significant",
        ],
        orient="row",
    ).with_columns(
        ci_low=pl.col("difference") - 0.1, ci_high=pl.col("difference") + 0.1, welch_t=pl.col("difference") * 4
    )


@pytest.mark.parametrize(
    ("p", "shown"),
    [
        (0.0, "< .001"),
        (0.0004, "< .001"),
        (0.001, ".001"),
        (0.0341, ".034"),
        (0.05, ".050"),
        (1.0, "1.000"),
        (None, "n/a"),
    ],
)
def test_p_values_are_printed_apa_style(p, shown):
    assert format_p(p) == shown


def test_numbers_never_print_negative_zero():
    assert format_number(-0.0) == "0.000"
    assert format_number(-0.0001) == "0.000"
    assert format_number(-0.2) == "-0.200"
    assert format_number(20) == "20" and format_number(None) == "n/a"


def test_scales_and_reference_people_have_readable_names():
    assert questionnaire_label("bigfive") == "IPIP-50"
    assert questionnaire_label("epqr_a") == "EPQR-A"
    assert scale_label("bigfive", "AGR") == "Agreeableness (IPIP-50)"
    assert scale_label("epqr_a", "N") == "Neuroticism (EPQR-A)"
    assert questionnaire_label("not_defined") == "not_defined"

    shown = readable(scale_scores())
    assert shown.columns[:3] == ["Scale", "Model", "Condition"]
    assert "Agreeableness (IPIP-50)" in shown["Scale"].to_list()
    assert "Human reference" in shown["Model"].to_list() and "reference" not in shown["Model"].to_list()
    # One mapping names the columns; a CI pair is one cell where its low end was.
    assert {"t", "p (Holm)", "95% CI", "M", "SD"} <= set(shown.columns)
    assert not {"ci_low", "ci_high", "welch_t", "p_holm"} & set(shown.columns)
    assert shown.columns.index("95% CI") < shown.columns.index("t")
    assert column_name("cohens_d_ci_low") == "d 95% CI" and column_name("some_new_column") == "some new column"
    row = shown.row(1, named=True)
    assert row["p"] == "< .001" and row["p (Holm)"] == "< .001" and row["95% CI"] == "[-0.600, -0.400]"
    epqr = shown.filter(pl.col("Scale") == "Extraversion (EPQR-A)").row(0, named=True)
    assert epqr["Difference"] == "0.000" and epqr["p (Holm)"] == ".600"
    assert not any("-0.000" in value for column in shown.iter_columns() for value in column)
    pairs = readable(pl.DataFrame({"a": ["epqr_a.E"], "b": ["bigfive.EXT"], "questionnaire": ["epqr_a"]}))
    assert pairs.row(0) == ("Extraversion (EPQR-A)", "Extraversion (IPIP-50)", "EPQR-A")


def test_table_4_grid_is_model_by_condition_with_a_column_per_scale():
    grid = score_grid(scale_scores(), "bigfive")
    # 2 conditions x (human reference + 1 model); Model, Condition and the 2 scales in the definition's order.
    assert grid.shape == (4, 4)
    assert grid.columns == ["Model", "Condition", "Extraversion", "Agreeableness"]
    assert grid["Model"].to_list() == ["Human reference", "gpt_x", "Human reference", "gpt_x"]
    assert grid["Condition"].to_list() == ["sample", "sample", "sample_maxN", "sample_maxN"]
    assert grid.row(1, named=True)["Agreeableness"] == "3.00 ± 0.80***"
    assert grid.row(0, named=True)["Agreeableness"] == "3.50 ± 1.00"
    assert score_grid(scale_scores(), "epqr_a").row(0, named=True)["Extraversion"] == "3.00 ± 1.50"


def test_table_6_grid_shows_alpha_with_undefined_as_n_a():
    reliability = pl.DataFrame(
        {
            "questionnaire": ["epqr_a"] * 4,
            "scale": ["E", "N", "E", "N"],
            "model": ["reference", "reference", "gpt_x", "gpt_x"],
            "condition": ["sample"] * 4,
            "n": [300, 300, 20, 20],
            "alpha": [0.81, None, 0.7049, -0.0001],
        }
    )
    grid = alpha_grid(reliability, "epqr_a")
    assert grid.columns == ["Model", "Condition", "Extraversion", "Neuroticism"]
    assert grid.rows() == [("Human reference", "sample", "0.81", "n/a"), ("gpt_x", "sample", "0.70", "0.00")]


def test_tables_and_figures_are_numbered_with_captions(tmp_path):
    figure = tmp_path / "box.png"
    figure.write_bytes(b"\x89PNG\r\n\x1a\n")
    scores = scale_scores()
    sections = [
        Section(
            "Scale scores",
            "",
            [
                Table(
                    score_grid(scores, "bigfive"), caption("IPIP-50 scale scores", scores, per_group=True), GRID_LEGEND
                ),
                report_table(scores, "Personas against the reference people: Welch's t, Holm's correction"),
            ],
            [figure],
        ),
        Section(
            "Validity",
            "Pearson r per pair, no correction.",
            [pl.DataFrame({"model": ["m"], "n": [5], "pearson_r": [0.5]})],
        ),
    ]
    numbered = prepare(sections)
    assert [t.number for t in numbered.tables] == [1, 2, 3] and [f.number for f in numbered.figures] == [1]
    first, second, third = numbered.tables
    assert first.caption == "IPIP-50 scale scores. n = 20 per model × condition; human reference n = 300."
    assert second.caption.endswith("Holm's correction. n = 20–300 per row (column n).")
    assert second.legend == MARKER_LEGEND  # it has the markers' column
    assert (
        third.caption == "Validity. Pearson r per pair, no correction. n = 5 per row (column n)." and not third.legend
    )

    page = render_report("Report", sections)
    assert re.search(r"<b>Table 1\.</b> IPIP-50 scale scores\.", page)
    assert "<b>Table 3.</b>" in page and "<b>Figure 1.</b>" in page
    assert page.count("*** p &lt; .001") == 2  # a legend under each table with markers
    assert "class='table-box" in page and "overflow-x: auto" in page
    assert "<td class=num>3.00 ± 0.80***</td>" in page and "<td>Human reference</td>" in page


def test_latex_escapes_and_is_a_booktabs_tabular(tmp_path):
    scores = scale_scores()
    table = report_table(scores.with_columns(pl.lit("a_b & 5%").alias("note")), "Scores_x; 10% & more: p < .05")
    table.number = 3
    latex = to_latex(table)
    assert "\\begin{tabular}{" in latex and "\\end{tabular}" in latex
    assert "\\toprule" in latex and "\\midrule" in latex and "\\bottomrule" in latex
    assert "\\label{tab:3}" in latex and "\\caption{Scores\\_x; 10\\% \\& more: p $<$ .05." in latex
    assert "a\\_b \\& 5\\%" in latex and "sample\\_maxN" in latex
    assert "$<$ .001" in latex and "\\textit{Note.}" in latex
    # Every _ and % below the comment line is escaped.
    assert not re.search(r"(?<!\\)[_%]", latex.split("\n", 1)[1])

    files = export_tables([table], tmp_path / "paper")
    assert [f.name for f in files] == ["table_3.csv", "table_3.tex"]
    assert pl.read_csv(files[0], infer_schema=False).columns == table.frame.columns
    assert files[1].read_text() == latex
