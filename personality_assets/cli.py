"""Small command line for what Dagster's CLI does not cover.

python -m personality_assets.cli populations add sample sample_maxN   # register partitions
python -m personality_assets.cli populations remove mypop [--delete-data]
python -m personality_assets.cli batches add batch1                  # a value-alignment batch partition
python -m personality_assets.cli topics add "Should college be free?" [--file topics.txt]  # essay topics
python -m personality_assets.cli db upgrade | downgrade [REVISION] | current
python -m personality_assets.cli summary                              # what is in the database
python -m personality_assets.cli usage [--from 2026-11-01] [--to 2026-11-24] [--by-run]   # what calls cost
"""

from __future__ import annotations

import argparse
import sys

import polars as pl
from sqlalchemy import func, select

from personality_assets import settings
from personality_assets.db import migrate
from personality_assets.db.engine import experiment_transaction, reference_transaction
from personality_assets.db.tables.reference import ReferencePopulation
from personality_assets.defs.resources import ResearchDatabase
from personality_assets.populations.names import PopulationNameError, check_population_name


def _population_names(names: list[str]) -> list[str]:
    """The names, or exit 2 naming every bad one and the rule (before anything is changed)."""
    problems = []
    for name in names:
        try:
            check_population_name(name)
        except PopulationNameError as exc:
            problems.append(str(exc))
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(2)
    return names


def _add_partitions(definition, keys: list[str], what: str) -> None:
    from dagster import DagsterInstance

    instance = DagsterInstance.get()  # needs DAGSTER_HOME, as every persistent Dagster command does
    existing = set(instance.get_dynamic_partitions(definition.name))
    new = [key for key in dict.fromkeys(keys) if key not in existing]
    if new:
        instance.add_dynamic_partitions(definition.name, new)
    print(f"{what} partitions added: {new or 'none'}; already there: {sorted(set(keys) & existing) or 'none'}")


def _add_populations(names: list[str]) -> None:
    from personality_assets.defs.partitions import population_partitions

    _add_partitions(population_partitions, _population_names(names), "population")


def _add_batches(names: list[str]) -> None:
    from personality_assets.defs.values.assets import value_batch_partitions

    # the same name rule as populations: a partition key of ours
    _add_partitions(value_batch_partitions, _population_names(names), "value batch")


def _add_topics(topics: list[str], file: str | None) -> None:
    from pathlib import Path

    from personality_assets.defs.essays.topics import TopicError, check_topic, read_topics_file
    from personality_assets.defs.partitions import essay_topic_partitions

    try:
        keys = [check_topic(topic) for topic in topics] + (read_topics_file(Path(file)) if file else [])
    except TopicError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
    if not keys:
        print("no topics given: name them, or --file FILE (one per line)", file=sys.stderr)
        sys.exit(2)
    _add_partitions(essay_topic_partitions, keys, "essay topic")


def _remove_populations(names: list[str], delete_data: bool) -> None:
    """Delete the partitions (their materialisation history stays in Dagster's event log) and,
    with ``delete_data``, the populations' rows in the reference schema, in one transaction."""
    from dagster import DagsterInstance

    from personality_assets.defs.partitions import population_partitions

    instance = DagsterInstance.get()
    if delete_data:
        _delete_population_data(names)
    existing = set(instance.get_dynamic_partitions(population_partitions.name))
    for name in names:
        if name in existing:
            instance.delete_dynamic_partition(population_partitions.name, name)
    print(
        f"removed partitions: {[n for n in names if n in existing] or 'none'}; "
        f"not partitions: {[n for n in names if n not in existing] or 'none'}"
    )
    if not delete_data:
        print("the populations' data stay in the research database (add --delete-data to delete them)")


