"""Report assets: tables and figures across every materialised model × population partition of
the study, each written as parquet + CSV (+ PNG) under <data dir>/reports and shown in the UI
(tables inline, the head of a long one with its row count and CSV; embedded figures; and a handful of
headline numbers per asset, which the UI charts over materialisations)."""

import itertools
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from personality_assets import settings
from personality_assets.defs.metadata import explorer_link, figure_metadata, table_entries, table_schema
from personality_assets.defs.outputs import output_path
from personality_assets.defs.persona_study.assets import questionnaire_scores
from personality_assets.defs.persona_study.presentation import FACTORS
from personality_assets.defs.persona_study.reports import columns, plots
from personality_assets.defs.persona_study.reports.agreement import agreement_table
from personality_assets.defs.persona_study.reports.demographics import (
    demographics_table,
    marginals_table,
    read_marginals,
)
from personality_assets.defs.persona_study.reports.distance import item_distances, scale_distances
from personality_assets.defs.persona_study.reports.fidelity import (
    PERMUTATION,
    RANDOM_RESPONDENTS,
    RANDOM_SUFFIX,
    RETEST_SUFFIX,
    fidelity_summary,
    permuted_r,
    persona_fidelity,
    random_respondent_r,
    retest_r,
)
from personality_assets.defs.persona_study.reports.html import Section, prepare, render_report
from personality_assets.defs.persona_study.reports.paper import (
    GRID_LEGEND,
    Figure,
    Table,
    alpha_grid,
    caption,
    export_tables,
    questionnaire_label,
    report_table,
    scale_label,
    score_grid,
)
from personality_assets.defs.persona_study.reports.reliability import (
    OMEGA_RESAMPLES,
    RESAMPLES,
    SEED,
    reliability_table,
)
from personality_assets.defs.persona_study.reports.response_styles import (
    INDICES,
    OVERALL,
    PRESENTATION,
    REPLY_COLUMNS,
    all_style_indices,
    reply_problems,
    social_desirability,
    style_comparison,
    with_base_presentation,
)
from personality_assets.defs.persona_study.reports.robustness import (
    THRESHOLDS,
    compare_levels,
    persona_level_scores,
    with_verdicts,
)
from personality_assets.defs.persona_study.reports.scale_scores import (
    EQUIVALENCE_BOUND_SD,
    REFERENCE,
    VERDICTS,
    scale_score_table,
)
from personality_assets.defs.persona_study.reports.study_data import (
    base_conditions,
    call_models,
    human_answers,
    human_scores,
    load_exclusion_notes,
    loaded_populations,
    model_calls,
    persona_answers,
    persona_demographics,
    persona_scores,
    replace_style_indices,
)
from personality_assets.defs.persona_study.reports.validity import read_trait_pairs, validity_table
from personality_assets.defs.resources import ResearchDatabase
from personality_assets.defs.steps import step
from personality_assets.questionnaires import get_questionnaire, keyed_items

GROUP = "reports"
KINDS = {"parquet", "csv"}


def report_path(name: str, suffix: str) -> Path:
    return output_path(settings.reports_dir(), f"{name}.{suffix}")


def write_table(name: str, table: pl.DataFrame) -> dict:
    """Writes ``<name>.parquet`` and ``<name>.csv``; returns their metadata."""
    parquet, csv = report_path(name, "parquet"), report_path(name, "csv")
    table.write_parquet(parquet)
    table.write_csv(csv)
    return {
        "dagster/row_count": table.height,
        "parquet": dg.MetadataValue.path(str(parquet)),
        "csv": dg.MetadataValue.path(str(csv)),
        "dagster/column_schema": table_schema(dict(table.schema)),
    }


def read_report(name: str) -> pl.DataFrame:
    return pl.read_parquet(report_path(name, "parquet"))


def _shown(report: pl.DataFrame, *columns, keys: tuple[str, ...] = ("questionnaire", "scale")) -> pl.DataFrame:
    """The table the UI shows: the group (``keys``, model, condition) and its n, then ``columns``."""
    return report.select(*keys, "model", "condition", "n", *columns)


def _with_ci(estimate: str) -> list[pl.Expr]:
    """An estimate and its 95% CI (columns ci_low, ci_high) as the UI's tables show them."""
    interval = pl.format("[{}, {}]", pl.col("ci_low").round(3), pl.col("ci_high").round(3))
    return [pl.col(estimate).round(3), interval.alias("95% CI")]


def _number(value) -> float | None:
    return None if value is None else round(float(value), 4)


def _interval(estimate: str, low: str, high: str, digits: int) -> pl.Expr:
    """``estimate [low, high]`` as one cell of the UI's tables (empty where the estimate is)."""
    return pl.format("{} [{}, {}]", *(pl.col(c).round(digits) for c in (estimate, low, high)))


class ScaleScoreConfig(dg.Config):
    equivalence_bound_sd: float = Field(
        default=EQUIVALENCE_BOUND_SD,
        gt=0,
        description="equivalence bound of the TOST in pooled-sd units (0.2: persona and human means within "
        "± 0.2 pooled sds count as equivalent); the table states it in raw units too",
    )


