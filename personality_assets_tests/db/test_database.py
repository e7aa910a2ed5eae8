"""Migrations, the two-schema layout and the constraints, on SQLite and PostgreSQL."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, insert, inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from personality_assets.db import migrate
from personality_assets.db.engine import (
    DatabaseConfigError,
    DatabaseTarget,
    experiment_transaction,
    get_engine,
    reference_transaction,
)
from personality_assets.db.tables.base import NAMING, ExperimentBase
from personality_assets.db.tables.persona_study import EvalQuestionnaire, ExperimentsGroup, ExperimentsList
from personality_assets.db.tables.questionnaires import RefQuestionnaire

REFERENCE_TABLES = {
    "questionnaires",
    "questionnaire_items",
    "questionnaire_answer_codes",
    "reference_populations",
    "reference_questionnaires",
    "reference_exclusions",
    "reference_incomplete_answers",
    "alembic_version",
}
EXPERIMENT_TABLES = {
    "questionnaires",
    "questionnaire_items",
    "questionnaire_answer_codes",
    "personas",
    "experiments_groups",
    "experiments_list",
    "eval_questionnaires",
    "experiment_request_metadata",
    "llm_calls",
    "questionnaire_scores",
    "alembic_version",
}
USAGE_TABLES = {"model_pricing", "llm_cache_hits", "llm_batches", "llm_batch_requests"}  # e0007, e0008
ESSAY_TABLES = {
    "stances",
    "evidence_patterns",
    "style_parameters",
    "quality_levels",
    "essay_topics",
    "research_seeds",
    "essay_personas",
    "essay_persona_attributes",
    "essay_persona_keywords",
    "essay_prompts",
    "generation_runs",
    "essays",
    "persona_usage",
}
REPORT_TABLES = {"response_style_indices"}  # e0010
# Compared with the models by Alembic (the tables of the newer migrations, and llm_calls which e0007 alters).
COMPARED = ESSAY_TABLES | USAGE_TABLES | REPORT_TABLES | {"llm_calls"}


def _tables(target: DatabaseTarget, schema: str) -> set[str]:
    with get_engine(target, reference_writable=True).connect() as connection:
        return set(inspect(connection).get_table_names(schema=schema))


def test_migrations_apply_and_roll_back(empty_target):
    migrate.upgrade(empty_target)
    assert migrate.current_revisions(empty_target) == {"reference": "r0004", "experiment": "e0010"}
    assert _tables(empty_target, empty_target.reference_schema) == REFERENCE_TABLES
    assert (
        _tables(empty_target, empty_target.experiment_schema)
        == EXPERIMENT_TABLES | ESSAY_TABLES | USAGE_TABLES | REPORT_TABLES
    )
    with get_engine(empty_target, reference_writable=True).connect() as connection:
        indexes = {
            ix["name"] for ix in inspect(connection).get_indexes("personas", schema=empty_target.experiment_schema)
        }
    assert {
        "ix_personas_ref_personality_id",
        "ix_personas_population",
        "ix_personas_model",
        "ix_personas_gender",
        "ix_personas_race",
    } <= indexes

    migrate.upgrade(empty_target)  # idempotent
    migrate.downgrade(empty_target)
    assert migrate.current_revisions(empty_target) == {"reference": None, "experiment": None}
    assert _tables(empty_target, empty_target.reference_schema) <= {"alembic_version"}
    assert _tables(empty_target, empty_target.experiment_schema) <= {"alembic_version"}
    migrate.upgrade(empty_target)  # and up again after a full roll back
    assert (
        _tables(empty_target, empty_target.experiment_schema)
        == EXPERIMENT_TABLES | ESSAY_TABLES | USAGE_TABLES | REPORT_TABLES
    )
    migrate.downgrade(empty_target, "e0005")  # the essay track alone, down and up
    assert _tables(empty_target, empty_target.experiment_schema) == EXPERIMENT_TABLES
    migrate.upgrade(empty_target)
    assert (
        _tables(empty_target, empty_target.experiment_schema)
        == EXPERIMENT_TABLES | ESSAY_TABLES | USAGE_TABLES | REPORT_TABLES
    )


def test_the_newer_tables_migrated_match_the_models(empty_target):
    """The migrations and the SQLAlchemy models describe the same essay, pricing and call tables (Alembic's own
    comparison: tables, columns, types, nullability, indexes, unique constraints)."""
    migrate.upgrade(empty_target)
    real = empty_target.experiment_schema

    def ours(name, kind, parent) -> bool:  # this test's schema only: other tests' run beside it
        return {"schema": name == real, "table": name in COMPARED}.get(kind, True)

    def compared(obj, name, kind, reflected, compare_to) -> bool:  # the models' side too
        table = obj if kind == "table" else getattr(obj, "table", None)
        return table is None or table.name in COMPARED

    with get_engine(empty_target, reference_writable=True).connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_schemas": True, "include_name": ours, "include_object": compared, "compare_type": True},
        )
        # The models name the schema symbolically; compare them under the real name.
        models = MetaData(naming_convention=NAMING)
        for table in ExperimentBase.metadata.tables.values():
            table.to_metadata(models, schema=real, referred_schema_fn=lambda *_: real)
        differences = compare_metadata(context, models)
    assert differences == [], "\n".join(map(str, differences))


def test_each_schemas_metadata_holds_every_table_after_importing_only_the_bases():
    """The tables live in a module per owner; the Alembic environment imports only the bases, in a
    fresh process, and must still see every table the migrations create."""
    import json
    import subprocess
    import sys

    script = (
        "import json; from personality_assets.db.tables.base import ExperimentBase, ReferenceBase; "
        "print(json.dumps({'reference': sorted(t.name for t in ReferenceBase.metadata.tables.values()), "
        "'experiment': sorted(t.name for t in ExperimentBase.metadata.tables.values())}))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    tables = json.loads(result.stdout)
    assert set(tables["reference"]) == REFERENCE_TABLES - {"alembic_version"}
    assert set(tables["experiment"]) == (EXPERIMENT_TABLES | ESSAY_TABLES | USAGE_TABLES | REPORT_TABLES) - {
        "alembic_version"
    }


def test_json_columns_are_jsonb_on_postgres(db_target):
    with get_engine(db_target).connect() as connection:
        columns = inspect(connection).get_columns("experiment_request_metadata", schema=db_target.experiment_schema)
    types = {c["name"]: type(c["type"]).__name__ for c in columns}
    expected = "JSONB" if db_target.dialect == "postgresql" else "JSON"
    assert types["request_json"] == types["response_json"] == types["request_metadata"] == expected


def test_experiment_code_cannot_write_the_reference_schema(db_target):
    row = {
        "name": "x",
        "title": "x",
        "scoring": "likert",
        "item_count": 1,
        "min_answer": 1,
        "max_answer": 5,
        "definition_sha256": "0",
    }
    with pytest.raises(DBAPIError, match="read-only|readonly"):
        with experiment_transaction(db_target) as connection:
            connection.execute(insert(RefQuestionnaire).values(row))
    for table in ("questionnaire_items", "reference_exclusions", "reference_incomplete_answers"):
        with pytest.raises(DBAPIError, match="read-only|readonly"):
            with experiment_transaction(db_target) as connection:
                connection.execute(text(f"DELETE FROM {db_target.reference_schema}.{table}"))
    # ... while it can read it, and the reference loader can write it.
    with experiment_transaction(db_target) as connection:
        assert (
            connection.execute(text(f"SELECT count(*) FROM {db_target.reference_schema}.questionnaires")).scalar() >= 2
        )
    with reference_transaction(db_target) as connection:
        connection.execute(insert(RefQuestionnaire).values(row))


def test_experiment_code_cannot_update_or_truncate_the_reference_schema(db_target):
    """Each kind of write the guard names, on every reference table (INSERT and DELETE: above)."""
    schema = db_target.reference_schema
    tables = sorted(REFERENCE_TABLES - {"alembic_version"})

    def counts() -> dict[str, int]:
        with experiment_transaction(db_target) as connection:
            return {t: connection.execute(text(f"SELECT count(*) FROM {schema}.{t}")).scalar() for t in tables}

    with get_engine(db_target).connect() as connection:
        columns = {t: inspect(connection).get_columns(t, schema=schema)[0]["name"] for t in tables}
    statements = [f"UPDATE {schema}.{t} SET {columns[t]} = {columns[t]}" for t in tables]
    if db_target.dialect == "postgresql":  # SQLite has no TRUNCATE
        statements += [f"TRUNCATE {schema}.{t} CASCADE" for t in tables]
    before = counts()
    for statement in statements:
        with pytest.raises(DBAPIError, match="read-only|readonly"):
            with experiment_transaction(db_target) as connection:
                connection.execute(text(statement))
    assert counts() == before and before["questionnaire_items"] > 0


def _experiment(connection, questionnaire="bigfive") -> int:
    group = connection.execute(
        insert(ExperimentsGroup).values(description="t").returning(ExperimentsGroup.experiments_group_id)
    ).scalar_one()
    return connection.execute(
        insert(ExperimentsList)
        .values(experiments_group_id=group, questionnaire=questionnaire, model="m", population="p", personality_id=1)
        .returning(ExperimentsList.experiment_id)
    ).scalar_one()


# The constraint each bad answer breaks: PostgreSQL names it; SQLite names a unique key's columns
# but says only "FOREIGN KEY constraint failed" for any foreign key.
ANSWER_CODE = "fk_eval_questionnaires_answer_code|FOREIGN KEY"
ITEM = "fk_eval_questionnaires_item|FOREIGN KEY"
EXPERIMENT_QUESTIONNAIRE = "fk_eval_questionnaires_experiment|FOREIGN KEY"
ONE_ANSWER = (
    "uq_eval_questionnaires_experiment_id_question_number"
    "|UNIQUE constraint failed: eval_questionnaires.experiment_id, eval_questionnaires.question_number"
)


@pytest.mark.parametrize(
    ("answers", "constraint"),
    [
        pytest.param([("bigfive", 1, 6)], ANSWER_CODE, id="answer above the range"),
        pytest.param([("bigfive", 1, 0)], ANSWER_CODE, id="answer below the range"),
        pytest.param([("bigfive", 51, 3)], ITEM, id="question not in the questionnaire"),
        pytest.param([("bigfive", 1, 3), ("bigfive", 1, 4)], ONE_ANSWER, id="two answers to one question"),
        pytest.param([("epqr_a", 1, 1)], EXPERIMENT_QUESTIONNAIRE, id="answer under another questionnaire"),
    ],
)
def test_answers_are_constrained(db_target, answers, constraint):
    with experiment_transaction(db_target) as connection:
        experiment_id = _experiment(connection)  # stored: only the answers below may fail
    with pytest.raises(IntegrityError, match=constraint):
        with experiment_transaction(db_target) as connection:
            for questionnaire, number, answer in answers:
                connection.execute(
                    insert(EvalQuestionnaire).values(
                        experiment_id=experiment_id, questionnaire=questionnaire, question_number=number, answer=answer
                    )
                )


def test_valid_answers_are_stored(db_target):
    with experiment_transaction(db_target) as connection:
        experiment_id = _experiment(connection, "epqr_a")
        connection.execute(
            insert(EvalQuestionnaire),
            [
                {"experiment_id": experiment_id, "questionnaire": "epqr_a", "question_number": n, "answer": n % 2}
                for n in range(1, 25)
            ],
        )
    with experiment_transaction(db_target) as connection:
        assert (
            connection.execute(text(f"SELECT count(*) FROM {db_target.experiment_schema}.eval_questionnaires")).scalar()
            == 24
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"experiment_schema": "Bad-Name"}, "not usable"),
        ({"experiment_schema": "reference"}, "must differ"),
        ({"reference_schema": "experiment"}, "cannot be called"),
        ({"url": "sqlite://"}, "in-memory"),
        ({"url": "mysql://x/y"}, "unsupported database"),
    ],
)
def test_bad_database_settings_are_explained(tmp_path, kwargs, message):
    settings = {"url": f"sqlite:///{tmp_path}/r.sqlite", **kwargs}
    with pytest.raises(DatabaseConfigError, match=message):
        DatabaseTarget(**settings)


def test_password_never_shown():
    target = DatabaseTarget("postgresql+psycopg://user:s3cret@db.example/research")
    assert "s3cret" not in target.safe_url and "***" in target.safe_url


def test_parallel_first_migrations_on_sqlite_are_serialised(tmp_path):
    """Every step migrates when it starts; several starting at once on a new file must not clash."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'research.sqlite'}"
    script = (
        "import sys; from personality_assets.db import migrate; from personality_assets.db.engine import "
        "DatabaseTarget; migrate.upgrade(DatabaseTarget(sys.argv[1]))"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script, url], stderr=subprocess.PIPE, text=True) for _ in range(3)
    ]
    errors = [p.communicate()[1] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], errors
    assert migrate.current_revisions(DatabaseTarget(url))["experiment"] == "e0010"


