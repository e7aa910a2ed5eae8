"""Bring a research database up to date (or back down) with Alembic.

The reference and experiment schemas have separate migration histories, each with its own
``alembic_version`` table inside its schema, so several experiment schemas can share one
reference schema and be migrated on their own.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from personality_assets.db.engine import REFERENCE_WRITER_SETTING, DatabaseTarget, get_engine
from personality_assets.db.tables.base import EXPERIMENT, REFERENCE

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
KINDS = (REFERENCE, EXPERIMENT)


def alembic_config(kind: str, connection, target: DatabaseTarget) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / f"{kind}_versions"))
    config.attributes.update(kind=kind, connection=connection, schemas=target.schema_map, dialect=target.dialect)
    return config


@contextmanager
def _sqlite_migration_lock(target: DatabaseTarget) -> Iterator[None]:
    """Parallel steps may all start by migrating. PostgreSQL serialises them with an advisory
    lock; for SQLite (whose DDL Alembic runs outside a transaction) an exclusive lock on a file
    beside the database does."""
    if target.dialect != "sqlite":
        yield
        return
    lock_path = target.sqlite_file().with_suffix(".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(target: DatabaseTarget, kinds, action) -> None:
    with _sqlite_migration_lock(target):
        _run_locked(target, kinds, action)


def _run_locked(target: DatabaseTarget, kinds, action) -> None:
    engine = get_engine(target, reference_writable=True)
    for kind in kinds:
        with engine.begin() as connection:
            if target.dialect == "postgresql":
                # Parallel steps may all start by migrating: serialise them.
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('personality_assets.migrate'))"))
                # Migrations may change the reference schema (its guards refuse everyone else).
                connection.execute(text(f"SET LOCAL {REFERENCE_WRITER_SETTING} = 'on'"))
                for schema in target.schema_map.values():
                    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            action(alembic_config(kind, connection, target))


def kinds_for(revision: str) -> tuple[str, ...]:
    """Which history a revision belongs to: r0001.. is the reference schema's, e0001.. the
    experiment schema's; "head" and "base" mean both."""
    if revision in ("head", "base"):
        return KINDS
    if revision.startswith("r"):
        return (REFERENCE,)
    if revision.startswith("e"):
        return (EXPERIMENT,)
    raise ValueError(f"unknown revision {revision!r}: use head, base, r<NNNN> (reference) or e<NNNN> (experiment)")


def upgrade(target: DatabaseTarget, revision: str = "head") -> None:
    _run(target, kinds_for(revision), lambda config: command.upgrade(config, revision))


def downgrade(target: DatabaseTarget, revision: str = "base") -> None:
    _run(target, tuple(reversed(kinds_for(revision))), lambda config: command.downgrade(config, revision))


def current_revisions(target: DatabaseTarget) -> dict[str, str | None]:
    """The applied revision of each schema's history (None when never migrated)."""
    engine = get_engine(target, reference_writable=True)
    revisions = {}
    with engine.connect() as connection:
        for kind in KINDS:
            context = MigrationContext.configure(connection, opts={"version_table_schema": target.schema_map[kind]})
            revisions[kind] = context.get_current_revision()
    return revisions
