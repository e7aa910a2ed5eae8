"""Engines for the research database, with the two-schema layout and the reference-write guard.

* PostgreSQL: the symbolic schemas map to real schemas. Writes to the reference schema are
  refused by a statement trigger unless the transaction set ``personality_assets.reference_writer``
  (only :func:`reference_transaction` does). This guards against accidents; for hard isolation
  give experiment code a role without write grants on the reference schema.
* SQLite: the URL names a main file; each schema is a file beside it
  (``research.reference.sqlite``, ``research.<experiment schema>.sqlite``) attached under the
  schema's name. Experiment engines attach the reference file read-only (``mode=ro``), so
  SQLite itself refuses the write.
"""

from __future__ import annotations

import io
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, Engine, Select, Table, create_engine, event, insert, text
from sqlalchemy.engine import make_url

from personality_assets.db.tables.base import EXPERIMENT, REFERENCE

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
REFERENCE_WRITER_SETTING = "personality_assets.reference_writer"


class DatabaseConfigError(ValueError):
    """The database URL or schema names are not usable."""


@dataclass(frozen=True)
class DatabaseTarget:
    url: str
    reference_schema: str = "reference"
    experiment_schema: str = "experiments"

    def __post_init__(self) -> None:
        for label, name in (("reference schema", self.reference_schema), ("experiment schema", self.experiment_schema)):
            if not _IDENTIFIER.match(name) or name in {"main", "temp", "public"}:
                raise DatabaseConfigError(
                    f"{label} {name!r} is not usable: use lower-case letters, digits and _ (not main/temp/public)"
                )
        if self.reference_schema == self.experiment_schema:
            raise DatabaseConfigError("the experiment schema must differ from the reference schema")
        if self.reference_schema == EXPERIMENT or self.experiment_schema == REFERENCE:
            # The symbolic names of the models would be translated twice.
            raise DatabaseConfigError(
                f"the reference schema cannot be called {EXPERIMENT!r}, nor the experiment schema {REFERENCE!r}"
            )
        if self.dialect not in {"sqlite", "postgresql"}:
            raise DatabaseConfigError(f"unsupported database {self.safe_url}: use sqlite:/// or postgresql+psycopg://")
        if self.dialect == "sqlite" and not make_url(self.url).database:
            raise DatabaseConfigError("an in-memory SQLite database cannot hold two schemas: give a file path")

    @property
    def dialect(self) -> str:
        return make_url(self.url).get_backend_name()

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, for logs and metadata."""
        return make_url(self.url).render_as_string(hide_password=True)

    @property
    def schema_map(self) -> dict[str, str]:
        return {REFERENCE: self.reference_schema, EXPERIMENT: self.experiment_schema}

    def sqlite_file(self, schema: str | None = None) -> Path:
        """The main SQLite file, or the file that holds a (real) schema."""
        main = Path(make_url(self.url).database).resolve()
        return main if schema is None else main.with_name(f"{main.stem}.{schema}{main.suffix}")

    def qualified(self, table) -> str:
        """Real ``schema.table`` name of a model's table, for raw SQL such as COPY."""
        return f"{self.schema_map[table.schema]}.{table.name}"


def _postgres_url(url: str) -> str:
    # SQLAlchemy 2.1 reads plain postgresql:// as psycopg 3 already; spelling it out keeps
    # 2.0 working too. psycopg 3 is used for its COPY API (reference loads).
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


_ENGINES: dict[tuple[DatabaseTarget, bool], Engine] = {}


def get_engine(target: DatabaseTarget, *, reference_writable: bool = False) -> Engine:
    """One pooled engine per target and access mode (kept for the life of the process)."""
    key = (target, reference_writable)
    if key not in _ENGINES:
        if target.dialect == "sqlite":
            engine = _sqlite_engine(target, reference_writable)
        else:
            engine = create_engine(_postgres_url(target.url), pool_pre_ping=True)
        _ENGINES[key] = engine.execution_options(schema_translate_map=target.schema_map)
    return _ENGINES[key]


def dispose_engines(target: DatabaseTarget) -> None:
    """Close the pooled connections of a target (e.g. a test's throw-away schemas)."""
    for writable in (False, True):
        engine = _ENGINES.pop((target, writable), None)
        if engine is not None:
            engine.dispose()


