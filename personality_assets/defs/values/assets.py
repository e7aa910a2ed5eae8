"""The value-alignment track as assets partitioned by batch (a dynamic partition per batch):
value_personas -> journal_entries -> judge_labels. Files follow the published value-alignment contract under the
values store (a local folder or s3://..., see storage.py):

    registry/personas.parquet            the persona registry, every batch (stage flags updated)
    judge_labels/judge_labels.parquet    the training labels, every batch (consolidated)
    batches/<batch>/...                  the batch's own files: persona_details, journal_entries,
                                         generation_log (tone, verbosity, reflection: never downstream),
                                         judge_passes, judge_labels, consensus_labels (passes > 1)
"""

import os
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import dagster as dg
import polars as pl
from pydantic import Field

from personality_assets import settings
from personality_assets.defs.metadata import explorer_link, figure_entry, table_entries, table_metadata, table_schema
from personality_assets.defs.outputs import output_path
from personality_assets.defs.partitions import partition_key
from personality_assets.defs.resources import LLMEngineResource
from personality_assets.defs.steps import ModelKey, SpendCapConfig, check_specs, model_key_field, model_step
from personality_assets.defs.values import columns, plots
from personality_assets.defs.values.agreement import (
    AnnotationError,
    consensus_labels,
    human_agreement,
    read_human_annotations,
    self_consistency,
)
from personality_assets.defs.values.contract import (
    LABEL_FILE_SCHEMA,
    REGISTRY_SCHEMA,
    VALUE_COLUMNS,
    VALUE_NAMES,
    alignment_vector,
    schema_problems,
)
from personality_assets.defs.values.generation import (
    ENTRY_SCHEMA,
    Persona,
    judge_entries,
    registry_rows,
    write_journals,
    write_personas,
)
from personality_assets.defs.values.partitions import value_batch_partitions
from personality_assets.defs.values.pools import PersonaDraft, load_pools, pools_file, sample_personas
from personality_assets.defs.values.storage import values_store
from personality_assets.errors import NoRetryError
from personality_assets.store.parquet import ParquetStore

GROUP = "values"
REGISTRY = "registry/personas.parquet"
LABELS = "judge_labels/judge_labels.parquet"
CONSENSUS = "judge_labels/consensus_labels.parquet"

# What every step of a batch shares: its group, a partition per batch, parquet files.
BATCH_STEP = {"group_name": GROUP, "partitions_def": value_batch_partitions, "kinds": {"parquet"}}


DETAILS_SCHEMA = pl.Schema(
    {
        "persona_id": pl.String,
        "background": pl.String,
        "core_value_keys": pl.List(pl.String),
        "planned_entries": pl.Int64,
        "first_date": pl.Date,
        "seed": pl.Int64,
        "writer_model": pl.String,
    }
)


def batch_file(batch: str, name: str) -> str:
    return f"batches/{batch}/{name}.parquet"


class MissingUpstream(NoRetryError):
    """A file an upstream step writes is not there (yet)."""


class RegistryContractError(NoRetryError):
    """The registry lacks a contract column or has one of another type."""


def _checked_registry(store: ParquetStore, registry: pl.DataFrame) -> pl.DataFrame:
    """The registry, if the contract's columns are there with their types (columns the contract
    does not name are allowed and kept through every update)."""
    problems = schema_problems(registry, REGISTRY_SCHEMA, allow_extra=True)
    if problems:
        raise RegistryContractError(
            f"{store.uri(REGISTRY)} does not meet the registry contract: {'; '.join(problems)}. Fix the file"
            " (columns the contract does not name may stay) and run the batch again"
        )
    return registry


@contextmanager
def _undone_on_failure(store: ParquetStore, batch: str, names: list[str]):
    """Puts the batch's files ``names`` back as they were (or removes them) when the block fails:
    a failed step leaves none of its files behind."""
    earlier = {name: store.read(batch_file(batch, name)) for name in names}
    try:
        yield
    except BaseException:
        for name, frame in earlier.items():
            if frame is None:
                store.delete(batch_file(batch, name))
            else:
                store.write(batch_file(batch, name), frame)
        raise


