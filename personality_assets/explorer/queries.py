"""What the explorer reads, as plain SQLAlchemy Core queries paged and filtered in the database
(so the first page stays fast at the original study's scale). No web framework here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields

from sqlalchemy import Connection, and_, case, func, select

from personality_assets.db.engine import DatabaseTarget, get_engine
from personality_assets.db.tables.persona_study import ExperimentsGroup, ExperimentsList, Persona
from personality_assets.defs.persona_study.presentation import FACTORS

PAGE_SIZE = 50
# An experiment's status as the explorer filters it: succeeded true/false/NULL in experiments_list.
STATUSES = ("answered", "failed", "pending")


@contextmanager
def read_only(target: DatabaseTarget) -> Iterator[Connection]:
    """A connection whose transaction is always rolled back: the explorer never writes."""
    with get_engine(target).connect() as connection:
        try:
            yield connection
        finally:
            connection.rollback()


@dataclass(frozen=True)
class ExperimentFilter:
    """The filters of the experiments list; empty strings mean "any"."""

    model: str = ""
    population: str = ""
    questionnaire: str = ""
    persona: str = ""  # a persona id
    status: str = ""  # one of STATUSES
    item_order: str = ""
    option_order: str = ""
    wording: str = ""

    @classmethod
    def from_query(cls, params) -> ExperimentFilter:
        return cls(**{f.name: (params.get(f.name) or "").strip() for f in fields(cls)})

    def as_query(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


def _experiment_columns():
    experiments, groups = ExperimentsList.__table__, ExperimentsGroup.__table__
    return (
        experiments,
        groups,
        [
            experiments.c.experiment_id,
            groups.c.model,
            groups.c.population,
            experiments.c.questionnaire,
            experiments.c.personality_id.label("persona_id"),
            experiments.c.repeated,
            case(
                (experiments.c.succeeded.is_(True), "answered"),
                (experiments.c.llm_explanation.is_not(None), "failed"),
                else_="pending",
            ).label("status"),
            experiments.c.llm_explanation.label("reason"),
            *(func.coalesce(groups.c[factor], base).label(factor) for factor, base in FACTORS.items()),
        ],
    )


def _where(experiments, groups, selected: ExperimentFilter):
    conditions = []
    for name in ("model", "population"):
        if getattr(selected, name):
            conditions.append(groups.c[name] == getattr(selected, name))
    if selected.questionnaire:
        conditions.append(experiments.c.questionnaire == selected.questionnaire)
    if selected.persona.isdigit():
        conditions.append(experiments.c.personality_id == int(selected.persona))
    if selected.status == "answered":
        conditions.append(experiments.c.succeeded.is_(True))
    elif selected.status == "failed":
        conditions.append(and_(experiments.c.succeeded.is_not(True), experiments.c.llm_explanation.is_not(None)))
    elif selected.status == "pending":
        conditions.append(and_(experiments.c.succeeded.is_not(True), experiments.c.llm_explanation.is_(None)))
    for factor, base in FACTORS.items():
        if getattr(selected, factor):
            conditions.append(func.coalesce(groups.c[factor], base) == getattr(selected, factor))
    return conditions


def experiments_page(
    connection: Connection, selected: ExperimentFilter, page: int = 1, size: int = PAGE_SIZE
) -> tuple[list[dict], int]:
    """One page of experiments matching ``selected`` (newest registrations last) and how many match."""
    experiments, groups, columns = _experiment_columns()
    joined = experiments.join(groups, groups.c.experiments_group_id == experiments.c.experiments_group_id)
    where = _where(experiments, groups, selected)
    query = (
        select(*columns)
        .select_from(joined)
        .where(*where)
        .order_by(experiments.c.experiment_id)
        .limit(size)
        .offset((max(page, 1) - 1) * size)
    )
    rows = [dict(row) for row in connection.execute(query).mappings()]
    total = connection.execute(select(func.count()).select_from(joined).where(*where)).scalar_one()
    return rows, total


def studies(connection: Connection) -> list[dict]:
    """Per model × population: experiments answered, failed and pending, and personas."""
    experiments, groups, _ = _experiment_columns()
    query = (
        select(
            groups.c.model,
            groups.c.population,
            func.count().label("experiments"),
            func.sum(case((experiments.c.succeeded.is_(True), 1), else_=0)).label("answered"),
            func.sum(
                case(
                    (and_(experiments.c.succeeded.is_not(True), experiments.c.llm_explanation.is_not(None)), 1), else_=0
                )
            ).label("failed"),
            func.count(func.distinct(experiments.c.personality_id)).label("personas"),
        )
        .select_from(experiments.join(groups, groups.c.experiments_group_id == experiments.c.experiments_group_id))
        .group_by(groups.c.model, groups.c.population)
        .order_by(groups.c.model, groups.c.population)
    )
    rows = [dict(row) for row in connection.execute(query).mappings()]
    for row in rows:
        row["pending"] = row["experiments"] - row["answered"] - row["failed"]
    return rows


def filter_choices(connection: Connection) -> dict[str, list[str]]:
    """The values each filter can take, from the registrations (a small table)."""
    groups = ExperimentsGroup.__table__
    choices = {}
    for name in ("model", "population", "questionnaire", *FACTORS):
        column = func.coalesce(groups.c[name], FACTORS[name]) if name in FACTORS else groups.c[name]
        choices[name] = sorted(v for v in connection.execute(select(column).distinct()).scalars() if v is not None)
    choices["status"] = list(STATUSES)
    return choices


def persona_count(connection: Connection) -> int:
    return connection.execute(select(func.count()).select_from(Persona.__table__)).scalar_one()