def _delete_population_data(names: list[str]) -> None:
    """Delete the populations' reference rows, or exit 1 changing nothing when one is still used:
    by a population derived from it (and not removed with it) or by personas or experiments."""
    from personality_assets.db.tables.persona_study import ExperimentsList, Persona
    from personality_assets.populations.load import delete_population

    target = ResearchDatabase().target
    migrate.upgrade(target)
    populations = ReferencePopulation.__table__
    with reference_transaction(target) as connection:
        in_use = []
        for name in names:
            derived = (
                connection.execute(
                    select(populations.c.population)
                    .where(populations.c.derived_from == name, populations.c.population.not_in(names))
                    .order_by(populations.c.population)
                )
                .scalars()
                .all()
            )
            if derived:
                in_use.append(f"{name}: populations derived from it: {derived} (remove them with it)")
            # Personas keep the population they were made from in ref_population (population holds
            # their generated_<model>_<population> tag); experiments reach it through their persona.
            personas = connection.execute(select(func.count()).where(Persona.ref_population == name)).scalar_one()
            experiments = connection.execute(
                select(func.count())
                .select_from(ExperimentsList)
                .join(Persona, Persona.id == ExperimentsList.personality_id)
                .where(Persona.ref_population == name)
            ).scalar_one()
            if personas or experiments:
                in_use.append(f"{name}: {personas} persona(s) and {experiments} experiment(s) use it")
        if in_use:
            print("\n".join(in_use) + "\nnothing removed or deleted", file=sys.stderr)
            sys.exit(1)
        for name in names:
            rows = connection.execute(select(func.count()).where(populations.c.population == name)).scalar_one()
            deleted = delete_population(connection, name)
            print(f"{name}: {deleted:,} answers and {'the' if rows else 'no'} population row deleted")


def _runs(action: str, run_ids: list[str]) -> None:
    from dagster import DagsterInstance

    from personality_assets.defs.run_health import fail_runs, find_dead_runs

    instance = DagsterInstance.get()
    if action == "dead" or not run_ids:
        dead = find_dead_runs(instance)
        for run in dead:
            print(f"{run.run_id}  {run.partition or run.job_name}  worker pid {run.pid} is gone")
        print(f"{len(dead)} dead run(s)" + ("; free them with: runs free" if dead and action == "dead" else ""))
        if action == "dead":
            return
        run_ids = [run.run_id for run in dead]
    failed = fail_runs(instance, run_ids, "freed by hand (python -m personality_assets.cli runs free)")
    print(f"marked failed: {failed or 'none'}; concurrency slots freed for: {run_ids or 'none'}")


def _summary() -> None:
    settings.drop_dir().mkdir(parents=True, exist_ok=True)  # the folder the summary tells the user about
    target = ResearchDatabase().target
    with experiment_transaction(target) as connection:
        table = ReferencePopulation.__table__
        rows = connection.execute(select(table).order_by(table.c.population)).all()
    frame = pl.DataFrame(
        [
            {
                "population": r.population,
                "respondents": r.respondents,
                "answers": r.answers,
                "excluded_rows": r.excluded_rows,
                "excluded_people": r.excluded_people,
                "synthetic": r.synthetic,
                "source": r.source[:60],
            }
            for r in rows
        ]
    )
    with pl.Config(
        tbl_rows=-1,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        fmt_str_lengths=60,
        tbl_width_chars=160,
    ):
        print(f"\nResearch database: {target.safe_url}")
        if target.dialect == "sqlite":
            print(f"  reference schema  -> {target.sqlite_file(target.reference_schema)}")
            print(f"  experiment schema -> {target.sqlite_file(target.experiment_schema)}")
        print(f"Reference populations ({len(rows)}):\n{frame}")
        study = _study_summary(target)
        if study.height:
            print(f"Persona study (model x population):\n{study}")
            print(f"Parquet: {settings.data_dir() / 'parquet'} (personas/, questionnaire_scores/)")
            report = settings.reports_dir() / "study_report.html"
            if report.exists():
                print(f"Study report (tables and figures, open in a browser): {report}")
                print(f"Report tables (parquet, csv) and figures (png): {settings.reports_dir()}")
        _values_summary()
        _essays_summary(target)
        print(f"Drop new population files into {settings.drop_dir()} (the sensor loads them while `make ui` runs).")


def _values_summary() -> None:
    from personality_assets.defs.values.assets import LABELS, REGISTRY
    from personality_assets.defs.values.storage import values_store

    store = values_store()
    registry, labels = store.read(REGISTRY), store.read(LABELS)
    if registry is None:
        return
    flags = registry.select(
        pl.len().alias("personas"),
        pl.col("entry_count").sum().alias("entries"),
        pl.col("stage_synthetic").sum().alias("synthetic"),
        pl.col("stage_wrangled").sum().alias("wrangled"),
        pl.col("stage_labeled").sum().alias("labeled"),
    )
    print(f"Value alignment (registry {store.uri(REGISTRY)}):\n{flags}")
    if labels is not None:
        print(f"Labelled entries: {labels.height:,} in {store.uri(LABELS)} (training data in the published value-alignment schema)")


