"""The report figures, on small synthetic report tables: what each figure shows is read back from its
matplotlib Figure and Axes (axis labels, shared ranges, the reference line and its legend, the r
printed against scipy's, the means and Wilson intervals against statsmodels'), and a figure with
nothing to show is not written."""

from __future__ import annotations

import html
import re

import numpy as np
import polars as pl
import pytest
from matplotlib.container import BarContainer
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from personality_assets.defs.figures import has_data, plt, save_figure
from personality_assets.defs.persona_study.reports import figure_captions as captions
from personality_assets.defs.persona_study.reports import plots
from personality_assets.defs.persona_study.reports.html import Section, render_report
from personality_assets.defs.persona_study.reports.paper import Figure
from personality_assets.defs.persona_study.reports.response_styles import INDICES

MODELS = ("gpt", "claude")
CONDITIONS = ("sample", "sample_maxN")
SCALES = (("bigfive", "AGR"), ("bigfive", "EXT"), ("epqr_a", "N"))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _scores(seed: int = 1) -> pl.DataFrame:
    """Persona scores (two repetitions each) with their reference person's score, per scale."""
    rng = np.random.default_rng(seed)
    rows = []
    for questionnaire, scale in SCALES:
        top = 6 if questionnaire == "epqr_a" else 50
        for condition in CONDITIONS:
            reference = rng.integers(0, top, 12).astype(float)
            for m, model in enumerate(MODELS):
                for persona, ref in enumerate(reference):
                    for _ in range(2):
                        score = float(np.clip(ref * (0.5 + 0.3 * m) + rng.normal(0, 3), 0, top))
                        rows.append((model, condition, questionnaire, scale, 100 * m + persona, score, ref))
    columns = ["model", "condition", "questionnaire", "scale", "persona_id", "score", "reference_score"]
    return pl.DataFrame(rows, schema=columns, orient="row")


def _distribution_frame() -> pl.DataFrame:
    """One score per persona plus the reference people's, as the scale score report passes them."""
    scores = _scores()
    personas = scores.group_by("model", "condition", "questionnaire", "scale", "persona_id").agg(pl.col("score").mean())
    humans = (
        scores.filter(pl.col("model") == MODELS[0])
        .group_by("condition", "questionnaire", "scale", "persona_id")
        .agg(pl.col("reference_score").first().alias("score"))
    )
    return pl.concat(
        [
            personas.drop("persona_id"),
            humans.select(pl.lit("reference").alias("model"), "condition", "questionnaire", "scale", "score"),
        ]
    )


def _reliability() -> pl.DataFrame:
    rows = []
    for i, (questionnaire, scale) in enumerate(SCALES):
        for condition in CONDITIONS:
            rows.append((questionnaire, scale, "reference", condition, 300, 0.8 - 0.05 * i, 0.75, 0.85))
            for m, model in enumerate(MODELS):
                alpha = None if (i, m, condition) == (2, 1, "sample_maxN") else 0.9 - 0.3 * m - 0.2 * i
                low, high = (None, None) if alpha is None else (alpha - 0.1, alpha + 0.05)
                rows.append((questionnaire, scale, model, condition, 12, alpha, low, high))
    columns = ["questionnaire", "scale", "model", "condition", "n", "alpha", "ci_low", "ci_high"]
    return pl.DataFrame(rows, schema=columns, orient="row")


def _demographics() -> pl.DataFrame:
    rows = []
    categories = {"gender": ["female", "male", "nonbinary"], "age_band": ["18-29", "30-44", "45+"]}
    for attribute, names in categories.items():
        for m, model in enumerate(MODELS):
            for c, condition in enumerate(CONDITIONS):
                counts = [10 + 3 * m + c, 8 - 2 * c, m + c]
                for category, count in zip(names, counts, strict=True):
                    rows.append((attribute, category, model, condition, count, sum(counts), count / sum(counts)))
    columns = ["attribute", "category", "model", "condition", "count", "n", "share"]
    return pl.DataFrame(rows, schema=columns, orient="row")


