"""PostgreSQL: the reference DDL guard also refuses changes to the schema itself (ALTER SCHEMA
... RENAME TO / OWNER TO, COMMENT ON SCHEMA) from experiment code. r0002 looked only at objects
inside a reference schema; the schema is reported with no schema of its own, by its quoted name.
After a rename every reference read fails, so it is refused like the other DDL.

Revision ID: r0004
Revises: r0003
Create Date: 2026-12-06
"""

import importlib

from alembic import op
from sqlalchemy import text

from personality_assets.db.migrations.helpers import real_schema

revision = "r0004"
down_revision = "r0003"
branch_labels = None
depends_on = None

GUARD = "personality_assets_refuse_reference_ddl"
REFERENCE_SCHEMAS = "SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = 'refuse_reference_writes'"


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    # r0002's function with one more case: the touched object is a reference schema itself (at
    # ddl_command_end a renamed schema already has its new name, and still holds the write guard).
    op.execute(
        f"""CREATE OR REPLACE FUNCTION public.{GUARD}() RETURNS event_trigger LANGUAGE plpgsql AS $$
        DECLARE
          touched text;
        BEGIN
          IF coalesce(current_setting('personality_assets.reference_writer', true), '') = 'on' THEN
            RETURN;
          END IF;
          IF TG_EVENT = 'sql_drop' THEN
            SELECT object_identity INTO touched FROM pg_event_trigger_dropped_objects()
             WHERE schema_name IN ({REFERENCE_SCHEMAS})
                OR (object_type = 'function' AND object_identity LIKE '%.refuse_reference_writes()')
             LIMIT 1;
          ELSE
            SELECT object_identity INTO touched FROM pg_event_trigger_ddl_commands()
             WHERE schema_name IN ({REFERENCE_SCHEMAS})
                OR (object_type = 'schema' AND object_identity IN (SELECT quote_ident(s.nspname) FROM ({REFERENCE_SCHEMAS}) s))
             LIMIT 1;
          END IF;
          IF touched IS NOT NULL THEN
            RAISE EXCEPTION 'the reference schema is read-only: % on % refused (only reference loaders and migrations change it)',
              TG_TAG, touched USING ERRCODE = 'insufficient_privilege';
          END IF;
        END $$"""
    )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    # The function serves every reference schema in the database: back to r0002's only when no
    # other reference schema (which may be at r0004) shares it.
    others = op.get_bind().execute(
        text(f"SELECT count(*) FROM ({REFERENCE_SCHEMAS}) s WHERE s.nspname <> :schema"),
        {"schema": real_schema("reference")},
    )
    if others.scalar() == 0:
        importlib.import_module(
            "personality_assets.db.migrations.reference_versions.r0002_reference_ddl_guard"
        ).upgrade()
