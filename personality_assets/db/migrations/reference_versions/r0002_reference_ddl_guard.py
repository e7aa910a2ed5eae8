"""PostgreSQL: refuse DDL in the reference schema (CREATE, ALTER, DROP, DROP SCHEMA) outside the
reference loaders and migrations, as r0001's statement triggers refuse INSERT/UPDATE/DELETE.

Event triggers are per database: one pair serves every reference schema in it. Creating an event
trigger needs a superuser; without one the guard is not installed (a NOTICE says so) and the
README's grants are the way to isolate the schema.

Revision ID: r0002
Revises: r0001
Create Date: 2026-11-24
"""

from alembic import op

from personality_assets.db.migrations.helpers import real_schema

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None


GUARD = "personality_assets_refuse_reference_ddl"
# A reference schema is one holding r0001's write guard; dropping that guard (DROP SCHEMA ... CASCADE)
# counts as touching the schema.
REFERENCE_SCHEMAS = "SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = 'refuse_reference_writes'"


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return  # SQLite: experiment engines attach the reference file read-only, DDL included
    # ddl_command_end sees created and altered objects, sql_drop dropped ones; raising rolls the
    # statement back. The function lives in public so that dropping a reference schema cannot drop it.
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
             WHERE schema_name IN ({REFERENCE_SCHEMAS}) LIMIT 1;
          END IF;
          IF touched IS NOT NULL THEN
            RAISE EXCEPTION 'the reference schema is read-only: % on % refused (only reference loaders and migrations change it)',
              TG_TAG, touched USING ERRCODE = 'insufficient_privilege';
          END IF;
        END $$"""
    )
    # One pair of event triggers per database serves every reference schema in it.
    op.execute(
        f"""DO $$ BEGIN
          IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            RAISE NOTICE 'not a superuser: DDL in the reference schema is not guarded (see the README on grants)';
          ELSIF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = '{GUARD}') THEN
            CREATE EVENT TRIGGER {GUARD} ON ddl_command_end EXECUTE FUNCTION public.{GUARD}();
            CREATE EVENT TRIGGER {GUARD}_drop ON sql_drop EXECUTE FUNCTION public.{GUARD}();
          END IF;
        END $$"""
    )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    schema = real_schema("reference")
    # Other reference schemas in this database keep the shared guard.
    op.execute(
        f"""DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM ({REFERENCE_SCHEMAS}) s WHERE s.nspname <> '{schema}') THEN
            DROP EVENT TRIGGER IF EXISTS {GUARD};
            DROP EVENT TRIGGER IF EXISTS {GUARD}_drop;
            DROP FUNCTION IF EXISTS public.{GUARD}();
          END IF;
        END $$"""
    )