def test_cli_moves_one_schema_and_refuses_an_unnamed_downgrade(tmp_path, monkeypatch, capsys):
    from personality_assets.cli import main

    monkeypatch.setenv("PERSONALITY_ASSETS_DATABASE_URL", f"sqlite:///{tmp_path / 'r.sqlite'}")
    main(["db", "upgrade"])
    main(["db", "downgrade", "e0002"])
    target = DatabaseTarget(f"sqlite:///{tmp_path / 'r.sqlite'}")
    assert migrate.current_revisions(target) == {"reference": "r0004", "experiment": "e0002"}
    with pytest.raises(SystemExit):
        main(["db", "downgrade"])
    assert "downgrade needs a revision" in capsys.readouterr().err
    main(["db", "upgrade", "e0003"])
    assert migrate.current_revisions(target) == {"reference": "r0004", "experiment": "e0003"}


@pytest.mark.parametrize(
    "ddl",
    [
        "CREATE TABLE {schema}.intruder (x integer)",
        "DROP TABLE {schema}.reference_populations",
        "ALTER TABLE {schema}.reference_populations ADD COLUMN intruder integer",
        "DROP VIEW {schema}.reference_questionnaires_labelled",
    ],
)
def test_experiment_code_cannot_change_the_reference_schema(db_target, ddl):
    statement = ddl.format(schema=db_target.reference_schema)
    with pytest.raises(DBAPIError, match="read-only|readonly"):
        with experiment_transaction(db_target) as connection:
            connection.execute(text(statement))
    assert "reference_populations" in _tables(db_target, db_target.reference_schema)
    assert "intruder" not in _tables(db_target, db_target.reference_schema)