@step(group_name=GROUP, deps=[questionnaire_scores], kinds=KINDS)
def scale_score_report(
    context: dg.AssetExecutionContext, config: ScaleScoreConfig, research_db: ResearchDatabase
) -> dg.MaterializeResult:
    """Persona vs human scale scores per questionnaire × scale × model × condition: mean ± sd and n,
    the difference with Welch's t, 95% CI, Cohen's d with its noncentral-t 95% CI and
    Holm-corrected significance across the table, each persona's mean |difference| from its own
    reference person, the TOST of equivalence within ± ``equivalence_bound_sd`` pooled sds with a
    verdict (equivalent, different, inconclusive), and the spread: persona sd / human sd with its F
    95% CI and the Brown-Forsythe test. The reference people of every loaded population have their
    rows, studied by personas or not. Figures: score distributions and persona vs reference person
    per scale."""
    target = research_db.target
    personas = persona_scores(target, required=False)
    humans = human_scores(human_answers(target, loaded_populations(target)))
    report = scale_score_table(personas, humans.drop("model", "respondent"), config.equivalence_bound_sd)
    models = report.filter(pl.col("model") != REFERENCE)
    shown = _shown(
        report,
        pl.format("{} ± {}", pl.col("mean").round(2), pl.col("sd").round(2)).alias("mean ± sd"),
        pl.col("difference").round(3),
        pl.col("mean_abs_difference").round(3),
        _interval("cohens_d", "cohens_d_ci_low", "cohens_d_ci_high", 2).alias("d [95% CI]"),
        pl.col("p_holm").round(4),
        "significant",
        pl.col("p_tost_holm").round(4),
        "equivalence",
        _interval("sd_ratio", "sd_ratio_ci_low", "sd_ratio_ci_high", 2).alias("sd ratio [95% CI]"),
        pl.col("p_spread_holm").round(4),
    )
    distributions = plots.score_distributions(
        pl.concat([personas.select(humans.drop("respondent").columns), humans.drop("respondent")]),
        report_path("scale_score_distributions", "png"),
    )
    fidelity = plots.persona_vs_reference(personas, report_path("persona_vs_reference", "png"))
    context.log.info(f"{models.height} persona groups against their reference people, in {settings.reports_dir()}")
    return dg.MaterializeResult(
        metadata={
            **write_table("scale_scores", report),
            "tests": int(models["p"].is_not_null().sum()),
            "significant_after_holm": int(models.filter(pl.col("p_holm") < 0.05).height),
            "equivalence_bound_sd": config.equivalence_bound_sd,
            "max_abs_d": _number(models["cohens_d"].abs().max()),
            "explorer": explorer_link("/compare"),
            **_equivalence_headline(models),
            **table_entries("table", shown, columns.SCALE_SCORES, precise=columns.P_VALUES),
            "score_distributions": figure_metadata(distributions, "Scale scores, personas vs reference people"),
            "persona_vs_reference": figure_metadata(fidelity, "Each persona against its reference person"),
        }
    )


def _equivalence_headline(models: pl.DataFrame) -> dict:
    """Shares of the persona groups with a verdict that are equivalent / different, and the
    smallest and median persona/human sd ratio (None when nothing was tested)."""
    verdicts = models["equivalence"].drop_nulls()
    ratios = models["sd_ratio"].drop_nulls()
    share = {v: _number((verdicts == v).mean()) if len(verdicts) else None for v in ("equivalent", "different")}
    return {
        "share_equivalent": share["equivalent"],
        "share_different": share["different"],
        "min_sd_ratio": _number(ratios.min()) if len(ratios) else None,
    }


class ReliabilityConfig(dg.Config):
    resamples: int = Field(default=RESAMPLES, ge=0, description="bootstrap resamples for the 95% CI of alpha (0: none)")
    omega_resamples: int = Field(
        default=OMEGA_RESAMPLES, ge=0, description="bootstrap resamples for the 95% CI of omega total (0: none)"
    )
    seed: int = Field(default=42, description="seed of the bootstrap")


@step(group_name=GROUP, deps=[questionnaire_scores], kinds=KINDS)
def reliability_report(
    context: dg.AssetExecutionContext, config: ReliabilityConfig, research_db: ResearchDatabase
) -> dg.MaterializeResult:
    """Cronbach's alpha per questionnaire × scale × model × condition and for the reference people
    of every loaded population (studied by personas or not), with a bootstrap 95% CI and the
    standardised alpha; beside it McDonald's omega total (one-factor ML model, bootstrap 95% CI)
    and Guttman's lambda6. Missing answers: listwise (a respondent missing an item of the scale is
    left out of that scale, counted in n_missing). A scale's reference alpha uses everyone in the
    file who answered all its items, including people the load left out of the population for
    skipping another item (require_complete); excluded_at_load and excluded_reasons say who the
    load left out and why. Undefined alpha (no variance) is an empty cell with a note, undefined
    omega or lambda6 (fewer than 3 items, singular correlations, a Heywood case) one with an
    omega_note. Figure: a forest plot of alpha with its CI."""
    target = research_db.target
    tables = []
    for answers in persona_answers(target, required=False):
        respondents = answers.select("model", "condition", pl.col("experiment_id").alias("respondent"), *_ITEM)
        tables.append(reliability_table(_keyed(respondents), config.resamples, config.seed, config.omega_resamples))
    conditions = loaded_populations(target)
    humans = human_answers(target, conditions, with_incomplete=True).select(
        pl.lit(REFERENCE).alias("model"), "condition", pl.col("personality_id").alias("respondent"), *_ITEM
    )
    reference = reliability_table(_keyed(humans), config.resamples, config.seed, config.omega_resamples).drop(
        "excluded_at_load", "excluded_reasons"
    )
    notes = load_exclusion_notes(target)
    tables.append(
        reference.join(notes, on="condition", how="left").with_columns(pl.col("excluded_at_load").fill_null(0))
    )
    report = pl.concat(tables).sort("questionnaire", "scale", "condition", pl.col("model") != REFERENCE, "model")
    forest = plots.alpha_forest(report, report_path("alpha_forest", "png"))
    undefined = report.filter(pl.col("alpha").is_null())
    personas = report.filter(pl.col("model") != REFERENCE)
    context.log.info(
        f"alpha and omega of {report.height} groups with {config.resamples} and {config.omega_resamples}"
        " bootstrap resamples each"
    )
    omega_interval = pl.format("[{}, {}]", pl.col("omega_ci_low").round(3), pl.col("omega_ci_high").round(3))
    shown = _shown(
        report,
        *_with_ci("alpha"),
        pl.col("standardized_alpha").round(3),
        pl.col("omega_total").round(3),
        omega_interval.alias("omega 95% CI"),
        pl.col("lambda6").round(3),
        "n_missing",
        "excluded_at_load",
        pl.col("note").fill_null(""),
        pl.col("omega_note").fill_null(""),
    )
    return dg.MaterializeResult(
        metadata={
            **write_table("reliability", report),
            "missing_item_policy": "listwise",
            "bootstrap_resamples": config.resamples,
            "omega_bootstrap_resamples": config.omega_resamples,
            "undefined_alpha": undefined.height,
            "undefined_omega": int(report["omega_total"].null_count()),
            # The least reliable scale any model × condition gives (the personas' rows), when defined.
            "min_alpha": _number(personas["alpha"].min()),
            "min_omega": _number(personas["omega_total"].min()),
            **table_entries("table", shown, columns.RELIABILITY),
            "alpha_forest": figure_metadata(forest, "Cronbach's alpha with bootstrap 95% CI"),
        }
    )


