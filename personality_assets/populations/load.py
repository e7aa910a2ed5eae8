"""Load one reference population (a partition) into the reference schema, in one transaction.

Which source a population key means:
1. an explicit ``path`` (the drop-folder sensor passes one);
2. ``sample``: the synthetic sample shipped with the package;
3. ``<base>_max<SCALE>`` (e.g. ``sample_maxN``): a copy of population ``<base>`` with every item of
   scale SCALE set to its keyed extreme, as the MaxN/MaxP conditions of the original study;
4. ``<base>_random``: the original study's random-respondent baseline, each item drawn
   independently from its answers in ``<base>`` (seeded by the name, so reproducible);
5. a file in the drop folder whose name (without extension) is the key.
Re-loading a population replaces its rows and touches nothing else.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import delete, select, update

from personality_assets import settings
from personality_assets.db.engine import DatabaseTarget, experiment_transaction, reference_transaction
from personality_assets.db.tables.reference import (
    ReferenceExclusion,
    ReferenceIncompleteAnswer,
    ReferencePopulation,
    ReferenceQuestionnaire,
)
from personality_assets.populations.drop_folder import scan_drop_folder
from personality_assets.populations.names import check_population_name
from personality_assets.populations.readers import (
    Exclusions,
    PopulationFileError,
    detect_format,
    read_long_csv,
    read_open_psychometrics,
)
from personality_assets.populations.sample import SAMPLE_POPULATION, SAMPLE_SEED, SAMPLE_SIZE, sample_answers
from personality_assets.questionnaires import all_questionnaires, get_questionnaire, score

DERIVED_KEY = re.compile(r"^(?P<base>.+)_max(?P<scale>[A-Za-z]+)$")
RANDOM_KEY = re.compile(r"^(?P<base>.+)_random$")
FILE_FORMATS = ("open_psychometrics", "long_csv")
ANSWER_COLUMNS = ["population", "personality_id", "questionnaire", "question_number", "answer"]


@dataclass(frozen=True)
class LoadOptions:
    path: str | None = None
    skip_bad_rows: bool = False
    ipc_filter: bool = False
    require_complete: bool = True
    long_csv_questionnaire: str | None = None  # None: recognised from the file
    chunk_rows: int = 50_000


@dataclass
class LoadResult:
    population: str
    source: str
    source_format: str
    synthetic: bool
    derived_from: str | None
    respondents: int = 0
    answers: int = 0
    exclusions: Exclusions = field(default_factory=Exclusions)
    person_scores: pl.DataFrame | None = None  # personality_id, questionnaire, scale, score
    preview: pl.DataFrame | None = None

    @property
    def file_rows(self) -> int | None:
        """Data rows of the source file (None for the sample and derived populations)."""
        return self.exclusions.file_rows if self.source_format in FILE_FORMATS else None

    @property
    def loaded_rows(self) -> int:
        """File rows that were loaded: a person per row in the wide layout, an answer per row in a long CSV."""
        return self.answers if self.source_format == "long_csv" else self.respondents

    def scale_summary(self) -> pl.DataFrame:
        """Mean and sd of each scale score across respondents."""
        return (
            self.person_scores.group_by("questionnaire", "scale")
            .agg(
                pl.len().alias("respondents"),
                pl.col("score").mean().round(3).alias("mean"),
                pl.col("score").std().round(3).alias("sd"),
            )
            .sort("questionnaire", "scale")
        )


def find_dropped_file(population: str) -> Path | None:
    """The drop folder's file for ``population``, under the sensor's rules (the same scan): never a
    link out of the folder, never one of two files whose names map to the population."""
    drop = settings.drop_dir()
    if not drop.is_dir():
        return None
    scan = scan_drop_folder(drop, seen={}, loaded_from={})
    if population in scan.refused:
        raise PopulationFileError(scan.refused[population])
    return dict(scan.new).get(population)


def load_population(
    target: DatabaseTarget, population: str, options: LoadOptions = LoadOptions(), log: Callable[[str], None] = print
) -> LoadResult:
    check_population_name(population)
    path = Path(options.path) if options.path else None
    derived = DERIVED_KEY.match(population)
    random_of = RANDOM_KEY.match(population)
    if path is None and population == SAMPLE_POPULATION:
        result = LoadResult(
            population, f"synthetic sample (seed {SAMPLE_SEED}, {SAMPLE_SIZE} people)", "sample", True, None
        )
        batches: Iterable[pl.DataFrame] = [sample_answers(list(all_questionnaires().values()))]
    elif path is None and random_of:
        base = random_of["base"]
        base_row = _loaded_base(target, population, base)
        seed = _seed_for(population)
        result = LoadResult(
            population,
            f"derived from {base}: random baseline, each item drawn from its answers in {base} (seed {seed})",
            "derived",
            base_row.synthetic,
            base,
        )
        batches = [_randomised(_read_population(target, base), seed)]
    elif path is None and derived:
        base, scale = derived["base"], derived["scale"]
        base_row = _loaded_base(target, population, base)
        result = LoadResult(
            population,
            f"derived from {base}: {scale} at its extreme in every questionnaire",
            "derived",
            base_row.synthetic,
            base,
        )
        batches = [_maximised(_read_population(target, base), scale)]
    else:
        path = path or find_dropped_file(population)
        if path is None:
            raise PopulationFileError(
                f"population {population!r}: no source. Use 'sample', '<population>_max<SCALE>', '<population>_random', "
                f"or put a file "
                f"named {population}.csv/.tsv in {settings.drop_dir()} (or pass path in the run config)"
            )
        if not path.exists():
            raise PopulationFileError(f"{path}: file not found")
        source_format = detect_format(path)
        result = LoadResult(population, str(path), source_format, False, None)
        if source_format == "open_psychometrics":
            batches = read_open_psychometrics(
                path,
                questionnaire=get_questionnaire("bigfive"),
                exclusions=result.exclusions,
                skip_bad_rows=options.skip_bad_rows,
                ipc_filter=options.ipc_filter,
                require_complete=options.require_complete,
                chunk_rows=options.chunk_rows,
            )
        else:
            batches = read_long_csv(
                path,
                default_questionnaire=options.long_csv_questionnaire,
                exclusions=result.exclusions,
                skip_bad_rows=options.skip_bad_rows,
                require_complete=options.require_complete,
                log=log,
            )
    _store(target, result, batches, log)
    return result


def _loaded_base(target: DatabaseTarget, population: str, base: str):
    base_row = _population_row(target, base)
    if base_row is None:
        raise PopulationFileError(
            f"population {population!r} is derived from {base!r}, which is not loaded: materialise {base!r} first"
        )
    return base_row


def _seed_for(population: str) -> int:
    """A seed that depends on the population's name only, so a reload draws the same answers."""
    return int(hashlib.sha256(population.encode()).hexdigest()[:8], 16)


