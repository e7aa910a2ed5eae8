"""Bring a research database up to date (or back down) with Alembic.

The reference and experiment schemas have separate migration histories, each with its own
``alembic_version`` table inside its schema, so several experiment schemas can share one
reference schema and be migrated on their own.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from personality_assets.db.engine import DatabaseTarget, get_engine
from personality_assets.db.models import EXPERIMENT, REFERENCE

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
KINDS = (REFERENCE, EXPERIMENT)


def alembic_config(kind: str, connection, target: DatabaseTarget) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / f"{kind}_versions"))
    config.attributes.update(kind=kind, connection=connection, schemas=target.schema_map, dialect=target.dialect)
    return config


def _run(target: DatabaseTarget, kinds, action) -> None:
    engine = get_engine(target, reference_writable=True)
    for kind in kinds:
        with engine.begin() as connection:
            if target.dialect == "postgresql":
                # Parallel steps may all start by migrating: serialise them (SQLite's file lock does this there).
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('personality_assets.migrate'))"))
                for schema in target.schema_map.values():
                    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            action(alembic_config(kind, connection, target))


def upgrade(target: DatabaseTarget, revision: str = "head", kinds=KINDS) -> None:
    _run(target, kinds, lambda config: command.upgrade(config, revision))


def downgrade(target: DatabaseTarget, revision: str = "base", kinds=tuple(reversed(KINDS))) -> None:
    _run(target, kinds, lambda config: command.downgrade(config, revision))


def current_revisions(target: DatabaseTarget) -> dict[str, str | None]:
    """The applied revision of each schema's history (None when never migrated)."""
    engine = get_engine(target, reference_writable=True)
    revisions = {}
    with engine.connect() as connection:
        for kind in KINDS:
            context = MigrationContext.configure(connection, opts={"version_table_schema": target.schema_map[kind]})
            revisions[kind] = context.get_current_revision()
    return revisions