def _indices() -> pl.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for questionnaire in ("bigfive", "epqr_a"):
        for condition in CONDITIONS:
            for model in (*MODELS, "reference"):
                for respondent in range(10):
                    values = rng.uniform(0, 1, len(INDICES))
                    values[INDICES.index("longest_run")] = rng.integers(1, 9)
                    if questionnaire == "epqr_a":  # yes/no: no extreme or midpoint answers
                        values[INDICES.index("extreme_share")] = np.nan
                        values[INDICES.index("midpoint_share")] = np.nan
                    persona = None if model == "reference" else respondent
                    rows.append(
                        (
                            "reference" if model == "reference" else "persona",
                            model,
                            condition,
                            questionnaire,
                            persona,
                            respondent,
                            *[None if np.isnan(v) else float(v) for v in values],
                        )
                    )
    columns = ["respondent", "model", "condition", "questionnaire", "persona_id", "personality_id", *INDICES]
    return pl.DataFrame(rows, schema=columns, orient="row")


def _levels() -> pl.DataFrame:
    rng = np.random.default_rng(5)
    rows = []
    for model in MODELS:
        for persona in range(15):
            base = float(rng.uniform(10, 50))
            for factor, level in (("item_order", "shuffled-1"), ("wording", "paraphrase")):
                rows.append(("bigfive", "AGR", model, "sample", persona, factor, level, base + rng.normal(0, 4), base))
    columns = ["questionnaire", "scale", "model", "condition", "persona_id", "factor", "level", "score", "base_score"]
    return pl.DataFrame(rows, schema=columns, orient="row")


SHARE_TITLES = {plots.INDEX_NAMES[index][0] for index in plots.SHARE_INDICES}


def _visible(figure):
    return [axis for axis in figure.axes if axis.get_visible()]


def _assert_labelled(figure):
    for axis in _visible(figure):
        assert axis.get_xlabel().strip() and axis.get_ylabel().strip(), axis.get_title()
        assert "." not in axis.get_title().split(":")[0] or "(" in axis.get_title(), axis.get_title()


def _r_and_n(text: str) -> tuple[float, int]:
    found = re.search(r"r = (-?\.\d\d|-?\d\.\d\d), n = (\d+)", text)
    assert found, text
    return float(found.group(1)), int(found.group(2))


def test_alpha_forest_one_labelled_reference_per_panel_on_a_shared_axis():
    reliability = _reliability()
    figure = plots.draw_alpha_forest(reliability)
    axes = _visible(figure)
    assert [a.get_title() for a in axes] == [
        "Agreeableness (IPIP-50)",
        "Extraversion (IPIP-50)",
        "Neuroticism (EPQR-A)",
    ]
    assert len({a.get_xlim() for a in axes}) == 1  # one α axis for every panel
    low, high = axes[0].get_xlim()
    drawn = pl.concat([reliability["ci_low"], reliability["ci_high"]]).drop_nulls()
    assert low <= drawn.min() and high >= max(1.0, drawn.max())
    for axis, (questionnaire, scale) in zip(axes, plots.SCALES if hasattr(plots, "SCALES") else SCALES, strict=True):
        assert axis.get_xlabel() == "Cronbach's α (95% CI)" and axis.get_ylabel()
        references = [c for c in axis.collections if c.get_label() == plots.REFERENCE_ALPHA_LABEL]
        assert len(references) == 1  # one artist, one legend entry, whatever the number of conditions
        legend = [t.get_text() for t in axis.get_legend().get_texts()]
        assert legend.count(plots.REFERENCE_ALPHA_LABEL) == 1
        # Each condition's human α is drawn at its value, over that condition's rows.
        expected = reliability.filter(
            (pl.col("questionnaire") == questionnaire) & (pl.col("scale") == scale) & (pl.col("model") == "reference")
        )["alpha"]
        xs = sorted(segment[0][0] for segment in references[0].get_segments())
        assert xs == pytest.approx(sorted(expected.to_list()))
    # The undefined α is marked at 0 and said in the legend.
    texts = [t.get_text() for t in axes[2].get_legend().get_texts()]
    assert any("undefined" in t for t in texts)