_ITEM = ("questionnaire", "question_number", "answer")


def _answered_partitions(target):
    """The persona answers one model × condition at a time; fails at once when nothing is answered."""
    partitions = persona_answers(target)
    first = next(partitions)
    return itertools.chain([first], partitions)


def _keyed(answers: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(
        keyed_items(group, get_questionnaire(name)).select(
            "model", "condition", "questionnaire", "scale", "respondent", "question_number", "keyed"
        )
        for (name,), group in answers.group_by("questionnaire")
    )


@step(group_name=GROUP, deps=[questionnaire_scores], kinds=KINDS)
def validity_report(context: dg.AssetExecutionContext, research_db: ResearchDatabase) -> dg.MaterializeResult:
    """Cross-questionnaire validity: Pearson r (95% CI) and Spearman rho of the same trait measured
    by two questionnaires, per model × condition and for the reference people, over personas (each
    persona's scores averaged over its repetitions). The trait pairs come from trait_pairs.toml
    (or the file named by PERSONALITY_ASSETS_TRAIT_PAIRS)."""
    target = research_db.target
    pairs_file = settings.trait_pairs_file()
    pairs = read_trait_pairs(pairs_file)
    personas = persona_scores(target)
    humans = human_scores(human_answers(target, personas["condition"].unique().to_list()))
    scores = pl.concat(
        [
            personas.select(
                "model", "condition", "questionnaire", "scale", pl.col("persona_id").alias("respondent"), "score"
            ),
            humans,
        ]
    )
    report, skipped = validity_table(scores, pairs)
    if skipped:
        context.log.info(
            "trait pairs without both questionnaires answered: "
            + ", ".join(f"{p.trait} ({'.'.join(p.a)} ~ {'.'.join(p.b)})" for p in skipped)
        )
    shown = _shown(
        report,
        *_with_ci("pearson_r"),
        pl.col("spearman_rho").round(3),
        pl.col("note").fill_null(""),
        keys=("trait", "a", "b"),
    )
    persona_rows = report.filter(pl.col("model") != REFERENCE)
    return dg.MaterializeResult(
        metadata={
            **write_table("validity", report),
            "trait_pairs_file": dg.MetadataValue.path(str(pairs_file)),
            "skipped_pairs": len(skipped),
            # The weakest and the typical convergence of two questionnaires in the personas' rows.
            "min_r": _number(persona_rows["pearson_r"].min()),
            "median_r": _number(persona_rows["pearson_r"].median()),
            **table_entries("table", shown, columns.VALIDITY),
        }
    )


class AgreementConfig(dg.Config):
    seed: int = Field(
        default=SEED,
        description="seed of individual fidelity's permutation baseline (used where no <condition>_random is loaded)",
    )


FIDELITY_FIGURE = "individual_fidelity"


def _fidelity_shown(summary: pl.DataFrame) -> pl.DataFrame:
    return summary.select(
        "questionnaire",
        "model",
        "condition",
        "n",
        *_with_ci("mean_r"),
        pl.col("median_r").round(3),
        pl.format("[{}, {}]", pl.col("q1_r").round(3), pl.col("q3_r").round(3)).alias("quartiles"),
        pl.col("share_positive").round(3),
        pl.col("accuracy").round(3),
        pl.col("mae").round(3),
        pl.col("baseline").fill_null("n/a"),
        pl.col("baseline_r").round(3),
        pl.col("ceiling_r").round(3),
        pl.col("normalised").round(3),
    )


@step(group_name=GROUP, deps=[questionnaire_scores], kinds=KINDS)
def agreement_report(
    context: dg.AssetExecutionContext, config: AgreementConfig, research_db: ResearchDatabase
) -> dg.MaterializeResult:
    """Item-level agreement of each persona's answers with its reference person's, per
    questionnaire × scale × model × condition: accuracy (all), precision and recall with the keyed
    answer as positive (binary items), MAE and RMSE (ordinal items), and n answer pairs.
    individual_fidelity: per persona, the Pearson r across a questionnaire's items between its
    keyed answers (repetitions averaged) and its reference person's, summarised per questionnaire ×
    model × condition (mean r with a t 95% CI over personas, median, quartiles, share r > 0, mean
    accuracy and MAE), against a baseline (the random respondents of <condition>_random when
    loaded, else each persona against a random other person, seeded) and, when <condition>_retest
    is loaded, the humans' test-retest r as the ceiling (normalised = mean r / ceiling r).
    individual_fidelity_personas: each persona's r. Figure: the distribution of per-persona r."""
    target = research_db.target
    loaded = set(base_conditions(target))
    people: dict[str, pl.DataFrame] = {}

    def answers_of(population: str) -> pl.DataFrame:
        if population not in people:
            people[population] = human_answers(target, [population])
        return people[population]

    tables, personas, baselines, ceilings = [], [], [], {}
    for answers in _answered_partitions(target):
        model, condition = answers["model"][0], answers["condition"][0]
        reference = answers_of(condition)
        tables.append(agreement_table(answers, reference))
        fidelity = persona_fidelity(answers, reference)
        personas.append(fidelity)
        if condition + RANDOM_SUFFIX in loaded:
            pairs = random_respondent_r(
                reference, answers_of(condition + RANDOM_SUFFIX), fidelity["ref_personality_id"].unique()
            )
            kind = RANDOM_RESPONDENTS
        else:
            pairs, kind = permuted_r(answers, reference, config.seed), PERMUTATION
        baselines.append(
            pairs.with_columns(
                pl.lit(model).alias("model"), pl.lit(condition).alias("condition"), pl.lit(kind).alias("baseline")
            )
        )
        if condition + RETEST_SUFFIX in loaded and condition not in ceilings:
            ceilings[condition] = retest_r(reference, answers_of(condition + RETEST_SUFFIX)).with_columns(
                pl.lit(condition).alias("condition")
            )
    report = pl.concat(tables).sort("questionnaire", "scale", "model", "condition")
    per_persona = pl.concat(personas)
    summary = fidelity_summary(per_persona, pl.concat(baselines), pl.concat(ceilings.values()) if ceilings else None)
    figure = plots.individual_fidelity(per_persona, summary, report_path(FIDELITY_FIGURE, "png"))
    context.log.info(
        f"agreement of {int(report['n'].sum())} answer pairs in {report.height} groups; individual fidelity of "
        f"{per_persona.height} persona x questionnaire pairs"
    )
    return dg.MaterializeResult(
        metadata={
            **write_table("agreement", report),
            "individual_fidelity_csv": write_table("individual_fidelity", summary)["csv"],
            "individual_fidelity_personas": write_table("individual_fidelity_personas", per_persona)["parquet"],
            "median_accuracy": _number(report["accuracy"].median()),
            "min_mean_r": _number(summary["mean_r"].min()),
            "max_mean_r": _number(summary["mean_r"].max()),
            "min_normalised": _number(summary["normalised"].min()),
            **table_entries("table", report, columns.AGREEMENT),
            **table_entries("individual_fidelity", _fidelity_shown(summary), columns.FIDELITY),
            "individual_fidelity_figure": figure_metadata(
                figure, "Per-persona r with its reference person (baseline x, ceiling |)"
            ),
        }
    )


@step(group_name=GROUP, deps=[questionnaire_scores], kinds=KINDS)
def distribution_report(context: dg.AssetExecutionContext, research_db: ResearchDatabase) -> dg.MaterializeResult:
    """How close the personas' answer distributions are to the humans' of the same condition: the
    Wasserstein distance (scipy) per questionnaire × item × model × condition on the answer codes
    (distribution_items) and per questionnaire × scale × model × condition on the scale scores
    (distribution_scales), each experiment one administration, normalised by the answer range
    into similarity = 1 - W / range (1: the same distribution; 0: all the mass at opposite ends).
    The UI shows the items worst (lowest similarity) first."""
    target = research_db.target
    items, people = [], {}
    for answers in _answered_partitions(target):
        condition = answers["condition"][0]
        if condition not in people:
            people[condition] = human_answers(target, [condition])
        items.append(item_distances(answers, people[condition]))
    item_table = pl.concat(items).sort("questionnaire", "question_number", "model", "condition")
    scores = persona_scores(target)
    humans = human_scores(pl.concat(people.values()))
    scale_table = scale_distances(scores, humans.drop("model", "respondent"))
    least = item_table["similarity"].min()
    median = scale_table["similarity"].median()
    context.log.info(
        f"distribution distance of {item_table.height} items and {scale_table.height} scales; "
        f"lowest item similarity {least}, median scale similarity {median}"
    )
    return dg.MaterializeResult(
        metadata={
            **write_table("distribution_items", item_table),
            "scales_csv": write_table("distribution_scales", scale_table)["csv"],
            "min_item_similarity": _number(least),
            "median_scale_similarity": _number(median),
            **table_entries("table", _items_shown(item_table), columns.DISTRIBUTION_ITEMS),
            **table_entries("scales", _scales_shown(scale_table), columns.DISTRIBUTION_SCALES),
        }
    )


def _items_shown(items: pl.DataFrame) -> pl.DataFrame:
    """The item table worst first: lowest similarity at the top (items without one last)."""
    return items.sort("similarity", "questionnaire", "question_number", "model", "condition", nulls_last=True).select(
        "questionnaire",
        "item",
        "scale",
        "model",
        "condition",
        "n",
        "reference_n",
        pl.col("mean").round(2),
        pl.col("reference_mean").round(2),
        pl.col("wasserstein").round(3),
        pl.col("similarity").round(3),
    )


def _scales_shown(scales: pl.DataFrame) -> pl.DataFrame:
    return _shown(
        scales,
        "reference_n",
        pl.col("mean").round(2),
        pl.col("reference_mean").round(2),
        pl.col("wasserstein").round(3),
        "range",
        pl.col("similarity").round(3),
    )


@step(group_name=GROUP, deps=[questionnaire_scores], kinds=KINDS)
def demographics_report(context: dg.AssetExecutionContext, research_db: ResearchDatabase) -> dg.MaterializeResult:
    """Persona demographics (gender, race, sexual orientation, age band, religion, politics) per
    model × condition: counts and shares, z-tests of each derived condition's shares against its
    base condition's (Holm-corrected), and, when a marginals CSV is supplied (attribute,
    category, share at PERSONALITY_ASSETS_MARGINALS or <data dir>/marginals.csv), the
    total-variation distance and a chi-squared goodness-of-fit test against it."""
    target = research_db.target
    personas = persona_demographics(target)
    if personas.is_empty():
        raise dg.Failure("no personas yet: materialise personas for some partition first", allow_retries=False)
    report = demographics_table(personas, base_conditions(target))
    bars = plots.demographic_bars(report, report_path("demographics", "png"))
    marginals_file = settings.marginals_file()
    metadata = {
        **write_table("demographics", report),
        "significant_shifts_after_holm": int(report.filter(pl.col("p_holm") < 0.05).height),
        **table_entries(
            "table",
            report.filter(pl.col("count") > 0).select(
                "attribute", "category", "model", "condition", "count", "share", "significant"
            ),
            columns.DEMOGRAPHICS,
        ),
        "demographics": figure_metadata(bars, "Persona demographics per model and condition"),
    }
    if marginals_file.exists():
        marginals = read_marginals(marginals_file)
        fit = marginals_table(report, marginals)
        fit_files = write_table("demographics_vs_marginals", fit)
        metadata |= {
            "marginals_file": dg.MetadataValue.path(str(marginals_file)),
            **table_entries("vs_marginals", fit, columns.MARGINALS, digits=4),
            "vs_marginals_csv": fit_files["csv"],
            "max_total_variation": _number(fit["total_variation"].max()),
        }
    else:
        for suffix in ("parquet", "csv"):  # a comparison from an earlier run would no longer be true
            report_path("demographics_vs_marginals", suffix).unlink(missing_ok=True)
        metadata["marginals_file"] = f"none: put attribute,category,share in {marginals_file} to compare"
        context.log.info(f"no marginals file at {marginals_file}: no comparison with external shares")
    return dg.MaterializeResult(metadata=metadata)


def _presentation(frame: pl.DataFrame) -> pl.Expr:
    """item_order / option_order / wording in one column, for the UI's tables."""
    return pl.concat_str([pl.col(factor) for factor in PRESENTATION], separator="/").alias("presentation")


@step(group_name=GROUP, deps=[questionnaire_scores], kinds=KINDS)
def response_style_report(context: dg.AssetExecutionContext, research_db: ResearchDatabase) -> dg.MaterializeResult:
    """How personas answer regardless of content, against the reference people of the same
    condition. Per respondent (experiment or reference person) and questionnaire:
    acquiescence_mean (the mean answer over balanced keyed/reversed item pairs, where content
    cancels; yes/no: the share of yes), acquiescence_pairs (the share of those pairs with both
    the item and its reversed twin agreed with: above the midpoint, or "yes"), extreme_share
    (answers at the lowest or highest code; none for yes/no), midpoint_share (answers at the
    middle code; none without one), longest_run (identical answers in a row, in presentation
    order) and modal_share (the most frequent answer's share), stored in response_style_indices
    and written as response_style_indices.parquet. response_style_comparison: each index per
    model × condition × item_order × option_order × wording × questionnaire against the humans
    (one value per persona, its repetitions averaged): Welch's t, Cohen's d (pooled sd), Holm
    across the table. social_desirability: the shift of persona scale means toward the
    desirable pole in human sd units (EPQR-A L high; Big Five EXT, EST, AGR, CSN, OPN high;
    BFI-44 E, A, C, O high and N low), per scale and their mean (scale "overall").
    reply_problems: per model, questionnaire calls whose first reply was invalid, invalid after
    retries, failed, and refusals found in the reply text. Figure: each index per model ×
    condition beside the reference people's."""
    target = research_db.target
    persona_keys = ["model", "condition", *PRESENTATION, "experiment_id", "persona_id", "ref_personality_id"]
    # Every presentation (item order, option order, wording): each is compared with the humans.
    personas = pl.concat(
        all_style_indices(with_base_presentation(answers), persona_keys)
        for answers in persona_answers(target, base_only=False)
    )
    answers = human_answers(target, loaded_populations(target))
    humans = all_style_indices(answers, ["condition", "personality_id"])
    comparison = style_comparison(personas, humans)
    indices = pl.concat(
        [
            personas.select(
                pl.lit("persona").alias("respondent"),
                pl.exclude("ref_personality_id"),
                pl.col("ref_personality_id").alias("personality_id"),
            ),
            with_base_presentation(humans).with_columns(
                pl.lit("reference").alias("respondent"),
                pl.lit(REFERENCE).alias("model"),
                pl.lit(None, pl.Int64).alias("experiment_id"),
                pl.lit(None, pl.Int64).alias("persona_id"),
            ),
        ],
        how="diagonal_relaxed",
    ).select(
        "respondent",
        "model",
        "condition",
        "experiment_id",
        "persona_id",
        "personality_id",
        "questionnaire",
        *PRESENTATION,
        "items",
        *INDICES,
    )
    replace_style_indices(target, indices)
    desirability = social_desirability(persona_scores(target, base_only=False), human_scores(answers))
    problems = pl.concat(
        [reply_problems(model_calls(target, model)) for model in call_models(target)]
        or [pl.DataFrame(schema=REPLY_COLUMNS)]
    )
    figure = plots.response_styles(indices, report_path("response_styles", "png"), INDICES)
    tested = comparison.filter(pl.col("p").is_not_null())
    context.log.info(
        f"response styles of {personas.height} experiments and {humans.height} reference answer sets; "
        f"{tested.filter(pl.col('p_holm') < 0.05).height} of {tested.height} comparisons significant after Holm"
    )
    shown = comparison.select(
        "questionnaire",
        "index",
        "model",
        "condition",
        _presentation(comparison),
        "n",
        pl.format("{} ± {}", pl.col("mean").round(3), pl.col("sd").round(3)).alias("mean ± sd"),
        pl.format("{} ± {}", pl.col("reference_mean").round(3), pl.col("reference_sd").round(3)).alias(
            "humans mean ± sd"
        ),
        pl.col("difference").round(3),
        pl.col("cohens_d").round(2),
        pl.col("p_holm").round(4),
        "significant",
    )
    shown_desirability = desirability.select(
        "model",
        "condition",
        _presentation(desirability),
        "questionnaire",
        "scale",
        pl.col("pole").fill_null(""),
        "scales",
        pl.col("shift").round(3),
    )
    return dg.MaterializeResult(
        metadata={
            **write_table("response_style_indices", indices),
            "comparison_csv": write_table("response_style_comparison", comparison)["csv"],
            "social_desirability_csv": write_table("social_desirability", desirability)["csv"],
            "reply_problems_csv": write_table("reply_problems", problems)["csv"],
            "tests": tested.height,
            "significant_after_holm": int(tested.filter(pl.col("p_holm") < 0.05).height),
            "max_abs_d": _number(tested["cohens_d"].abs().max()),
            # The largest pull toward the desirable pole (mean over a questionnaire's scales).
            "max_desirability_shift": _number(desirability.filter(pl.col("scale") == OVERALL)["shift"].max()),
            "max_first_reply_invalid_share": _number(problems["first_reply_invalid_share"].max()),
            "max_refusal_share": _number(problems["refusal_share"].max()),
            **table_entries("table", shown, columns.RESPONSE_STYLES, precise=columns.P_VALUES),
            **table_entries("social_desirability", shown_desirability, columns.DESIRABILITY),
            **table_entries("reply_problems", problems, columns.REPLY_PROBLEMS, digits=4),
            "response_styles": figure_metadata(figure, "Response-style indices, personas vs reference people"),
        }
    )


ROBUSTNESS_FIGURES = "robustness_scatter"
NO_PRESENTATION_LEVELS = (
    "no presentation condition besides the base ("
    + ", ".join(f"{factor} {base}" for factor, base in FACTORS.items())
    + ") in the scored experiments: register the study again with other levels, e.g. the launchpad's"
    " experiment_registrations config `item_order: shuffled`, `orders: 2`,"
    " `option_orders: [ascending, descending]`, `wordings: [original, paraphrase]` (or the CLI's"
    " `register --item-order shuffled --orders 2 --option-order ascending --option-order descending`),"
    " answer and score them, then materialise this report again (docs/robustness.md)"
)


def _robustness_figures(levels: pl.DataFrame) -> list[Path]:
    """One scatter per questionnaire × scale (the figures of an earlier run are removed first, so
    a scale no longer compared leaves no stale figure)."""
    for stale in settings.reports_dir().glob(f"{ROBUSTNESS_FIGURES}_*.png"):
        stale.unlink()
    return [
        plots.robustness_scatter(
            levels, questionnaire, scale, report_path(f"{ROBUSTNESS_FIGURES}_{questionnaire}_{scale}", "png")
        )
        for questionnaire, scale in levels.select("questionnaire", "scale")
        .unique()
        .sort("questionnaire", "scale")
        .rows()
    ]


def _robustness_shown(report: pl.DataFrame) -> pl.DataFrame:
    return _shown(
        report,
        pl.col("mean_shift").round(3),
        pl.col("d_av").round(2),
        pl.col("p_holm").round(4),
        pl.col("icc").round(3),
        pl.format("[{}, {}]", pl.col("icc_ci_low").round(2), pl.col("icc_ci_high").round(2)).alias("ICC 95% CI"),
        pl.col("icc_agreement").round(3),
        pl.col("alpha_base").round(3),
        pl.col("alpha_level").round(3),
        pl.col("verdict").fill_null("n/a"),
        keys=("questionnaire", "scale", "factor", "level"),
    )


@step(group_name=GROUP, deps=[questionnaire_scores], kinds=KINDS)
def robustness_report(context: dg.AssetExecutionContext, research_db: ResearchDatabase) -> dg.MaterializeResult:
    """Do the personas' scale scores survive a change of presentation (item order, option order,
    wording)? Per questionnaire × scale × model × condition × factor × non-base level: each
    persona's score under the level against its own score under the base level, on matched cells
    (the other two factors at equal levels; a persona's score is the mean over its repetitions and
    the matched cells), so the comparison is within persona in unbalanced designs too. Mean shift
    with its sd, d_z and d_av; paired t and Wilcoxon signed-rank; Holm over the table's paired-t
    p values; ICC(3,1) (consistency) and ICC(2,1) (agreement) with 95% CIs (pingouin; targets the
    personas, raters the two levels); Cronbach's alpha of the scale under each level. Verdict:
    unstable if ICC(3,1) < 0.75, else shifts if Holm p < 0.05 and |d_av| >= 0.2, else stable.
    Also writes robustness_levels (each persona's score under each level and the base) and a
    figure per scale. Without non-base levels the table is empty and the metadata says how to
    register some."""
    target = research_db.target
    scores = persona_scores(target, required=False, base_only=False)
    varied = scores.filter(pl.any_horizontal(pl.col(factor) != base for factor, base in FACTORS.items()))
    partitions = set(varied.select("model", "condition").unique().rows())
    rows = []
    for answers in persona_answers(target, required=False, base_only=False) if partitions else ():
        model, condition = answers["model"][0], answers["condition"][0]
        if (model, condition) not in partitions:
            continue
        respondents = answers.select("model", "condition", pl.col("experiment_id").alias("respondent"), *_ITEM)
        partition = scores.filter((pl.col("model") == model) & (pl.col("condition") == condition))
        rows.append(compare_levels(partition, _keyed(respondents)))
    report = with_verdicts(pl.concat(rows) if rows else compare_levels(scores.clear()))
    levels = persona_level_scores(scores)  # only partitions with a non-base level have rows
    figures = _robustness_figures(levels)
    metadata = {
        **write_table("robustness", report),
        "levels": write_table("robustness_levels", levels)["parquet"],
        "thresholds": THRESHOLDS,
        **table_entries("table", _robustness_shown(report), columns.ROBUSTNESS, precise=columns.P_VALUES),
        **{
            f"figure/{path.stem.removeprefix(ROBUSTNESS_FIGURES + '_')}": figure_metadata(
                path, f"Persona scores under each presentation level vs the base: {path.stem}"
            )
            for path in figures
        },
    }
    if report.is_empty():
        metadata["note"] = NO_PRESENTATION_LEVELS
        context.log.info(NO_PRESENTATION_LEVELS)
    else:
        verdicts = report["verdict"].value_counts()
        counts = dict(verdicts.rows())
        # The same keys every run (0 when no row has the verdict), so the UI charts them over runs.
        metadata |= {f"rows_{verdict}": int(counts.get(verdict, 0)) for verdict in ("stable", "shifts", "unstable")}
        metadata |= {"min_icc": _number(report["icc"].min()), "max_abs_d_av": _number(report["d_av"].abs().max())}
        context.log.info(f"{report.height} presentation comparisons: {dict(verdicts.rows())}")
    return dg.MaterializeResult(metadata=metadata)


AGREEMENT_CAPTION = (
    "Item-level agreement of each answer with the reference person's answer to the same item, per scale × model "
    "× condition: accuracy; precision and recall with the keyed answer as positive (keyed-count questionnaires); "
    "MAE and RMSE (Likert questionnaires). No test, no correction"
)


def _response_style_section() -> Section:
    if not report_path("response_style_comparison", "parquet").exists():
        return Section("Response styles", "response_style_report has not been materialised.")
    return Section(
        "Response styles: personas vs reference people",
        "Per respondent and questionnaire: acquiescence (mean answer over balanced keyed/reversed pairs; share "
        "of pairs with both agreed with), extreme and midpoint shares, longest run of identical answers and the "
        "modal answer's share. Personas (one value per persona) against the humans of the same condition: "
        "Welch's t, Cohen's d, Holm across the table. Social desirability: the shift of persona scale means "
        "toward the desirable pole in human sd units (positive: more desirable). Reply problems per model from "
        "the call records.",
        [
            report_table(
                read_report("response_style_comparison"),
                "Response-style indices of the personas (one value per persona) against the reference people of the "
                "same condition, per model × condition × presentation × questionnaire: Welch's t, Cohen's d, "
                "Holm's correction across the table",
            ),
            report_table(
                read_report("social_desirability"),
                "Shift of the personas' scale means toward the desirable pole, in human sd units (positive: more "
                "desirable), per scale and their mean; no test",
            ),
            report_table(
                read_report("reply_problems"),
                "Questionnaire calls per model whose first reply failed, that stayed invalid after retries, failed, "
                "or were refusals, with shares; counts, no test",
            ),
        ],
        [
            Figure(
                report_path("response_styles", "png"),
                "Each response-style index per model × condition beside the reference people of the condition.",
            )
        ],
    )


def _agreement_section() -> Section:
    title = "Item-level agreement with the reference person"
    if not report_path("individual_fidelity", "parquet").exists():
        return Section(title, "", [report_table(read_report("agreement"), AGREEMENT_CAPTION)])
    return Section(
        title + "; individual fidelity",
        "Agreement per scale; then per questionnaire × model × condition the Pearson r across items between "
        "each persona's keyed answers (repetitions averaged) and its reference person's: mean (t 95% CI over "
        "personas), median, quartiles, share r > 0, against the baseline named in its column (random "
        "respondents of <condition>_random, or each persona against a random other person) and, with a "
        "<condition>_retest population, the humans' test-retest r (ceiling_r; normalised = mean r / ceiling_r).",
        [
            report_table(read_report("agreement"), AGREEMENT_CAPTION),
            report_table(
                read_report("individual_fidelity"),
                "Individual fidelity per questionnaire × model × condition: the Pearson r across items between each "
                "persona's keyed answers and its reference person's, mean with its t 95% CI over personas, median, "
                "quartiles, share r > 0; against a baseline (random respondents or a random other person) and, "
                "with a retest population, the humans' test-retest r (ceiling; normalised = mean r / ceiling r). "
                "No test, no correction",
            ),
        ],
        [
            Figure(
                report_path(FIDELITY_FIGURE, "png"),
                "Each persona's r with its reference person across items, per model × condition, a panel per "
                "questionnaire; the baseline ×, the ceiling |.",
            )
        ],
    )


def _distribution_section() -> Section:
    title = "Distribution distance: personas vs reference people"
    if not report_path("distribution_items", "parquet").exists():
        return Section(title, "distribution_report has not been materialised.")
    return Section(
        title,
        "Wasserstein distance (scipy) between the personas' and the humans' answer distributions of the same "
        "condition, each experiment one administration; similarity = 1 - W / range (the answer codes' range for "
        "an item, the scale score's possible range for a scale). Scales first, then items worst first.",
        [
            report_table(
                _scales_shown(read_report("distribution_scales")),
                "Wasserstein distance between the personas' and the reference people's scale score distributions of "
                "the same condition, per scale × model × condition; similarity = 1 - W / the score's possible range. "
                "No test, no correction",
            ),
            report_table(
                _items_shown(read_report("distribution_items")),
                "The same per item, worst (lowest similarity) first; range: the item's answer codes. No test, no "
                "correction",
            ),
        ],
    )


def _figure_scale(path: Path) -> str:
    """``robustness_scatter_bigfive_AGR.png`` as "Agreeableness (IPIP-50)"."""
    questionnaire, _, scale = path.stem.removeprefix(f"{ROBUSTNESS_FIGURES}_").rpartition("_")
    return scale_label(questionnaire, scale)


def _robustness_section() -> Section:
    if not report_path("robustness", "parquet").exists():
        return Section("Robustness to presentation", "robustness_report has not been materialised.")
    report = read_report("robustness")
    if report.is_empty():
        return Section("Robustness to presentation", NO_PRESENTATION_LEVELS + ".")
    return Section(
        "Robustness to presentation: item order, option order, wording",
        "Each persona under each non-base level against itself under the base level, on matched cells; "
        f"paired t and Wilcoxon, Holm across the table, ICC(3,1) and ICC(2,1). Verdict: {THRESHOLDS}. "
        "Every column in robustness.csv; each persona's scores in robustness_levels.csv.",
        [
            report_table(
                _robustness_shown(report),
                "Each persona under each non-base presentation level against itself under the base level, per "
                "scale × model × condition: mean shift, d_av, paired t with Holm's correction across the table, "
                f"ICC(3,1) and ICC(2,1) with 95% CIs. Verdict: {THRESHOLDS}",
            )
        ],
        [
            Figure(path, f"Each persona's {_figure_scale(path)} score under every level against the base level.")
            for path in sorted(settings.reports_dir().glob(f"{ROBUSTNESS_FIGURES}_*.png"))
        ],
    )


@dg.asset(
    group_name=GROUP,
    deps=[
        scale_score_report,
        reliability_report,
        validity_report,
        agreement_report,
        distribution_report,
        demographics_report,
        response_style_report,
        robustness_report,
    ],
    kinds={"html"},
)
def study_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """One self-contained HTML file of every report's table and figure, written per run
    (study_report_<first 8 characters of the run id>.html) and as study_report.html (the latest)."""
    scores, reliability = read_report("scale_scores"), read_report("reliability")
    sections = [
        Section(
            "Scale scores: personas vs reference people",
            "",
            [
                *_score_grids(scores),
                report_table(
                    scores,
                    "Scale scores of the personas of each model × condition against the reference people of the "
                    "same condition (one score per persona, repetitions averaged): means and sds, difference with "
                    "Welch's t and its 95% CI, Cohen's d (pooled sd) with its noncentral-t 95% CI, Holm's "
                    "correction across the table; mean |difference| per persona against its own reference person. "
                    "TOST of equivalence within ± the bound (pooled sds; in raw units beside it), Holm across the "
                    f"table; equivalence: {VERDICTS}. SD ratio: persona sd / reference sd with its F 95% CI "
                    "(assumes normal scores); p (spread): Brown-Forsythe test of equal spread, Holm after it",
                ),
            ],
            [
                Figure(
                    report_path("scale_score_distributions", "png"),
                    "Distributions of the scale scores, personas of each model × condition beside the reference "
                    "people of the condition.",
                ),
                Figure(
                    report_path("persona_vs_reference", "png"),
                    "Each persona's scale score against its reference person's, per scale.",
                ),
            ],
        ),
        Section(
            "Reliability: Cronbach's alpha, McDonald's omega total, Guttman's lambda6",
            "",
            [
                *_alpha_grids(reliability),
                report_table(
                    reliability,
                    "Reliability per scale × model × condition and of the reference people: Cronbach's α with its "
                    "bootstrap 95% CI, standardised α, McDonald's ω total (one-factor ML model) with its bootstrap "
                    "95% CI, Guttman's λ6; listwise deletion of respondents missing an item; undefined values are "
                    "n/a with a note. No test, no correction",
                ),
            ],
            [
                Figure(
                    report_path("alpha_forest", "png"),
                    "Cronbach's α with its bootstrap 95% CI per model × condition; the reference people's α dashed.",
                )
            ],
        ),
        Section(
            "Cross-questionnaire validity",
            "Same trait, two questionnaires.",
            [
                report_table(
                    read_report("validity"),
                    "The same trait measured by two questionnaires, per model × condition and for the reference "
                    "people: Pearson r with its Fisher-z 95% CI and p, Spearman ρ and p, each persona's repetitions "
                    "averaged; no correction",
                )
            ],
        ),
        _agreement_section(),
        _distribution_section(),
        Section(
            "Persona demographics",
            "z-tests against the base condition, Holm-corrected.",
            [
                report_table(
                    read_report("demographics").filter(pl.col("count") > 0),
                    "Share of each category of the personas' demographics per model × condition; two-proportion "
                    "z-test of each derived condition's share against its base condition's (same model), Holm's "
                    "correction across the table",
                )
            ]
            + (
                [
                    report_table(
                        read_report("demographics_vs_marginals"),
                        "The personas' demographics against the external marginals per model × condition × "
                        "attribute: total-variation distance and a χ² goodness-of-fit test; no correction",
                    )
                ]
                if report_path("demographics_vs_marginals", "parquet").exists()
                else []
            ),
            [Figure(report_path("demographics", "png"), "Share of each demographic category per model × condition.")],
        ),
        _response_style_section(),
        _robustness_section(),
    ]
    page = render_report("Persona study report", sections, f"Run {context.run.run_id}.")
    exports = export_tables(prepare(sections).tables, settings.reports_dir() / "paper")
    path = report_path(f"study_report_{context.run.run_id[:8]}", "html")
    path.write_text(page)
    latest = report_path("study_report", "html")
    latest.write_text(page)
    context.log.info(f"study report: {path}")
    return dg.MaterializeResult(
        metadata={
            "html": dg.MetadataValue.path(str(path)),
            "latest": dg.MetadataValue.path(str(latest)),
            "tables": len(exports) // 2,
            "exports": dg.MetadataValue.path(str(settings.reports_dir() / "paper")),
            "export_files": dg.MetadataValue.json([str(file) for file in exports]),
        }
    )


def _score_grids(scores: pl.DataFrame) -> list[Table]:
    """The original study's Table 4 layout, one grid per questionnaire."""
    return [
        Table(
            score_grid(scores, questionnaire),
            caption(
                f"{questionnaire_label(questionnaire)} scale scores, mean ± sd, per model × condition and of the "
                "human reference of each condition (the original study's Table 4 layout). Markers: Welch's t of "
                "the personas against the human reference of the same condition, Holm's correction across all "
                "scales, models and conditions (the long table below)",
                scores.filter(pl.col("questionnaire") == questionnaire),
                per_group=True,
            ),
            GRID_LEGEND,
        )
        for questionnaire in dict.fromkeys(scores["questionnaire"])
    ]


def _alpha_grids(reliability: pl.DataFrame) -> list[Table]:
    """The original study's Table 6 layout, one grid per questionnaire."""
    return [
        Table(
            alpha_grid(reliability, questionnaire),
            caption(
                f"{questionnaire_label(questionnaire)}: Cronbach's α per scale, per model × condition and of the "
                "human reference (the original study's Table 6 layout); n/a where α is undefined (the long table "
                "says why). No test",
                reliability.filter(pl.col("questionnaire") == questionnaire),
                per_group=True,
            ),
        )
        for questionnaire in dict.fromkeys(reliability["questionnaire"])
    ]