def _essays_summary(target) -> None:
    from personality_assets.db.tables.essays import Essay, EssayPersona, EssayTopic

    essays, topics = Essay.__table__, EssayTopic.__table__
    query = (
        select(
            topics.c.topic,
            func.count(essays.c.id).label("planned"),
            func.count(essays.c.content).label("written"),
            func.count(func.distinct(essays.c.persona_id)).label("personas"),
        )
        .join(essays, essays.c.topic_id == topics.c.id)
        .group_by(topics.c.topic)
        .order_by(topics.c.topic)
    )
    with experiment_transaction(target) as connection:
        frame = pl.read_database(query, connection)
        personas = connection.execute(select(func.count()).select_from(EssayPersona.__table__)).scalar_one()
    if frame.height:
        print(f"Essays per topic ({personas:,} student personas in the repository):\n{frame}")
        print(f"Essays with their dimensions (parquet): {settings.data_dir() / 'parquet' / 'essays'}")


def _usage(start: str | None, end: str | None, by_run: bool) -> None:
    from datetime import UTC, date, datetime, timedelta

    from personality_assets.defs.usage.report import day_bounds, read_cache_hits, read_calls, usage_table

    try:
        last = date.fromisoformat(end) if end else datetime.now(UTC).date()
        first = date.fromisoformat(start) if start else last - timedelta(days=6)
    except ValueError as exc:
        print(f"dates are YYYY-MM-DD: {exc}", file=sys.stderr)
        sys.exit(2)
    begin, finish = day_bounds(first)[0], day_bounds(last)[1]
    with experiment_transaction(ResearchDatabase().target) as connection:
        table = usage_table(read_calls(connection, begin, finish), read_cache_hits(connection, begin, finish), by_run)
    columns = ["model", "purpose", *(["run_id"] if by_run else []), "calls", "ok", "failed", "invalid", "retries"]
    columns += ["cache_hits", "input_tokens", "output_tokens", "cost_usd", "latency_p50_ms", "latency_p95_ms"]
    columns += ["latency_p99_ms", "json_invalid_first_share"]
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, tbl_width_chars=250, fmt_str_lengths=36):
        print(f"Model usage {first} .. {last} (UTC days, inclusive):")
        print(
            table.select(columns).with_columns(pl.col("^latency.*$", "cost_usd").round(4))
            if table.height
            else "no calls"
        )
        print(
            f"total: {int(table['calls'].sum()):,} calls, {int(table['cache_hits'].sum()):,} cache hits, "
            f"${float(table['cost_usd'].sum()):.4f}"
        )