def test_box_plots_show_each_groups_mean_and_t_interval_on_a_shared_scale_per_questionnaire():
    frame = _distribution_frame()
    figure = plots.draw_score_distributions(frame)
    _assert_labelled(figure)
    axes = _visible(figure)
    titles = [a.get_title() for a in axes]
    assert titles == ["Agreeableness (IPIP-50)", "Extraversion (IPIP-50)", "Neuroticism (EPQR-A)"]
    assert axes[0].get_xlim() == axes[1].get_xlim() != axes[2].get_xlim()  # shared within IPIP-50 only
    legend = [t.get_text() for legend in figure.legends for t in legend.get_texts()]
    assert plots.MEAN_LABEL in legend and any("median" in t for t in legend)
    # The diamonds and their bars are each group's mean and t 95% CI, in the order of the labels.
    axis = axes[0]
    labels = [t.get_text() for t in axis.get_yticklabels()]
    assert labels[0] == "Human reference / sample (n = 12)"
    (errorbar,) = axis.containers
    means = errorbar.lines[0].get_xdata()
    segments = errorbar.lines[2][0].get_segments()
    panel = frame.filter((pl.col("questionnaire") == "bigfive") & (pl.col("scale") == "AGR"))
    for label, mean, segment in zip(labels, means, segments, strict=True):
        model, condition = re.match(r"(.+) / (\S+) \(n = \d+\)", label).groups()
        model = "reference" if model == "Human reference" else model
        values = panel.filter((pl.col("model") == model) & (pl.col("condition") == condition))["score"].to_numpy()
        low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
        assert mean == pytest.approx(values.mean())
        assert (segment[0][0], segment[1][0]) == (pytest.approx(low), pytest.approx(high))


def test_response_styles_average_per_respondent_and_draw_shares_on_zero_to_one():
    indices = _indices()
    repeated = pl.concat([indices, indices.with_columns(pl.col("longest_run") + 2)])  # a second repetition
    figure = plots.draw_response_styles(repeated, INDICES)
    _assert_labelled(figure)
    axes = _visible(figure)
    titles = [a.get_title() for a in axes]
    assert len(axes) == 6 + 4  # yes/no items have no extreme or midpoint panel
    assert all(not t.startswith(("bigfive", "epqr_a")) for t in titles)
    shares = [a for a, t in zip(axes, titles, strict=True) if t.split(": ")[1] in SHARE_TITLES]
    assert len(shares) == 4 + 2 and all(axis.get_xlim() == (-0.02, 1.02) for axis in shares)
    run = axes[titles.index("IPIP-50: " + plots.INDEX_NAMES["longest_run"][0])]
    labels = [t.get_text() for t in run.get_yticklabels()]
    assert all(label.endswith("(n = 10)") for label in labels)  # repetitions averaged, not counted twice
    means = run.containers[0].lines[0].get_xdata()
    expected = (
        indices.filter((pl.col("questionnaire") == "bigfive") & (pl.col("model") == "reference"))
        .filter(pl.col("condition") == "sample")["longest_run"]
        .mean()
    )
    assert means[0] == pytest.approx(expected + 1)
    assert [t.get_text() for t in figure.legends[0].get_texts()][-1] == plots.MEAN_LABEL


def test_scatters_print_pearson_r_and_n_of_the_plotted_data():
    scores = _scores()
    figure = plots.draw_persona_vs_reference(scores)
    _assert_labelled(figure)
    per_persona = scores.group_by("model", "condition", "questionnaire", "scale", "persona_id").agg(
        pl.col("score").mean(), pl.col("reference_score").first()
    )
    for axis, (questionnaire, scale) in zip(_visible(figure), sorted(SCALES), strict=True):
        texts = [t.get_text() for t in axis.get_legend().get_texts()]
        assert len(texts) == len(MODELS) * len(CONDITIONS)
        for text in texts:
            model, condition = re.match(r"(.+) / (\S+):", text).groups()
            group = per_persona.filter(
                (pl.col("questionnaire") == questionnaire)
                & (pl.col("scale") == scale)
                & (pl.col("model") == model)
                & (pl.col("condition") == condition)
            )
            r, n = _r_and_n(text)
            assert n == group.height
            assert r == pytest.approx(stats.pearsonr(group["reference_score"], group["score"]).statistic, abs=0.005)

    levels = _levels()
    figure = plots.draw_robustness_scatter(levels, "bigfive", "AGR")
    _assert_labelled(figure)
    assert figure.get_suptitle().startswith("Agreeableness (IPIP-50)")
    for axis in _visible(figure):
        model = axis.get_title().split(" / ")[0]
        for text in [t.get_text() for t in axis.get_legend().get_texts()]:
            factor = text.split(":")[0].replace(" ", "_")
            group = levels.filter((pl.col("model") == model) & (pl.col("factor") == factor))
            r, n = _r_and_n(text)
            assert n == group.height == 15
            assert r == pytest.approx(stats.pearsonr(group["base_score"], group["score"]).statistic, abs=0.005)


