"""The explorer's essay pages: the essay track's planned and written essays, filtered and paged in
the research database (SQLAlchemy Core over db/tables/essays.py), and an essay in full with its
dimensions, its student persona, its prompt and the topic's research seed.

``essays_page``, ``essay`` and ``filter_choices`` know no web framework; ``ROUTES`` are the
Starlette pages over them."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from sqlalchemy import Connection, func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from personality_assets.db.tables.essays import (
    Essay,
    EssayPersona,
    EssayPrompt,
    EssayTopic,
    EvidencePattern,
    GenerationRun,
    QualityLevel,
    ResearchSeed,
    Stance,
    StyleParameter,
)
from personality_assets.explorer.queries import read_only
from personality_assets.explorer.web import page_number, render

PAGE_SIZE = 50
STATUSES = ("written", "pending", "failed")
# The filter's name for each dimension, and its table of levels.
DIMENSIONS = {"stance": Stance, "evidence": EvidencePattern, "style": StyleParameter, "quality": QualityLevel}


@dataclass(frozen=True)
class EssayFilter:
    """The filters of the essays list; empty strings mean "any". ``topic`` and ``persona`` are ids,
    the four dimensions level keys; ``status``: written, pending (not written yet) or failed (not
    written, the last attempt's error recorded)."""

    topic: str = ""
    stance: str = ""
    evidence: str = ""
    style: str = ""
    quality: str = ""
    persona: str = ""
    status: str = ""

    @classmethod
    def from_query(cls, params) -> EssayFilter:
        return cls(**{f.name: (params.get(f.name) or "").strip() for f in fields(cls)})

    def as_query(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


def _levels():
    return {name: model.__table__.alias(name) for name, model in DIMENSIONS.items()}


def _joined(levels):
    essays, topics, personas = Essay.__table__, EssayTopic.__table__, EssayPersona.__table__
    joined = essays.join(topics, topics.c.id == essays.c.topic_id).join(personas, personas.c.id == essays.c.persona_id)
    for name, level in levels.items():
        joined = joined.join(level, level.c.id == essays.c[f"{name}_id"])
    return joined


def _where(selected: EssayFilter) -> list:
    """The filter as conditions on the essays table alone (a level by its key through a subquery
    on its small table), so that counting needs no join."""
    essays = Essay.__table__
    conditions = []
    if selected.topic.isdigit():
        conditions.append(essays.c.topic_id == int(selected.topic))
    if selected.persona.isdigit():
        conditions.append(essays.c.persona_id == int(selected.persona))
    for name, model in DIMENSIONS.items():
        if getattr(selected, name):
            levels = model.__table__
            conditions.append(
                essays.c[f"{name}_id"].in_(select(levels.c.id).where(levels.c.key == getattr(selected, name)))
            )
    if selected.status == "written":
        conditions.append(essays.c.content.is_not(None))
    elif selected.status == "pending":
        conditions.append(essays.c.content.is_(None))
    elif selected.status == "failed":
        conditions.append(essays.c.content.is_(None) & essays.c.error.is_not(None))
    return conditions


def essays_page(
    connection: Connection, selected: EssayFilter, page: int = 1, size: int = PAGE_SIZE
) -> tuple[list[dict], int]:
    """One page of essays matching ``selected`` (in the order they were planned: by id, each
    topic's in its plan order) and how many match, both counted and sliced in the database (the
    page's rows only are joined with their topic, levels and persona)."""
    essays, topics, personas = Essay.__table__, EssayTopic.__table__, EssayPersona.__table__
    levels = _levels()
    where = _where(selected)
    ids = select(essays.c.id).where(*where).order_by(essays.c.id).limit(size).offset((max(page, 1) - 1) * size)
    ids = ids.subquery()
    query = (
        select(
            essays.c.id,
            essays.c.topic_id,
            topics.c.topic,
            *(level.c.key.label(name) for name, level in levels.items()),
            essays.c.persona_id,
            personas.c.name.label("persona_name"),
            personas.c.background.label("persona_background"),
            essays.c.word_count,
            essays.c.model_name,
            essays.c.error,
            essays.c.content.is_not(None).label("is_written"),
        )
        .select_from(_joined(levels).join(ids, ids.c.id == essays.c.id))
        .order_by(essays.c.id)
    )
    rows = [dict(row) for row in connection.execute(query).mappings()]
    total = connection.execute(select(func.count()).select_from(essays).where(*where)).scalar_one()
    return rows, total


def essay(connection: Connection, essay_id: int) -> dict | None:
    """An essay in full: its row, topic, the four dimension levels (key, label, what they asked of
    the writer), its student persona, its base and modulated prompts, the research seed it was
    written from and the run that wrote it."""
    essays = Essay.__table__
    row = connection.execute(select(essays).where(essays.c.id == essay_id)).mappings().one_or_none()
    if row is None:
        return None
    row = dict(row)

    def by_id(model, key):
        if key is None:
            return None
        found = connection.execute(select(model.__table__).where(model.__table__.c.id == key)).mappings().one_or_none()
        return dict(found) if found is not None else None

    return {
        "essay": row,
        "topic": by_id(EssayTopic, row["topic_id"]),
        "dimensions": {name: by_id(model, row[f"{name}_id"]) for name, model in DIMENSIONS.items()},
        "persona": by_id(EssayPersona, row["persona_id"]),
        "base_prompt": by_id(EssayPrompt, row["base_prompt_id"]),
        "prompt": by_id(EssayPrompt, row["prompt_id"]),
        "seed": by_id(ResearchSeed, row["seed_id"]),
        "run": by_id(GenerationRun, row["generation_run_id"]),
    }


def filter_choices(connection: Connection) -> dict[str, list[tuple[str, str]]]:
    """The values each select filter can take, as (value, shown) pairs: the topics, every level of
    each dimension in the dimensions file's order (levels removed from it included), the statuses."""
    topics = EssayTopic.__table__
    choices = {
        "topic": [(str(i), t) for i, t in connection.execute(select(topics.c.id, topics.c.topic).order_by(topics.c.id))]
    }
    for name, model in DIMENSIONS.items():
        table = model.__table__
        choices[name] = [
            (key, label if active else f"{label} (removed)")
            for key, label, active in connection.execute(
                select(table.c.key, table.c.label, table.c.active).order_by(table.c.position, table.c.id)
            )
        ]
    choices["status"] = [(status, status) for status in STATUSES]
    return choices


# --- pages -----------------------------------------------------------------------------------------


def essays_list(request: Request):
    selected = EssayFilter.from_query(request.query_params)
    page = page_number(request)
    with read_only(request.app.state.target) as connection:
        rows, total = essays_page(connection, selected, page)
        choices = filter_choices(connection)
    return render(
        request,
        "essays.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages": max(1, math.ceil(total / PAGE_SIZE)),
            "selected": selected,
            "choices": choices,
        },
    )


def essay_page(request: Request):
    essay_id = request.path_params["essay_id"]
    with read_only(request.app.state.target) as connection:
        shown = essay(connection, essay_id)
    if shown is None:
        raise HTTPException(404, f"no essay {essay_id}")
    return render(request, "essays_essay.html", shown)


ROUTES = [
    Route("/essays", essays_list, name="essays"),
    Route("/essays/{essay_id:int}", essay_page, name="essay"),
]