def _read(store: ParquetStore, relpath: str, what: str) -> pl.DataFrame:
    frame = store.read(relpath)
    if frame is None:
        raise MissingUpstream(f"{store.uri(relpath)} does not exist: materialise {what} for this batch first")
    return frame


class PersonaIdClash(NoRetryError):
    """A sampled persona id belongs to another batch."""


def _add_personas(store: ParquetStore, batch: str, rows: pl.DataFrame) -> None:
    """Adds this batch's personas to the registry; on a re-run refreshes their attributes and keeps
    their creation time and stage flags. Refuses ids another batch's details list (checked inside
    the atomic update, after this batch's details are written, so of two batches started together
    with the same ids at least one is refused)."""
    attributes = ["persona_id", "name", "age", "profession", "culture", "core_values", "nudge_enabled"]
    ours = batch_file(batch, "persona_details")

    def change(current: pl.DataFrame | None) -> pl.DataFrame:
        others = [path for path in store.list("batches/") if path.endswith("/persona_details.parquet") and path != ours]
        taken = set().union(*(store.read(path)["persona_id"] for path in others))
        clash = sorted(set(rows["persona_id"]) & taken)
        if clash:
            raise PersonaIdClash(
                f"persona ids {clash} are already used by another batch: choose another seed for batch {batch!r}"
            )
        if current is None:
            return rows
        refreshed = _checked_registry(store, current).update(rows.select(attributes), on="persona_id")
        # diagonal: columns the contract does not name are null for the new personas
        new = rows.join(current.select("persona_id"), on="persona_id", how="anti")
        return pl.concat([refreshed, new], how="diagonal")

    store.update(REGISTRY, change)


def _update_registry(store: ParquetStore, updates: pl.DataFrame) -> None:
    """Sets the registry columns in ``updates`` (persona_id + columns; a null leaves the value as it
    was) in one atomic update, keeping every other persona's row as it is."""

    def change(current: pl.DataFrame | None) -> pl.DataFrame:
        if current is None:
            raise MissingUpstream("the persona registry does not exist: materialise value_personas first")
        return _checked_registry(store, current).update(
            updates.cast({c: REGISTRY_SCHEMA[c] for c in updates.columns}), on="persona_id"
        )

    store.update(REGISTRY, change)


class ValuePersonasConfig(SpendCapConfig):
    personas: int = Field(default=12, ge=1, description="personas in this batch")
    writer_model: ModelKey = model_key_field("model key (models.yaml) that names the personas")
    seed: int | None = Field(default=None, description="sampling seed; default: derived from the batch name")


@model_step(**BATCH_STEP)
def value_personas(
    context: dg.AssetExecutionContext, config: ValuePersonasConfig, llm: LLMEngineResource
) -> dg.MaterializeResult:
    """A batch of synthetic people: attributes sampled from the pools (age bracket, profession,
    culture, 1-2 core Schwartz values) with a recorded seed, named and given a background by the
    writer model; added to the registry (registry/personas.parquet, the published schema)."""
    batch = partition_key(context)
    seed = config.seed if config.seed is not None else zlib.crc32(batch.encode())
    pools = load_pools()
    store = values_store()
    drafts = sample_personas(pools, config.personas, seed)
    personas, summary, failures = write_personas(llm.engine(context, config.max_cost_usd), config.writer_model, drafts)
    if not personas:
        reasons = "; ".join(list(failures.values())[:3])
        raise dg.Failure(f"the writer model named none of the {len(drafts)} personas: {reasons}", allow_retries=False)
    rows = registry_rows(personas, nudge_enabled=pools.nudges.enabled)
    details = pl.DataFrame(
        [
            {
                "persona_id": p.draft.persona_id,
                "background": p.background,
                "core_value_keys": list(p.draft.core_values),
                "planned_entries": p.draft.entry_count,
                "first_date": p.draft.first_date,
                "seed": seed,
                "writer_model": config.writer_model,
            }
            for p in personas
        ],
        schema=DETAILS_SCHEMA,
    )
    # Undone on any failure: no trace that would block another batch or look like a batch.
    with _undone_on_failure(store, batch, ["persona_details"]):
        store.write(batch_file(batch, "persona_details"), details)
        _add_personas(store, batch, rows)
    if failures:
        context.log.warning(f"{len(failures)} personas not written: {list(failures.items())[:3]}")
    by_attribute = pl.concat(
        rows.group_by(column).len().rename({column: "category"}).with_columns(pl.lit(column).alias("attribute"))
        for column in ("age", "profession", "culture")
    ).select("attribute", "category", "len")
    core = rows.select(pl.col("core_values").explode()).group_by("core_values").len().sort("len", descending=True)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows.height,
            "seed": seed,
            "pools": dg.MetadataValue.path(str(pools_file())),
            "registry": dg.MetadataValue.path(store.uri(REGISTRY)),
            **table_entries(
                "personas_by_attribute",
                by_attribute.sort("attribute", "len", descending=[False, True]),
                columns.PERSONAS_BY_ATTRIBUTE,
            ),
            "core_values": table_metadata(core, columns.CORE_VALUES),
            "failed": len(failures),
            "dagster/column_schema": table_schema(dict(REGISTRY_SCHEMA)),
            **summary.metadata(),
        }
    )