def test_individual_fidelity_boxes_with_mean_baseline_and_ceiling():
    rng = np.random.default_rng(7)
    personas = pl.DataFrame(
        [(m, c, q, float(rng.uniform(-0.2, 0.9))) for m in MODELS for c in CONDITIONS for q in ("bigfive", "epqr_a")]
        * 15,
        schema=["model", "condition", "questionnaire", "r"],
        orient="row",
    )
    summary = personas.group_by("questionnaire", "model", "condition").agg(
        pl.lit(0.05).alias("baseline_r"), pl.lit(0.8).alias("ceiling_r")
    )
    figure = plots.draw_individual_fidelity(personas, summary)
    _assert_labelled(figure)
    axis = _visible(figure)[0]
    assert axis.get_title() == "IPIP-50: r with the reference person"
    labels = [t.get_text() for t in axis.get_yticklabels()]
    assert labels[0] == "claude / sample (n = 15)"
    group = personas.filter(
        (pl.col("questionnaire") == "bigfive") & (pl.col("model") == "claude") & (pl.col("condition") == "sample")
    )["r"]
    assert axis.containers[0].lines[0].get_xdata()[0] == pytest.approx(group.mean())
    baseline = [line for line in axis.lines if line.get_marker() == "x"]
    assert len(baseline) == len(labels) and all(line.get_xdata()[0] == pytest.approx(0.05) for line in baseline)
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "Baseline mean r" in legend and "Retest ceiling r" in legend


def test_undefined_r_is_said_not_drawn_as_a_number():
    assert plots.r_text(None, 2) == "r = n/a, n = 2"
    assert plots.r_text(-0.056, 30) == "r = -.06, n = 30"
    assert plots.pearson(np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0])) == (None, 3)


def test_demographic_bars_carry_wilson_intervals():
    demographics = _demographics()
    figure = plots.draw_demographic_bars(demographics)
    _assert_labelled(figure)
    axes = _visible(figure)
    assert [a.get_title() for a in axes] == ["Age band", "Gender"]
    gender = axes[1]
    categories = [t.get_text() for t in gender.get_yticklabels()]
    assert categories == ["female", "male", "nonbinary"]  # most common first; nothing left for "other"
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert sorted(legend) == sorted(f"{m} / {c}" for m in MODELS for c in CONDITIONS)
    bars = [c for c in gender.containers if isinstance(c, BarContainer)]
    for container, label in zip(bars, legend, strict=True):
        model, condition = label.split(" / ")
        rows = demographics.filter(
            (pl.col("attribute") == "gender") & (pl.col("model") == model) & (pl.col("condition") == condition)
        ).sort(pl.col("category").replace_strict({c: i for i, c in enumerate(categories)}, return_dtype=pl.Int64))
        low, high = proportion_confint(rows["count"].to_numpy(), rows["n"].to_numpy(), method="wilson")
        widths = [bar.get_width() for bar in container.patches]
        assert widths == pytest.approx(rows["share"].to_list())
        segments = container.errorbar.lines[2][0].get_segments()
        assert [s[0][0] for s in segments] == pytest.approx(low)
        assert [s[1][0] for s in segments] == pytest.approx(high)


