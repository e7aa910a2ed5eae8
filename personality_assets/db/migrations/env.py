"""Alembic environment. Run through personality_assets.db.migrate, which passes the connection,
which history to run (reference or experiment) and the real schema names."""

from alembic import context

# Importing any table module imports them all (db/tables/__init__.py): each metadata holds every table.
from personality_assets.db.tables.base import REFERENCE, ExperimentBase, ReferenceBase

config = context.config
kind = config.attributes["kind"]
connection = config.attributes["connection"]

context.configure(
    connection=connection,
    target_metadata=ReferenceBase.metadata if kind == REFERENCE else ExperimentBase.metadata,
    # The real name: Alembic looks the table up with the inspector, which ignores schema_translate_map.
    version_table_schema=config.attributes["schemas"][kind],
    include_schemas=True,
)
with context.begin_transaction():
    context.run_migrations()