class JournalConfig(SpendCapConfig):
    writer_model: ModelKey = model_key_field("model key that writes the entries and nudges")
    nudges: bool | None = Field(default=None, description="follow-up questions after entries; default: the pools'")


def _personas_of(store: ParquetStore, batch: str) -> tuple[list[Persona], int]:
    """The batch's personas as the writer named them, and the batch's seed."""
    details = _read(store, batch_file(batch, "persona_details"), "value_personas")
    registry = _read(store, REGISTRY, "value_personas").select("persona_id", "name", "age", "profession", "culture")
    joined = details.join(registry, on="persona_id").sort("persona_id")
    return [
        Persona(
            PersonaDraft(
                persona_id=row["persona_id"],
                age=row["age"],
                profession=row["profession"],
                culture=row["culture"],
                core_values=tuple(row["core_value_keys"]),
                entry_count=row["planned_entries"],
                first_date=row["first_date"],
            ),
            row["name"],
            row["background"],
        )
        for row in joined.iter_rows(named=True)
    ], int(details["seed"][0])


@model_step(retry_policy=None, deps=[value_personas], **BATCH_STEP)
def journal_entries(
    context: dg.AssetExecutionContext, config: JournalConfig, llm: LLMEngineResource
) -> dg.MaterializeResult:
    """Each persona's dated journal, entry by entry (each entry sees the earlier ones; dates advance
    by the pools' gaps; tone, length and reflection sampled per entry), with optional follow-up
    questions and answers. Writes the batch's journal_entries (what downstream sees) and its
    generation_log (the style knobs, for analysis only); sets entry_count, stage_synthetic and
    stage_wrangled in the registry."""
    batch = partition_key(context)
    store = values_store()
    pools = load_pools()
    personas, seed = _personas_of(store, batch)
    nudges = pools.nudges.enabled if config.nudges is None else config.nudges
    entries, log, summary, failures = write_journals(
        llm.engine(context, config.max_cost_usd), config.writer_model, personas, pools, seed, nudges, context.log.info
    )
    counts = entries.group_by("persona_id").len()
    written = dict(counts.iter_rows())
    complete = [
        p.draft.persona_id for p in personas if p.draft.persona_id not in failures and p.draft.persona_id in written
    ]
    # Every persona of the batch: a re-run that now stops early clears the flags it set before.
    batch_ids = [p.draft.persona_id for p in personas]
    finished = pl.col("persona_id").is_in(complete)
    updates = pl.DataFrame({"persona_id": batch_ids, "entry_count": [written.get(i, 0) for i in batch_ids]})
    updates = updates.with_columns(
        finished.alias("stage_synthetic"),
        finished.alias("stage_wrangled"),
        pl.lit(nudges).alias("nudge_enabled"),  # as generated, whatever the pools said before
    )
    with _undone_on_failure(store, batch, ["journal_entries", "generation_log"]):
        store.write(batch_file(batch, "journal_entries"), entries)
        store.write(batch_file(batch, "generation_log"), log)
        _update_registry(store, updates)
    if failures:
        context.log.warning(f"{len(failures)} journals stopped early: {list(failures.items())[:3]}")
    words = entries.select(pl.col("entry").str.split(" ").list.len().alias("words"))["words"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": entries.height,
            "personas": counts.height,
            "entries_per_persona": table_metadata(
                counts.group_by("len").len(name="personas").sort("len"), columns.ENTRIES_PER_PERSONA
            ),
            "words_mean": round(float(words.mean() or 0), 1),
            "nudged_share": round(float(entries["nudge_question"].is_not_null().mean() or 0), 3),
            "answered_share": round(float(entries["nudge_answer"].is_not_null().mean() or 0), 3),
            "stopped_early": len(failures),
            "entries": dg.MetadataValue.path(store.uri(batch_file(batch, "journal_entries"))),
            "generation_log": dg.MetadataValue.path(store.uri(batch_file(batch, "generation_log"))),
            "dagster/column_schema": table_schema(dict(ENTRY_SCHEMA)),
            **summary.metadata(),
        }
    )