def test_no_figure_and_no_file_when_there_is_nothing_to_plot(tmp_path):
    from personality_assets.defs.usage import plots as usage_plots

    path = tmp_path / "cost_per_day.png"
    path.write_bytes(b"an earlier run's figure")
    zero = pl.DataFrame({"day": ["2026-03-01", "2026-03-02"], "model": ["simulated"] * 2, "cost_usd": [0.0, 0.0]})
    assert usage_plots.cost_per_day(zero, path) is None
    assert not path.exists()  # the stale figure is gone too
    assert usage_plots.cost_per_day(zero.with_columns(pl.Series("cost_usd", [0.0, 0.02])), path) == path
    assert path.read_bytes()[:4] == b"\x89PNG"

    assert plots.score_distributions(_distribution_frame().clear(), tmp_path / "a.png") is None
    assert plots.demographic_bars(_demographics().with_columns(pl.lit(0).alias("count")), tmp_path / "b.png") is None
    assert plots.draw_robustness_scatter(_levels(), "bigfive", "EXT") is None
    assert plots.draw_alpha_forest(_reliability().filter(pl.col("model") == "reference")) is None  # nothing compared
    assert not list(tmp_path.glob("[ab].png"))
    assert not has_data([None, float("nan")]) and not has_data([0, 0], zero_is_empty=True) and has_data([0.0])
    assert save_figure(None, tmp_path / "none.png") is None


def test_report_figures_render_to_png(tmp_path):
    """Every report figure renders from the small frames (the PNGs a reader gets)."""
    written = [
        plots.score_distributions(_distribution_frame(), tmp_path / "distributions.png"),
        plots.alpha_forest(_reliability(), tmp_path / "alpha.png"),
        plots.persona_vs_reference(_scores(), tmp_path / "fidelity.png"),
        plots.demographic_bars(_demographics(), tmp_path / "demographics.png"),
        plots.response_styles(_indices(), tmp_path / "styles.png", INDICES),
        plots.robustness_scatter(_levels(), "bigfive", "AGR", tmp_path / "robustness.png"),
    ]
    assert all(path.read_bytes()[:4] == b"\x89PNG" for path in written)


def test_captions_use_readable_names_and_say_what_is_compared_and_n():
    frame = _distribution_frame()
    scale_scores = frame.group_by("model", "condition", "questionnaire", "scale").agg(
        pl.len().cast(pl.Int64).alias("n")
    )
    text = captions.score_distributions(scale_scores)
    assert "n = 12 per model × condition; human reference n = 12." in text
    assert "mean with its t 95% CI" in text and "median" in text
    assert captions.alpha_forest(_reliability()).endswith("n = 12 per model × condition; human reference n = 300.")
    assert "Wilson 95% CI" in captions.demographic_bars(_demographics())
    n = _demographics()["n"]
    assert captions.demographic_bars(_demographics()).endswith(f"n = {n.min()}–{n.max()} per model × condition.")
    styles = captions.response_styles(pl.concat([_indices(), _indices()]))  # repetitions count once
    assert styles.endswith("n = 10 per model × condition; human reference n = 10.")
    robustness = captions.robustness_scatter(_levels(), "bigfive", "AGR")
    assert "Agreeableness (IPIP-50)" in robustness and robustness.endswith(
        "n = 15 personas per model × condition × level."
    )
    for text in (robustness, styles, captions.persona_vs_reference(scale_scores)):
        assert not re.search(r"\b(bigfive|epqr_a)\b", text), text


def test_html_numbers_the_figures_made_and_leaves_out_one_not_made(tmp_path):
    made = plots.alpha_forest(_reliability(), tmp_path / "alpha.png")
    missing = plots.demographic_bars(_demographics().with_columns(pl.lit(0).alias("count")), tmp_path / "bars.png")
    assert missing is None
    sections = [
        Section(
            "Reliability",
            images=[
                Figure(made, captions.alpha_forest(_reliability())),
                Figure(tmp_path / "bars.png", "never drawn"),
                Figure(made, "the same again"),
            ],
        )
    ]
    page = render_report("Report", sections)
    assert (
        f"<b>Figure 1.</b> {html.escape(captions.alpha_forest(_reliability()))}<" in page
        and "<b>Figure 2.</b> the same again" in page
    )
    assert "never drawn" not in page and "Figure 3." not in page