def _sqlite_engine(target: DatabaseTarget, reference_writable: bool) -> Engine:
    main = target.sqlite_file()
    main.parent.mkdir(parents=True, exist_ok=True)
    attachments = []
    for schema in (target.reference_schema, target.experiment_schema):
        path = target.sqlite_file(schema)
        read_only = schema == target.reference_schema and not reference_writable
        if read_only and not path.exists():
            sqlite3.connect(path).close()  # mode=ro cannot open a file that does not exist yet
        attachments.append((schema, f"file:{path}?mode=ro" if read_only else f"file:{path}"))

    engine = create_engine(f"sqlite:///{main}", connect_args={"uri": True, "timeout": 60})

    @event.listens_for(engine, "connect")
    def _attach(dbapi_connection, _record) -> None:
        dbapi_connection.execute("PRAGMA foreign_keys = ON")
        for schema, uri in attachments:
            dbapi_connection.execute(f"ATTACH DATABASE ? AS {schema}", (uri,))

    return engine


def upsert_insert(connection: Connection, table):
    """An INSERT with ON CONFLICT support (``on_conflict_do_update``/``_do_nothing``) for either engine."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


@contextmanager
def reference_transaction(target: DatabaseTarget) -> Iterator[Connection]:
    """A transaction allowed to write the reference schema. Only reference loaders use it."""
    engine = get_engine(target, reference_writable=True)
    with engine.begin() as connection:
        if target.dialect == "postgresql":
            connection.execute(text(f"SET LOCAL {REFERENCE_WRITER_SETTING} = 'on'"))
        yield connection


@contextmanager
def experiment_transaction(target: DatabaseTarget) -> Iterator[Connection]:
    """A transaction for experiment code: experiment schema writable, reference schema read-only."""
    with get_engine(target).begin() as connection:
        yield connection


def read_frame(connection: Connection, query: Select, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A query's rows as a polars frame with exactly ``schema`` (every column of the query, in
    order; no booleans). PostgreSQL streams them as CSV with ``COPY (query) TO STDOUT``: for
    millions of rows several times faster, and a fraction of the memory, of fetching Python row
    objects. SQLite goes through the cursor."""
    if connection.dialect.name != "postgresql":
        return pl.read_database(query, connection, schema_overrides=schema).cast(schema).select(list(schema))
    sql = query.compile(
        dialect=connection.dialect,
        schema_translate_map=connection.get_execution_options().get("schema_translate_map"),
        render_schema_translate=True,
        compile_kwargs={"literal_binds": True},
    )
    buffer = io.BytesIO()
    # The statement is rendered for a driver that takes parameters, so every % is written %%; COPY
    # runs it without parameters, so undo that here (a '50%' literal would otherwise match nothing).
    statement = str(sql).replace("%%", "%")
    with connection.connection.driver_connection.cursor().copy(
        f"COPY ({statement}) TO STDOUT WITH (FORMAT csv)"
    ) as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    if not buffer.getbuffer().nbytes:
        return pl.DataFrame(schema=schema)
    return pl.read_csv(buffer, has_header=False, new_columns=list(schema), schema=schema)


def write_frame(connection: Connection, table: Table, frame: pl.DataFrame) -> None:
    """Appends ``frame``'s rows to ``table`` (its columns named as the table's). PostgreSQL takes
    them as CSV with ``COPY ... FROM STDIN`` (one round trip for hundreds of thousands of rows);
    SQLite through executemany in batches."""
    if frame.is_empty():
        return
    if connection.dialect.name != "postgresql":
        rows = frame.to_dicts()
        for start in range(0, len(rows), 5000):
            connection.execute(insert(table), rows[start : start + 5000])
        return
    translate = connection.get_execution_options().get("schema_translate_map") or {}
    name = f'"{translate.get(table.schema, table.schema)}"."{table.name}"'
    columns = ", ".join(f'"{column}"' for column in frame.columns)
    with connection.connection.driver_connection.cursor().copy(
        f"COPY {name} ({columns}) FROM STDIN WITH (FORMAT csv)"
    ) as copy:
        copy.write(frame.write_csv(include_header=False))