class JudgeConfig(SpendCapConfig):
    judge_model: ModelKey = model_key_field("model key of the judge (may differ from the writer)")
    passes: int = Field(default=1, ge=1, description="judge every entry this many times (consensus when > 1)")
    consensus_ties: Literal["zero", "signed"] = Field(
        default="zero",
        description="a consensus tie between 0 and one signed label goes to 0 ('zero') or to that label ('signed',"
        " as the published consensus file); a -1/+1 tie always goes to 0",
    )


JUDGE_CHECKS = check_specs(
    "judge_labels",
    {
        "matches_contract": "judge_labels.parquet has exactly the published columns and types (+ rationales_json)",
        "labels_in_domain": "every label is -1, 0 or +1",
        "vector_matches_columns": "alignment_vector equals the ten alignment_<value> columns, in order",
        "every_entry_labelled": "every entry of every labelled persona has a label",
        "unique_entries": "no (persona_id, t_index) twice in the consolidated file",
    },
)


def label_file(passes: pl.DataFrame, entries: pl.DataFrame) -> pl.DataFrame:
    """The contract's label rows (each entry's earliest successful pass), dated from the entries."""
    # The earliest pass that succeeded (a failed first pass does not leave the entry unlabelled).
    first = passes.sort("pass").group_by("persona_id", "t_index", maintain_order=True).first().drop("pass")
    return (
        first.join(entries.select("persona_id", "t_index", "date"), on=["persona_id", "t_index"])
        .with_columns(alignment_vector())
        .select(list(LABEL_FILE_SCHEMA))
        .cast(LABEL_FILE_SCHEMA)
        .sort("persona_id", "t_index")
    )


