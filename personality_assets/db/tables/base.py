"""What every table module shares: the two schemas' symbolic names, their declarative bases (one
metadata each), the naming convention of constraints and indexes, and the column types they reuse."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, MetaData, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

REFERENCE = "reference"
EXPERIMENT = "experiment"

JSONDocument = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ReferenceBase(DeclarativeBase):
    metadata = MetaData(schema=REFERENCE, naming_convention=NAMING)


class ExperimentBase(DeclarativeBase):
    metadata = MetaData(schema=EXPERIMENT, naming_convention=NAMING)


def created_column() -> Mapped[datetime]:
    """When the row was written (the database's clock)."""
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
