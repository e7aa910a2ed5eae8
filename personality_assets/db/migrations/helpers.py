"""Helpers shared by migrations. What they create is part of the migrations that call them:
frozen. A later change to those tables is a new migration."""

from alembic import op


def real_schema(symbolic: str) -> str:
    """The real name of a symbolic schema ("reference"/"experiment") for this migration run.

    Needed for ALTER TABLE (add/drop column), which Alembic emits without SQLAlchemy's
    schema_translate_map, and for raw SQL."""
    return op.get_context().config.attributes["schemas"][symbolic]