@model_step(retry_policy=None, deps=[journal_entries], check_specs=JUDGE_CHECKS, **BATCH_STEP)
def judge_labels(
    context: dg.AssetExecutionContext, config: JudgeConfig, llm: LLMEngineResource
) -> dg.MaterializeResult:
    """The judge scores every session (entry + follow-up) -1/0/+1 for each Schwartz value with a
    rationale for every non-zero score (strict JSON; invalid replies retried with the error fed
    back, then recorded as failed). Writes the batch's judge_labels (the published columns +
    rationales_json) and rebuilds the consolidated judge_labels/judge_labels.parquet from every
    batch; sets stage_labeled in the registry."""
    batch = partition_key(context)
    store = values_store()
    pools = load_pools()
    entries = _read(store, batch_file(batch, "journal_entries"), "journal_entries")
    passes, summary, failures = judge_entries(
        llm.engine(context, config.max_cost_usd), config.judge_model, pools, entries, config.passes
    )
    labels = label_file(passes, entries)
    labelled = (
        labels.group_by("persona_id")
        .len()
        .join(entries.group_by("persona_id").len(), on="persona_id", suffix="_entries")
    )
    complete = labelled.filter(pl.col("len") == pl.col("len_entries"))["persona_id"].to_list()
    # Every persona of the batch: a re-run that now misses an entry clears the flag it set before.
    updates = (
        entries.select("persona_id").unique().with_columns(pl.col("persona_id").is_in(complete).alias("stage_labeled"))
    )
    consensus = None
    if config.passes > 1:
        dated = passes.join(entries.select("persona_id", "t_index", "date"), on=["persona_id", "t_index"])
        consensus = consensus_labels(dated, ties=config.consensus_ties)
        _check_consensus_files(store, batch, consensus.schema)
    with _undone_on_failure(store, batch, ["judge_passes", "judge_labels", "consensus_labels"]):
        store.write(batch_file(batch, "judge_passes"), passes)
        store.write(batch_file(batch, "judge_labels"), labels)
        if consensus is not None:
            store.write(batch_file(batch, "consensus_labels"), consensus)
        _update_registry(store, updates)
    # Rebuilt under the store's update (lock / conditional PUT): a concurrent batch's rebuild from
    # an older list of batch files never replaces this one.
    store.update_lazy(LABELS, lambda _: store.scan("batches/*/judge_labels.parquet"))
    if failures:
        context.log.warning(f"{len(failures)} entries not labelled: {list(failures.items())[:3]}")

    consistency = None
    if consensus is not None:
        store.update_lazy(CONSENSUS, lambda _: store.scan("batches/*/consensus_labels.parquet"))
        consistency = self_consistency(passes.drop("rationales_json"))
    consolidated = store.read(LABELS)
    registry = store.read(REGISTRY)
    distribution = label_distribution(labels)
    figure = plots.label_distribution(distribution, figure_path(batch, "label_distribution"))
    metadata = {
        "dagster/row_count": labels.height,
        "consolidated_rows": consolidated.height,
        "not_labelled": len(failures),
        "labels": dg.MetadataValue.path(store.uri(batch_file(batch, "judge_labels"))),
        "explorer": explorer_link("/values", batch=batch),
        "consolidated": dg.MetadataValue.path(store.uri(LABELS)),
        "label_distribution": table_metadata(distribution, columns.LABEL_DISTRIBUTION),
        **figure_entry("label_distribution_plot", figure, "Share of -1 / 0 / +1 per value"),
        "entries_with_3_or_more_signals": int(signal_counts(labels).filter(pl.col("signals") >= 3).height),
        "core_values_expressed": table_metadata(core_value_expression(labels, registry), columns.CORE_VALUE_EXPRESSION),
        "sample": table_metadata(label_sample(labels, entries), columns.LABEL_SAMPLE),
        "dagster/column_schema": table_schema(dict(LABEL_FILE_SCHEMA)),
        **summary.metadata(),
    }
    if consistency is not None:
        metadata |= {
            "passes": config.passes,
            "consensus_ties": config.consensus_ties,
            "consensus": dg.MetadataValue.path(store.uri(batch_file(batch, "consensus_labels"))),
            "self_consistency": table_metadata(consistency, columns.SELF_CONSISTENCY),
            **_min_alpha("judge_krippendorff_alpha_ordinal", consistency),
            **_lowest("min_fleiss_kappa", consistency["fleiss_kappa"]),
        }
    return dg.MaterializeResult(metadata=metadata, check_results=label_checks(labels, entries, consolidated))


def _check_consensus_files(store: ParquetStore, batch: str, schema: pl.Schema) -> None:
    """Other batches' consensus files must have this batch's columns, or the consolidated file
    cannot be rebuilt: names the ones that differ (written before the published format) first."""
    ours = batch_file(batch, "consensus_labels")
    others = [p for p in store.list("batches/") if p.endswith("/consensus_labels.parquet") and p != ours]
    stale = [path for path in others if store.scan(path).collect_schema() != schema]
    if stale:
        batches = ", ".join(path.split("/")[1] for path in stale)
        raise MissingUpstream(
            f"{', '.join(store.uri(path) for path in stale)}: consensus labels in another format than this batch's;"
            f" materialise judge_labels again for batch(es) {batches} (their judge calls are cached) and then this one"
        )


