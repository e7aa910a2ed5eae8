"""Report assets: tables across every materialised model × population partition of the study."""

import dagster as dg
import polars as pl
from sqlalchemy import select

from personality_assets import settings
from personality_assets.db.engine import experiment_transaction
from personality_assets.db.models import QuestionnaireScore
from personality_assets.defs.metadata import markdown_table, table_schema
from personality_assets.defs.persona_study.assets import questionnaire_scores
from personality_assets.defs.persona_study.reference import reference_answers, reference_scores
from personality_assets.defs.reports.scale_scores import scale_score_table
from personality_assets.defs.resources import ResearchDatabase

GROUP = "reports"


def report_paths(name: str) -> tuple:
    folder = settings.data_dir() / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.parquet", folder / f"{name}.csv"


@dg.asset(group_name=GROUP, deps=[questionnaire_scores], kinds={"sql", "parquet", "csv"})
def scale_score_report(context: dg.AssetExecutionContext, research_db: ResearchDatabase) -> dg.MaterializeResult:
    """Persona vs human scale scores per questionnaire × scale × model × condition: mean ± sd and n,
    the difference with Welch's t, 95% CI, Cohen's d and Holm-corrected significance across the
    table (see personality_assets/defs/reports/scale_scores.py)."""
    target = research_db.target
    table = QuestionnaireScore.__table__
    with experiment_transaction(target) as connection:
        personas = pl.read_database(
            select(table.c.model, table.c.population, table.c.questionnaire, table.c.scale, table.c.score),
            connection,
            schema_overrides={"score": pl.Float64},
        )
    if personas.is_empty():
        raise dg.Failure("no questionnaire scores yet: materialise questionnaire_scores for some partition first")
    humans = pl.concat(
        reference_scores(reference_answers(target, population)).select(
            pl.lit(population).alias("population"), "questionnaire", "scale", pl.col("score").cast(pl.Float64)
        )
        for population in sorted(personas["population"].unique())
    )
    report = scale_score_table(personas, humans)
    parquet, csv = report_paths("scale_scores")
    report.write_parquet(parquet)
    report.write_csv(csv)
    shown = report.select(
        "questionnaire",
        "scale",
        "model",
        "condition",
        "n",
        pl.format("{} ± {}", pl.col("mean").round(2), pl.col("sd").round(2)).alias("mean ± sd"),
        pl.col("difference").round(3),
        pl.col("cohens_d").round(2),
        pl.col("p_holm").round(4),
        "significant",
    )
    models = report.filter(pl.col("model") != "human")
    context.log.info(f"{models.height} persona groups against their reference; written to {parquet} and {csv}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": report.height,
            "significant_after_holm": int(models.filter(pl.col("p_holm") < 0.05).height),
            "tests": int(models["p"].is_not_null().sum()),
            "table": markdown_table(shown),
            "parquet": dg.MetadataValue.path(str(parquet)),
            "csv": dg.MetadataValue.path(str(csv)),
            "dagster/column_schema": table_schema(dict(report.schema)),
            # One number per group, so the UI's Plots tab follows them across materialisations.
            **{
                f"difference/{row['model']}/{row['condition']}/{row['questionnaire']}.{row['scale']}": round(
                    row["difference"], 4
                )
                for row in models.iter_rows(named=True)
                if row["difference"] is not None
            },
        }
    )