def _estimate(args) -> None:
    from personality_assets.defs.persona_study.estimate import estimate_study
    from personality_assets.defs.resources import default_llm_resource

    research_db = ResearchDatabase()
    engine = default_llm_resource(research_db).engine()  # migrates the schemas
    frame = estimate_study(
        engine,
        research_db.target,
        args.model,
        args.population,
        max_people=args.max_people,
        personas_per_person=args.personas_per_person,
        questionnaires=args.questionnaires,
        repetitions=args.repetitions,
    )
    with pl.Config(tbl_rows=-1, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print(frame)
    print(
        f"total: {int(frame['calls'].sum()):,} calls, about ${frame['cost_usd'].sum():,.2f} "
        f"(prices from the models configuration; outputs estimated at typical lengths)"
    )


def _study_summary(target) -> pl.DataFrame:
    """Per partition: personas, experiments (succeeded/pending), mean |persona - reference| score."""
    from sqlalchemy import func

    from personality_assets.db.tables.persona_study import (
        ExperimentsGroup,
        ExperimentsList,
        Persona,
        QuestionnaireScore,
    )

    with experiment_transaction(target) as connection:
        personas = connection.execute(
            select(Persona.model, Persona.ref_population, func.count()).group_by(Persona.model, Persona.ref_population)
        ).all()
        experiments = connection.execute(
            select(
                ExperimentsGroup.model, ExperimentsGroup.population, func.count(), func.count(ExperimentsList.succeeded)
            )  # count() of a column skips NULLs (pending)
            .join(ExperimentsList, ExperimentsList.experiments_group_id == ExperimentsGroup.experiments_group_id)
            .group_by(ExperimentsGroup.model, ExperimentsGroup.population)
        ).all()
        differences = connection.execute(
            select(
                QuestionnaireScore.model,
                QuestionnaireScore.population,
                func.avg(func.abs(QuestionnaireScore.difference)),
            ).group_by(QuestionnaireScore.model, QuestionnaireScore.population)
        ).all()
    rows: dict[tuple, dict] = {}
    for model, population, count in personas:
        rows.setdefault((model, population), {})["personas"] = count
    for model, population, total, answered in experiments:
        rows.setdefault((model, population), {}).update(experiments=total, answered=answered, pending=total - answered)
    for model, population, difference in differences:
        # None (no reference score on those scales) stays empty rather than reading as a perfect 0.
        rows.setdefault((model, population), {})["mean_abs_score_difference"] = (
            None if difference is None else round(float(difference), 3)
        )
    return pl.DataFrame([{"model": m, "population": p, **values} for (m, p), values in sorted(rows.items())])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m personality_assets.cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    populations = commands.add_parser("populations", help="manage population partitions")
    populations.add_argument("action", choices=["add", "remove"])
    populations.add_argument("names", nargs="+", metavar="name")
    populations.add_argument(
        "--delete-data",
        action="store_true",
        help="remove: also delete the populations' answers from the research database (refused, changing nothing, "
        "while personas, experiments or derived populations use one)",
    )
    batches = commands.add_parser("batches", help="add value-alignment batch partitions")
    batches.add_argument("action", choices=["add"])
    batches.add_argument("names", nargs="+", metavar="name")
    topics = commands.add_parser("topics", help="add essay topic partitions (the key is the topic's text)")
    topics.add_argument("action", choices=["add"])
    topics.add_argument("topics", nargs="*", metavar="topic", help='e.g. "Should college tuition be free?"')
    topics.add_argument("--file", help="a text file with one topic per line (# comments)")
    runs = commands.add_parser(
        "runs", help="runs whose worker died (kill -9): list them, or mark them failed and free their concurrency slots"
    )
    runs.add_argument("action", choices=["dead", "free"])
    runs.add_argument("run_ids", nargs="*", metavar="run_id", help="free: these runs (default: every dead run)")
    db = commands.add_parser("db", help="research database migrations")
    db.add_argument("action", choices=["upgrade", "downgrade", "current"])
    db.add_argument(
        "revision",
        nargs="?",
        help="upgrade: default head; downgrade: required (base drops every "
        "table): r<NNNN> moves the reference schema, e<NNNN> the experiment schema",
    )
    commands.add_parser("summary", help="print what the research database holds")
    usage = commands.add_parser("usage", help="calls, tokens, cost and latency per model and purpose for a date range")
    usage.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (default: six days before --to)")
    usage.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (default: today, UTC)")
    usage.add_argument("--by-run", action="store_true", help="one row per Dagster run as well")
    estimate = commands.add_parser("estimate", help="calls and cost of a study partition, before any call")
    estimate.add_argument("--model", required=True, help="model key, e.g. gpt4o")
    estimate.add_argument("--population", required=True, help="a loaded reference population, e.g. sample")
    estimate.add_argument("--max-people", type=int)
    estimate.add_argument("--personas-per-person", type=int, default=1)
    estimate.add_argument("--repetitions", type=int, default=1)
    estimate.add_argument("--questionnaire", action="append", dest="questionnaires")
    args = parser.parse_args(argv)

    if args.command == "populations" and args.action == "add":
        _add_populations(args.names)
    elif args.command == "populations":
        _remove_populations(args.names, args.delete_data)
    elif args.command == "batches":
        _add_batches(args.names)
    elif args.command == "topics":
        _add_topics(args.topics, args.file)
    elif args.command == "runs":
        _runs(args.action, args.run_ids)
    elif args.command == "db":
        target = ResearchDatabase().target
        if args.action == "upgrade":
            migrate.upgrade(target, args.revision or "head")
        elif args.action == "downgrade":
            if not args.revision:
                parser.error("downgrade needs a revision (e.g. e0002, or base to drop every table)")
            migrate.downgrade(target, args.revision)
        print(f"{target.safe_url}: {migrate.current_revisions(target)}")
    elif args.command == "usage":
        _usage(args.start, args.end, args.by_run)
    elif args.command == "estimate":
        _estimate(args)
    else:
        _summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