def _min_alpha(name: str, table: pl.DataFrame) -> dict[str, float]:
    """The headline: the lowest ordinal Krippendorff's α over the values (none when every α is undefined)."""
    lowest = table["krippendorff_alpha_ordinal"].min()
    return {} if lowest is None else {name: round(float(lowest), 4)}


def _lowest(name: str, values: pl.Series) -> dict[str, float]:
    """``{name: the least value}`` (rounded), or nothing when every value is undefined."""
    lowest = values.fill_nan(None).min()
    return {} if lowest is None else {name: round(float(lowest), 4)}


def annotations_dir() -> Path:
    """Where a user drops human annotations: $PERSONALITY_ASSETS_VALUES_ANNOTATIONS or <data dir>/values_annotations."""
    return Path(os.environ.get("PERSONALITY_ASSETS_VALUES_ANNOTATIONS") or settings.data_dir() / "values_annotations")


@dg.asset(group_name=GROUP, deps=[judge_labels], kinds={"parquet"})
def judge_human_agreement(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """The judge against human annotators: Cohen's kappa per value and annotator (and their mean),
    Fleiss' kappa among the humans, over the entries they labelled, each with Krippendorff's alpha
    (nominal and ordinal). Annotations are CSV files
    (persona_id, t_index, annotator and the ten values) in <data dir>/values_annotations or
    $PERSONALITY_ASSETS_VALUES_ANNOTATIONS; none there, nothing to compare.

    Materialise it yourself once people have labelled entries: it needs human labels, which no
    model can supply and the sample does not have, so `make run` leaves it unmaterialised. It is
    not in the value_alignment job either: that job is one batch, this compares the judge's labels
    of every batch."""
    folder = annotations_dir()
    try:
        humans = read_human_annotations(folder)
    except (AnnotationError, OSError) as exc:  # a bad file, or a path that is not a folder
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    store = values_store()
    judge = store.read(LABELS)
    if humans.is_empty() or judge is None:
        if humans.is_empty():
            why = (
                f"no human annotations in {folder}; add CSV files of human labels (persona_id, t_index, "
                "annotator, the ten values) there and materialise again"
            )
        else:
            why = "no judge labels yet; run the value_alignment job for a batch first"
        context.log.info(f"nothing to compare: {why}")
        metadata = {"annotations": dg.MetadataValue.path(str(folder)), "entries": 0, "compared": f"nothing: {why}"}
        return dg.MaterializeResult(metadata=metadata)
    cohen, fleiss = human_agreement(judge, humans)
    store.write("judge_labels/human_agreement_cohen.parquet", cohen)
    store.write("judge_labels/human_agreement_fleiss.parquet", fleiss)
    mean = cohen.filter(pl.col("annotator").is_null())
    return dg.MaterializeResult(
        metadata={
            "annotations": dg.MetadataValue.path(str(folder)),
            "entries": humans.select("persona_id", "t_index").unique().height,
            "annotators": humans["annotator"].n_unique(),
            **table_entries("cohen_kappa_judge_vs_humans", cohen, columns.COHEN),
            "fleiss_kappa_among_humans": table_metadata(fleiss, columns.FLEISS),
            **_min_alpha("judge_vs_humans_krippendorff_alpha_ordinal", mean),
            **_min_alpha("humans_krippendorff_alpha_ordinal", fleiss),
            # The value the judge agrees least on with the humans (mean over annotators).
            **_lowest("min_cohens_kappa", mean["cohens_kappa"]),
        }
    )


def figure_path(batch: str, name: str):
    """Figures go beside the data dir's reports (PNG needs a local file for the UI's metadata)."""
    return output_path(settings.reports_dir(), "values", batch, f"{name}.png")


def label_distribution(labels: pl.DataFrame) -> pl.DataFrame:
    """Per value: the share of -1, 0 and +1 (and n)."""
    long = labels.unpivot(on=VALUE_COLUMNS, index=["persona_id", "t_index"], variable_name="column", value_name="label")
    return (
        long.group_by("column")
        .agg(
            pl.len().alias("n"),
            *((pl.col("label") == v).mean().round(3).alias(name) for v, name in ((-1, "-1"), (0, "0"), (1, "+1"))),
        )
        .with_columns(pl.col("column").str.strip_prefix("alignment_").replace_strict(VALUE_NAMES).alias("value"))
        .select("value", "n", "-1", "0", "+1")
        .sort("+1", descending=True)
    )


def signal_counts(labels: pl.DataFrame) -> pl.DataFrame:
    return labels.with_columns(
        pl.sum_horizontal([(pl.col(c) != 0).cast(pl.Int64) for c in VALUE_COLUMNS]).alias("signals")
    )


def core_value_expression(labels: pl.DataFrame, registry: pl.DataFrame) -> pl.DataFrame:
    """Per declared core value: how many entries of personas declaring it score it +1, -1."""
    by_name = {name: f"alignment_{key}" for key, name in VALUE_NAMES.items()}
    declared = registry.select("persona_id", pl.col("core_values").alias("value")).explode("value")
    rows = []
    for (value,), group in declared.group_by("value"):
        column = by_name[value]
        theirs = labels.join(group.select("persona_id"), on="persona_id")
        others = labels.join(group.select("persona_id"), on="persona_id", how="anti")
        rows.append(
            {
                "core value": value,
                "entries": theirs.height,
                "expressed (+1)": round(float((theirs[column] == 1).mean() or 0), 3),
                "contradicted (-1)": round(float((theirs[column] == -1).mean() or 0), 3),
                "+1 among other personas": round(float((others[column] == 1).mean() or 0), 3)
                if others.height
                else None,
            }
        )
    return pl.DataFrame(rows).sort("core value") if rows else pl.DataFrame()


def label_sample(labels: pl.DataFrame, entries: pl.DataFrame, size: int = 5) -> pl.DataFrame:
    sample = labels.sample(min(size, labels.height), seed=0) if labels.height else labels
    return sample.join(entries.select("persona_id", "t_index", "session"), on=["persona_id", "t_index"]).select(
        "persona_id",
        "t_index",
        pl.col("session").str.slice(0, 240).alias("session (start)"),
        pl.col("alignment_vector").cast(pl.List(pl.String)).list.join(" ").alias("labels"),
        pl.col("rationales_json").str.slice(0, 240).alias("rationales"),
    )


def label_checks(labels: pl.DataFrame, entries: pl.DataFrame, consolidated: pl.DataFrame) -> list[dg.AssetCheckResult]:
    problems = schema_problems(consolidated, LABEL_FILE_SCHEMA) + [
        f"batch file: {p}" for p in schema_problems(labels, LABEL_FILE_SCHEMA)
    ]
    out_of_domain = labels.filter(pl.any_horizontal([~pl.col(c).is_in([-1, 0, 1]) for c in VALUE_COLUMNS])).height
    mismatched = labels.filter(pl.col("alignment_vector") != pl.concat_list(VALUE_COLUMNS)).height
    labelled_personas = labels.select("persona_id").unique()
    expected = entries.join(labelled_personas, on="persona_id").select("persona_id", "t_index")
    missing = expected.join(labels.select("persona_id", "t_index"), on=["persona_id", "t_index"], how="anti")
    duplicates = consolidated.select("persona_id", "t_index").is_duplicated().sum()
    return [
        dg.AssetCheckResult(
            check_name="matches_contract", passed=not problems, metadata={"problems": "; ".join(problems) or "none"}
        ),
        dg.AssetCheckResult(check_name="labels_in_domain", passed=out_of_domain == 0, metadata={"rows": out_of_domain}),
        dg.AssetCheckResult(check_name="vector_matches_columns", passed=mismatched == 0, metadata={"rows": mismatched}),
        dg.AssetCheckResult(
            check_name="every_entry_labelled",
            passed=missing.is_empty(),
            metadata={"missing": missing.height, "first": str(missing.head(3).rows())},
        ),
        dg.AssetCheckResult(
            check_name="unique_entries", passed=duplicates == 0, metadata={"duplicates": int(duplicates)}
        ),
    ]
