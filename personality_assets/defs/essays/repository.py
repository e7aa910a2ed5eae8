"""The persona repository: student personas stored once and reused across topics.

Every lookup runs in the database on indexed tables (``essay_persona_attributes`` by kind and
value, ``essay_persona_keywords`` by keyword), so finding personas among tens of thousands reads
only the matching rows.

Topic compatibility (the original system's weights)::

    score = min(1, 0.3 * I + 0.2 * B)

where K is the topic's keywords (:func:`keywords`), I the number of the persona's interests that
share at least one keyword with K, and B is 1 when the persona's background shares one, else 0.
So one matching interest scores 0.3, a matching background alone 0.2, and four matching interests
reach the cap. A persona writes at most one essay per topic (personas already used for the topic
are excluded, and ``persona_usage`` refuses a second use), and at most ``max_uses`` essays in all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Select, and_, case, exists, func, insert, literal, or_, select

from personality_assets.db.tables.essays import EssayPersona, EssayPersonaAttribute, EssayPersonaKeyword, PersonaUsage

INTEREST_WEIGHT = 0.3
BACKGROUND_WEIGHT = 0.2
ATTRIBUTE_KINDS = ("strength", "weakness", "interest")

# Words too common to say what a topic or an interest is about.
STOPWORDS = frozenset(
    """about above after again against all also among and any are because been before being below
    between both but can could did does doing down during each few for from further had has have
    having her here hers him his how into its itself just more most much must nor not now off once
    only other our ours out over own same she should some such than that the their theirs them then
    there these they this those through too under until very was were what when where which while
    who whom why will with would you your yours ought shall may might should schools school""".split()
)


def normalise(value: str) -> str:
    return " ".join(value.lower().split())


def keywords(text: str) -> list[str]:
    """Content words of a text: lower case, three letters or more, stop words dropped, plurals made
    singular the simple way (``teenagers``, ``classes``, ``policies``), each once, in order."""
    found: list[str] = []
    for word in re.findall(r"[a-z]+", text.lower()):
        if len(word) < 3 or word in STOPWORDS:
            continue
        if len(word) > 4 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
            word = word[:-2]
        elif len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        if word not in found:
            found.append(word)
    return found


def compatibility(topic_keywords: Iterable[str], background: str, interests: Sequence[str]) -> float:
    """The formula above, in Python (the repository computes the same in SQL)."""
    wanted = set(topic_keywords)
    matching_interests = sum(bool(wanted & set(keywords(interest))) for interest in interests)
    matching_background = bool(wanted & set(keywords(background)))
    return _score(matching_interests, int(matching_background))


def _score(interests: int, background: int) -> float:
    tenths = 3 * interests + 2 * background  # in tenths, so scores compare exactly
    return min(tenths, 10) / 10


@dataclass(frozen=True)
class NewPersona:
    name: str | None
    background: str
    strengths: list[str]
    weaknesses: list[str]
    interests: list[str]


@dataclass(frozen=True)
class Candidate:
    persona_id: int
    score: float
    uses: int


def add_persona(
    connection: Connection,
    persona: NewPersona,
    model: str,
    request_key: str,
    simulated: bool,
    topic_id: int | None = None,
) -> int:
    """Stores a persona with its attribute and keyword rows; returns its id."""
    persona_id = connection.execute(
        insert(EssayPersona)
        .values(
            name=persona.name,
            background=persona.background,
            strengths=persona.strengths,
            weaknesses=persona.weaknesses,
            interests=persona.interests,
            model=model,
            created_for_topic_id=topic_id,
            request_key=request_key,
            simulated=simulated,
        )
        .returning(EssayPersona.id)
    ).scalar_one()
    attributes = [
        {"persona_id": persona_id, "kind": "background", "position": 0, "value": normalise(persona.background)[:200]}
    ]
    for kind, values in (
        ("strength", persona.strengths),
        ("weakness", persona.weaknesses),
        ("interest", persona.interests),
    ):
        attributes += [
            {"persona_id": persona_id, "kind": kind, "position": i, "value": normalise(v)[:200]}
            for i, v in enumerate(values)
        ]
    connection.execute(insert(EssayPersonaAttribute), attributes)
    words = [
        {"persona_id": persona_id, "kind": "background", "position": 0, "keyword": w}
        for w in keywords(persona.background)
    ]
    for position, interest in enumerate(persona.interests):
        words += [
            {"persona_id": persona_id, "kind": "interest", "position": position, "keyword": w}
            for w in keywords(interest)
        ]
    if words:
        connection.execute(insert(EssayPersonaKeyword), [{**w, "keyword": w["keyword"][:64]} for w in words])
    return persona_id


def find_by_background(connection: Connection, background: str) -> list[int]:
    """Personas whose background is exactly this (case and spacing ignored)."""
    table = EssayPersonaAttribute.__table__
    query = select(table.c.persona_id).where(table.c.kind == "background", table.c.value == normalise(background))
    return sorted(connection.execute(query).scalars())


def find_by_attributes(
    connection: Connection,
    strengths: Sequence[str] = (),
    weaknesses: Sequence[str] = (),
    interests: Sequence[str] = (),
    require_all: bool = False,
) -> list[int]:
    """Personas having any (or, with ``require_all``, every) one of these attributes."""
    table = EssayPersonaAttribute.__table__
    wanted = {
        (kind, normalise(value))
        for kind, values in (("strength", strengths), ("weakness", weaknesses), ("interest", interests))
        for value in values
    }
    if not wanted:
        return []
    matches = [and_(table.c.kind == kind, table.c.value == value) for kind, value in sorted(wanted)]
    query = select(table.c.persona_id).where(or_(*matches)).group_by(table.c.persona_id)
    if require_all:
        # Count distinct (kind, value) pairs: the same value can be a strength and an interest.
        query = query.having(func.count(func.distinct(table.c.kind + literal(":") + table.c.value)) == len(wanted))
    return sorted(connection.execute(query).scalars())


def usage_count(connection: Connection, persona_id: int) -> int:
    table = PersonaUsage.__table__
    return connection.execute(select(func.count()).where(table.c.persona_id == persona_id)).scalar_one()


def usage_history(connection: Connection, persona_id: int, limit: int = 10) -> list[dict]:
    """The persona's latest uses, newest first: topic, stance, essay."""
    table = PersonaUsage.__table__
    query = (
        select(table.c.topic_id, table.c.stance_id, table.c.essay_id, table.c.compatibility, table.c.created)
        .where(table.c.persona_id == persona_id)
        .order_by(table.c.id.desc())
        .limit(limit)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def compatible_personas(
    connection: Connection,
    topic_keywords: Sequence[str],
    topic_id: int | None = None,
    min_score: float = 0.3,
    max_uses: int | None = None,
    limit: int | None = None,
) -> list[Candidate]:
    """Personas for a topic, best first (score, then fewest uses, then oldest): those scoring at
    least ``min_score``, not yet used for ``topic_id`` and used fewer than ``max_uses`` times."""
    query = compatible_personas_query(topic_keywords, topic_id, min_score, max_uses, limit)
    return [Candidate(row.id, row.tenths / 10, row.uses) for row in connection.execute(query)]


def compatible_personas_query(
    topic_keywords: Sequence[str],
    topic_id: int | None = None,
    min_score: float = 0.3,
    max_uses: int | None = None,
    limit: int | None = None,
) -> Select:
    """The statement behind :func:`compatible_personas` (columns id, tenths, uses)."""
    keyword_table, personas, usage = (
        EssayPersonaKeyword.__table__,
        EssayPersona.__table__,
        PersonaUsage.__table__,
    )
    hits = (
        select(
            keyword_table.c.persona_id,
            func.count(func.distinct(case((keyword_table.c.kind == "interest", keyword_table.c.position)))).label(
                "interests"
            ),
            func.max(case((keyword_table.c.kind == "background", 1), else_=0)).label("background"),
        )
        .where(keyword_table.c.keyword.in_(sorted(set(topic_keywords)) or [""]))
        .group_by(keyword_table.c.persona_id)
        .subquery()
    )
    tenths = 3 * func.coalesce(hits.c.interests, 0) + 2 * func.coalesce(hits.c.background, 0)
    capped = case((tenths >= 10, 10), else_=tenths)
    uses = select(func.count()).where(usage.c.persona_id == personas.c.id).correlate(personas).scalar_subquery()
    if min_score > 0:  # only personas with a matching keyword: the keyword index finds them
        source = personas.join(hits, hits.c.persona_id == personas.c.id)
    else:
        source = personas.outerjoin(hits, hits.c.persona_id == personas.c.id)
    query = select(personas.c.id, capped.label("tenths"), uses.label("uses")).select_from(source)
    conditions = [capped >= math.ceil(min_score * 10 - 1e-9)]  # scores are whole tenths
    if topic_id is not None:
        conditions.append(~exists().where(usage.c.persona_id == personas.c.id, usage.c.topic_id == topic_id))
    if max_uses is not None:
        conditions.append(uses < max_uses)
    return query.where(*conditions).order_by(capped.desc(), uses.asc(), personas.c.id).limit(limit)
