"""Reference data: questionnaire definitions and reference populations."""

import dagster as dg
import polars as pl
from pydantic import Field

from personality_assets.defs.metadata import table_metadata, table_schema
from personality_assets.defs.partitions import partition_key, population_partitions
from personality_assets.defs.resources import ResearchDatabase
from personality_assets.populations.load import LoadOptions, load_population
from personality_assets.populations.readers import LONG_SCHEMA
from personality_assets.questionnaires import all_questionnaires
from personality_assets.questionnaires.store import store_questionnaires

QUESTIONNAIRE_COLUMNS = {
    "questionnaire": "questionnaire name",
    "items": "number of items",
    "answers": "range of the answer codes",
    "scales": "scales it scores",
    "scoring": "how a scale score is computed (mean or sum of the keyed answers)",
    "item texts": "whether the item texts are available to ask models",
}
SCALE_SCORE_COLUMNS = {
    "questionnaire": "questionnaire",
    "scale": "scale of the questionnaire",
    "respondents": "people with a score on the scale",
    "mean": "mean scale score",
    "sd": "sd of the scale score",
}


def _preview_columns(columns: list[str]) -> dict[str, str]:
    """personality_id, then one column per item (``<questionnaire>_q<number>``)."""
    return {
        column: "row number in the source file, or the id in a long CSV"
        if column == "personality_id"
        else "answer code to item " + column.replace("_q", " ", 1)
        for column in columns
    }


@dg.asset(group_name="reference", kinds={"sql"})
def questionnaires(context: dg.AssetExecutionContext, research_db: ResearchDatabase) -> dg.MaterializeResult:
    """Questionnaire definitions (items, scales, keys, answer codes) from the package's
    definition files and the user's questionnaires folder (``<data dir>/questionnaires`` or
    ``$PERSONALITY_ASSETS_QUESTIONNAIRES_DIR``), stored in both schemas. Items whose texts are not
    shipped (EPQR-A, the BFI-44 example) are stored without text until the user supplies them."""
    found = list(all_questionnaires().values())
    store_questionnaires(research_db.target, found)
    summary = pl.DataFrame(
        {
            "questionnaire": [q.name for q in found],
            "items": [q.item_count for q in found],
            "answers": [f"{q.min_answer}..{q.max_answer}" for q in found],
            "scales": [", ".join(q.scales) for q in found],
            "scoring": [q.scoring for q in found],
            "item texts": ["yes" if q.has_texts else f"MISSING: supply them at {q.texts_hint}" for q in found],
        }
    )
    for q in found:
        if not q.has_texts:
            context.log.warning(
                f"{q.name}: item texts are not shipped (copyright); the key is loaded, texts are missing. "
                f"Put them at {q.texts_hint} and re-materialise to ask models this questionnaire."
            )
    return dg.MaterializeResult(
        metadata={
            "questionnaires": table_metadata(summary, QUESTIONNAIRE_COLUMNS),
            "dagster/row_count": sum(q.item_count for q in found),
            "database": research_db.target.safe_url,
        }
    )


class PopulationLoadConfig(dg.Config):
    path: str | None = Field(
        default=None, description="population file; default: found from the partition key (see docs/assets.md)"
    )
    skip_bad_rows: bool = Field(default=False, description="exclude and count bad rows instead of failing")
    ipc_filter: bool = Field(default=False, description="Open Psychometrics: keep only rows with IPC == 1")
    require_complete: bool = Field(default=True, description="exclude people who did not answer every item")
    long_csv_questionnaire: str | None = Field(
        default=None,
        description="questionnaire of a long CSV that has no questionnaire column; default: recognised from the "
        "file (the one questionnaire whose question numbers and answer codes fit it, else the load is refused)",
    )
    chunk_rows: int = Field(default=50_000, description="rows of a wide file read per batch")


@dg.asset(
    group_name="reference",
    kinds={"sql", "polars"},
    partitions_def=population_partitions,
    deps=[questionnaires],
)
def reference_questionnaires(
    context: dg.AssetExecutionContext, config: PopulationLoadConfig, research_db: ResearchDatabase
) -> dg.MaterializeResult:
    """Answers of one reference population in long format, in the read-only reference schema.
    Re-materialising a partition replaces that population and nothing else; each load is one
    transaction, so a failed load leaves the previous version in place."""
    population = partition_key(context)
    options = LoadOptions(**config.model_dump())
    result = load_population(research_db.target, population, options, log=context.log.info)
    summary = result.scale_summary()
    preview = result.preview if result.preview is not None else pl.DataFrame(schema={"personality_id": pl.Int32})
    context.log.info(
        f"{population}: {result.respondents:,} respondents, {result.answers:,} answers; excluded: "
        f"{result.exclusions.total:,} rows, {result.exclusions.people:,} people"
    )
    return dg.MaterializeResult(
        metadata={
            "respondents": result.respondents,
            "dagster/row_count": result.answers,
            "excluded_rows": result.exclusions.total,
            "excluded_by_reason": dict(result.exclusions.by_reason),
            # People where a reason leaves whole people out (a long CSV's bad row is not a person).
            "excluded_people": result.exclusions.people,
            "excluded_people_by_reason": dict(result.exclusions.people_by_reason),
            # Every file row is loaded or excluded under a reason: loaded + excluded = file rows.
            **(
                {"file_rows": result.file_rows, "loaded_rows": result.loaded_rows}
                if result.file_rows is not None
                else {}
            ),
            "source": result.source,
            "source_format": result.source_format,
            "synthetic": result.synthetic,
            "derived_from": result.derived_from or "",
            "scale_scores": table_metadata(summary, SCALE_SCORE_COLUMNS),
            "preview": table_metadata(preview, _preview_columns(preview.columns)),
            "dagster/column_schema": table_schema(
                {"population": pl.String, **LONG_SCHEMA},
                {
                    "personality_id": "row number in the source file, or the id in a long CSV",
                    "answer": "answer code, within the questionnaire's range",
                },
            ),
            # One number per scale, so the UI can plot them across partitions.
            **{
                f"{row['questionnaire']}.{row['scale']}.{stat}": row[stat]
                for row in summary.iter_rows(named=True)
                for stat in ("mean", "sd")
                if row[stat] is not None
            },
        }
    )