@pytest.mark.parametrize(
    "ddl", ['ALTER SCHEMA "{schema}" RENAME TO "{schema}_renamed"', 'ALTER SCHEMA "{schema}" OWNER TO pg_monitor']
)
def test_experiment_code_cannot_rename_or_give_away_the_reference_schema(db_target, ddl):
    if db_target.dialect != "postgresql":
        pytest.skip("SQLite has no schemas to alter: the reference file is attached read-only")
    schema = db_target.reference_schema
    with get_engine(db_target).connect() as connection:
        owner = connection.execute(
            text("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = :s"), {"s": schema}
        )
        owner = owner.scalar_one()
    with pytest.raises(DBAPIError, match="read-only"):
        with experiment_transaction(db_target) as connection:
            connection.execute(text(ddl.format(schema=schema)))
    with get_engine(db_target).connect() as connection:
        still = connection.execute(
            text("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = :s"), {"s": schema}
        )
        assert still.scalar_one() == owner
    with experiment_transaction(db_target) as connection:  # reference reads still work
        assert connection.execute(text(f"SELECT count(*) FROM {schema}.questionnaires")).scalar() >= 2


def test_experiment_code_cannot_drop_the_reference_schema(db_target):
    if db_target.dialect != "postgresql":
        pytest.skip("SQLite has no schemas to drop: the reference file is attached read-only")
    with pytest.raises(DBAPIError, match="read-only"):
        with experiment_transaction(db_target) as connection:
            connection.execute(text(f'DROP SCHEMA "{db_target.reference_schema}" CASCADE'))
    assert "reference_populations" in _tables(db_target, db_target.reference_schema)
    # The experiment schema stays the experiment code's own to change.
    with experiment_transaction(db_target) as connection:
        connection.execute(text(f"CREATE TABLE {db_target.experiment_schema}.scratch (x integer)"))
        connection.execute(text(f"DROP TABLE {db_target.experiment_schema}.scratch"))