def _randomised(answers: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The original study's random respondents: each person's answer to each item drawn
    independently from that item's answers in the base population (its empirical distribution),
    so item distributions stay and everything that ties a person's answers together goes."""
    rng = np.random.default_rng(seed)
    ordered = answers.sort("questionnaire", "question_number", "personality_id")
    drawn = []
    for _, item in ordered.group_by("questionnaire", "question_number", maintain_order=True):
        values = item["answer"].to_numpy()
        drawn.append(item.with_columns(pl.Series("answer", rng.choice(values, size=len(values)), dtype=pl.Int16)))
    return pl.concat(drawn) if drawn else ordered


def _population_row(target: DatabaseTarget, population: str):
    with experiment_transaction(target) as connection:
        return connection.execute(
            select(ReferencePopulation).where(ReferencePopulation.population == population)
        ).first()


def _read_population(target: DatabaseTarget, population: str) -> pl.DataFrame:
    table = ReferenceQuestionnaire.__table__
    query = select(table.c.personality_id, table.c.questionnaire, table.c.question_number, table.c.answer).where(
        table.c.population == population
    )
    with experiment_transaction(target) as connection:
        return pl.read_database(
            query,
            connection,
            schema_overrides={"answer": pl.Int16, "personality_id": pl.Int32, "question_number": pl.Int32},
        )


# Constructs measured by both questionnaires: maximising one sets its items in each of them
# (Big Five Emotional Stability is the reverse of neuroticism), so a MaxN population is
# maximally neurotic whichever questionnaire a persona is shown or answers.
SHARED_CONSTRUCTS = {
    "N": [("epqr_a", "N", True), ("bigfive", "EST", False)],
    "E": [("epqr_a", "E", True), ("bigfive", "EXT", True)],
}


def _maximised(answers: pl.DataFrame, scale: str) -> pl.DataFrame:
    """Set every item of ``scale`` to its keyed extreme, in every questionnaire that measures it
    (a scale of that name, or the shared constructs above)."""
    targets = SHARED_CONSTRUCTS.get(scale) or [(name, scale, True) for name in all_questionnaires()]
    extremes = []
    for name, scale_code, high in targets:
        questionnaire = all_questionnaires().get(name)
        if questionnaire is None:
            continue
        items = questionnaire.items.filter(pl.col("scale") == scale_code)
        extremes += [
            (questionnaire.name, number, questionnaire.extreme_answer(key, high=high))
            for number, key in zip(items["number"], items["key"], strict=True)
        ]
    if not extremes:
        known = sorted({s for q in all_questionnaires().values() for s in q.scales})
        raise PopulationFileError(f"derived population: no questionnaire has a scale {scale!r}; scales: {known}")
    extreme = pl.DataFrame(
        extremes, schema={"questionnaire": pl.String, "question_number": pl.Int32, "extreme": pl.Int16}, orient="row"
    )
    return (
        answers.join(extreme, on=["questionnaire", "question_number"], how="left")
        .with_columns(pl.coalesce("extreme", "answer").alias("answer"))
        .drop("extreme")
    )


POPULATION_TABLES = (ReferenceQuestionnaire, ReferenceIncompleteAnswer, ReferenceExclusion, ReferencePopulation)


def delete_population(connection, population: str) -> int:
    """Delete a population's rows from every reference table; returns its answers deleted."""
    deleted = 0
    for model in POPULATION_TABLES:
        rows = connection.execute(delete(model).where(model.population == population)).rowcount
        deleted += rows if model is ReferenceQuestionnaire else 0
    return deleted


def load_exclusions(target: DatabaseTarget) -> pl.DataFrame:
    """population, reason, file_rows, people (null where the reason does not leave whole people out)."""
    table = ReferenceExclusion.__table__
    with experiment_transaction(target) as connection:
        rows = connection.execute(
            select(table.c.population, table.c.reason, table.c.file_rows, table.c.people).order_by(
                table.c.population, table.c.reason
            )
        ).all()
    schema = {"population": pl.String, "reason": pl.String, "file_rows": pl.Int64, "people": pl.Int64}
    return pl.DataFrame([tuple(row) for row in rows], schema=schema, orient="row")


def _store(target: DatabaseTarget, result: LoadResult, batches: Iterable[pl.DataFrame], log) -> None:
    """Replace the population's rows in one transaction, streaming the batches. Answers marked
    ``incomplete`` go to reference_incomplete_answers, the others make the population."""
    scores = []
    with reference_transaction(target) as connection:
        delete_population(connection, result.population)
        connection.execute(
            ReferencePopulation.__table__.insert().values(
                population=result.population,
                source=result.source,
                source_format=result.source_format,
                synthetic=result.synthetic,
                derived_from=result.derived_from,
                respondents=0,
                answers=0,
                excluded_rows=0,
            )
        )
        writer = _copy_writer if target.dialect == "postgresql" else _insert_writer
        write = writer(target, connection, ReferenceQuestionnaire)
        write_incomplete = writer(target, connection, ReferenceIncompleteAnswer)
        for batch in _non_empty(batches):
            batch = batch.with_columns(pl.lit(result.population).alias("population"))
            if "incomplete" in batch.columns:
                incomplete = batch.filter(pl.col("incomplete")).select(ANSWER_COLUMNS)
                if incomplete.height:
                    write_incomplete(incomplete)
                batch = batch.filter(~pl.col("incomplete"))
                if batch.is_empty():
                    continue
            batch = batch.select(ANSWER_COLUMNS)
            write(batch)
            result.answers += batch.height
            if result.preview is None:
                result.preview = _preview(batch)
            for (name,), group in batch.group_by("questionnaire"):
                scores.append(
                    score(group, get_questionnaire(name), by=["personality_id"]).select(
                        "personality_id", pl.lit(name).alias("questionnaire"), "scale", "score"
                    )
                )
            log(f"{result.population}: {result.answers:,} answers written")
        result.person_scores = (
            pl.concat(scores)
            if scores
            else pl.DataFrame(
                schema={"personality_id": pl.Int32, "questionnaire": pl.String, "scale": pl.String, "score": pl.Float64}
            )
        )
        result.respondents = result.person_scores["personality_id"].n_unique()
        if result.respondents == 0:
            raise PopulationFileError(
                f"{result.source}: no respondent left to load ({dict(result.exclusions.by_reason) or 'empty file'})"
            )
        if result.file_rows is not None and result.loaded_rows + result.exclusions.total != result.file_rows:
            # A row neither loaded nor counted is a reader bug: refuse the load rather than lose it silently.
            raise PopulationFileError(
                f"{result.source}: {result.file_rows:,} rows read but {result.loaded_rows:,} loaded and "
                f"{result.exclusions.total:,} excluded ({dict(result.exclusions.by_reason)}); nothing was written"
            )
        exclusions = result.exclusions
        if exclusions.by_reason:
            connection.execute(
                ReferenceExclusion.__table__.insert(),
                [
                    {
                        "population": result.population,
                        "reason": reason,
                        "file_rows": rows,
                        "people": exclusions.people_by_reason.get(reason),
                    }
                    for reason, rows in exclusions.by_reason.items()
                ],
            )
        connection.execute(
            update(ReferencePopulation)
            .where(ReferencePopulation.population == result.population)
            .values(
                respondents=result.respondents,
                answers=result.answers,
                excluded_rows=exclusions.total,
                excluded_people=exclusions.people,
            )
        )


def _non_empty(batches: Iterable[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    return (batch for batch in batches if batch.height)


def _copy_writer(target: DatabaseTarget, connection, model):
    """PostgreSQL: stream each batch through COPY (psycopg 3) inside the open transaction."""
    cursor = connection.connection.driver_connection.cursor()
    statement = f"COPY {target.qualified(model.__table__)} ({', '.join(ANSWER_COLUMNS)}) FROM STDIN"

    def write(batch: pl.DataFrame) -> None:
        with cursor.copy(statement) as copy:
            copy.write(batch.write_csv(separator="\t", include_header=False))

    return write


def _insert_writer(target: DatabaseTarget, connection, model):
    """SQLite: executemany on the raw connection (the ORM would build a dict per row)."""
    raw = connection.connection.driver_connection
    statement = (
        f"INSERT INTO {target.qualified(model.__table__)} ({', '.join(ANSWER_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(ANSWER_COLUMNS))})"
    )

    def write(batch: pl.DataFrame) -> None:
        raw.executemany(statement, batch.iter_rows())

    return write


def _preview(batch: pl.DataFrame, people: int = 5, items: int = 10) -> pl.DataFrame:
    first_people = batch["personality_id"].unique(maintain_order=True).head(people)
    return (
        batch.filter(pl.col("personality_id").is_in(first_people.implode()) & (pl.col("question_number") <= items))
        .with_columns((pl.col("questionnaire") + "_q" + pl.col("question_number").cast(pl.String)).alias("item"))
        .pivot(on="item", index="personality_id", values="answer")
    )
