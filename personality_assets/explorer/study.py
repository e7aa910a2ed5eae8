"""The persona study's drill-down as plain SQLAlchemy Core queries, no web framework: a persona
with its reference person and every experiment it answered (prompt, raw reply, parsed answers,
scores, usage, retries and errors), one experiment's request history, the failures, two sets of
experiments side by side, and a search over persona descriptions. Paging, filtering and the
side-by-side statistics happen in the database; only a page of rows comes back."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, fields

from sqlalchemy import Connection, func, or_, select, union

from personality_assets.db.tables.persona_study import (
    EvalQuestionnaire,
    ExperimentRequestMetadata,
    ExperimentsGroup,
    Persona,
    QuestionnaireScore,
)
from personality_assets.db.tables.reference import ReferenceQuestionnaire
from personality_assets.db.tables.usage import LLMCall
from personality_assets.defs.persona_study.presentation import FACTORS
from personality_assets.explorer.queries import PAGE_SIZE, _experiment_columns
from personality_assets.questionnaires import Questionnaire, QuestionnaireError, get_questionnaire

# The engine's purposes the persona study registers (defs/persona_study/simulate.py).
STUDY_PURPOSES = ("persona", "questionnaire")
FAILED_CALL_STATUSES = ("invalid", "failed")
PERSONA_FIELDS = (
    "name",
    "age",
    "gender",
    "gender_original",
    "sexual_orientation",
    "sexual_orientation_original",
    "race",
    "race_original",
    "ethnicity",
    "religious_belief",
    "occupation",
    "political_orientation",
    "location",
)
# llm_calls.tag of an answering call: str((experiment_id, questionnaire, option_order)).
_TAG_EXPERIMENT = re.compile(r"^\((\d+), ")


def questionnaire_definition(name: str) -> Questionnaire | None:
    """The questionnaire's definition, or None if it is no longer defined here."""
    try:
        return get_questionnaire(name)
    except QuestionnaireError:
        return None


def questionnaire_title(name: str) -> str:
    definition = questionnaire_definition(name)
    return definition.title if definition and definition.title else name


def scale_title(questionnaire: str, scale: str) -> str:
    definition = questionnaire_definition(questionnaire)
    return definition.scales.get(scale, scale) if definition else scale


# --- what was sent and what came back, whichever provider's shape ---------------------------


def _text_parts(content) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return "" if content is None else str(content)


def prompt_messages(request_json) -> list[tuple[str, str]]:
    """(role, text) of every message sent: the simulator's [role, text] pairs, OpenAI's
    {"role", "content"} and Bedrock Converse's separate "system" list and content blocks."""
    if not isinstance(request_json, dict):
        return []
    messages = []
    if isinstance(request_json.get("system"), list):
        messages.append(("system", _text_parts(request_json["system"])))
    for message in request_json.get("messages") or []:
        if isinstance(message, list | tuple) and len(message) == 2:
            messages.append((str(message[0]), _text_parts(message[1])))
        elif isinstance(message, dict):
            messages.append((str(message.get("role", "?")), _text_parts(message.get("content"))))
    return messages


def reply_text(response_json) -> str | None:
    """The model's reply as text from a stored response: the simulator's, OpenAI's or Bedrock's."""
    if not isinstance(response_json, dict):
        return None
    if isinstance(response_json.get("text"), str):
        return response_json["text"]
    try:
        return response_json["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        pass
    content = (response_json.get("output") or {}).get("message", {}).get("content")
    return _text_parts(content) if content is not None else None


# --- personas and experiments ------------------------------------------------------------------


def persona(connection: Connection, persona_id: int) -> dict | None:
    row = connection.execute(select(Persona.__table__).where(Persona.__table__.c.id == persona_id)).mappings().first()
    return dict(row) if row else None


def experiments_of(connection: Connection, *, persona_id: int | None = None, experiment_id: int | None = None):
    """The experiments (with model, population, presentation and status) of a persona, or one."""
    experiments, groups, columns = _experiment_columns()
    query = (
        select(
            *columns,
            experiments.c.experiments_group_id,
            experiments.c.created,
            experiments.c.updated,
            groups.c.temperature,
            groups.c.top_p,
        )
        .select_from(experiments.join(groups, groups.c.experiments_group_id == experiments.c.experiments_group_id))
        .order_by(experiments.c.questionnaire, experiments.c.experiment_id)
    )
    if persona_id is not None:
        query = query.where(experiments.c.personality_id == persona_id)
    if experiment_id is not None:
        query = query.where(experiments.c.experiment_id == experiment_id)
    return [dict(row) for row in connection.execute(query).mappings()]


def _request(row: dict) -> dict:
    metadata = row["request_metadata"] or {}
    return {
        "id": row["id"],
        "created": row["created"],
        "messages": prompt_messages(row["request_json"]),
        "request_json": row["request_json"],
        "reply": reply_text(row["response_json"]),
        "response_json": row["response_json"],
        "metadata": metadata,
        "retries": max(int(metadata.get("attempts") or 1) - 1, 0),
        "prompt_from_call": None,
    }


def _calls_of(connection: Connection, experiment_ids: list[int]) -> dict[int, list[dict]]:
    """The engine's answering calls (llm_calls, after their retries) of these experiments, by id."""
    calls = LLMCall.__table__
    if not experiment_ids:
        return {}
    query = (
        select(
            calls.c.id,
            calls.c.created,
            calls.c.tag,
            calls.c.status,
            calls.c.attempts,
            calls.c.error,
            calls.c.response_text,
            calls.c.request_json,
            calls.c.input_tokens,
            calls.c.output_tokens,
            calls.c.latency_ms,
            calls.c.cost_usd,
        )
        .where(calls.c.purpose == "questionnaire")
        .where(or_(*(calls.c.tag.like(f"({i}, %") for i in experiment_ids)))
        .order_by(calls.c.id)
    )
    found = defaultdict(list)
    for row in connection.execute(query).mappings():
        found[int(_TAG_EXPERIMENT.match(row["tag"]).group(1))].append(dict(row))
    return found


def experiment_details(connection: Connection, rows: list[dict]) -> list[dict]:
    """Each experiment of ``rows`` with its requests (oldest first), answers, scores and calls."""
    ids = [row["experiment_id"] for row in rows]
    metadata = ExperimentRequestMetadata.__table__
    answers = EvalQuestionnaire.__table__
    scores = QuestionnaireScore.__table__
    requests = defaultdict(list)
    for row in connection.execute(
        select(metadata).where(metadata.c.experiment_id.in_(ids)).order_by(metadata.c.id)
    ).mappings():
        requests[row["experiment_id"]].append(_request(dict(row)))
    answered = defaultdict(dict)
    for row in connection.execute(
        select(answers.c.experiment_id, answers.c.question_number, answers.c.answer).where(
            answers.c.experiment_id.in_(ids)
        )
    ):
        answered[row.experiment_id][row.question_number] = row.answer
    scored = defaultdict(list)
    for row in connection.execute(
        select(scores).where(scores.c.experiment_id.in_(ids)).order_by(scores.c.experiment_id, scores.c.scale)
    ).mappings():
        scored[row["experiment_id"]].append({**row, "scale_title": scale_title(row["questionnaire"], row["scale"])})
    calls = _calls_of(connection, ids)
    details = []
    for row in rows:
        history = requests.get(row["experiment_id"], [])
        answered_calls = [c for c in calls.get(row["experiment_id"], []) if c["status"] == "ok"]
        for request in history:
            # A reply served from the engine's cache stores no request: what was sent is the
            # request of the call that answered it (llm_calls, the cache).
            if request["request_json"] is None and request["metadata"].get("cached") and answered_calls:
                call = answered_calls[-1]
                request |= {
                    "messages": prompt_messages(call["request_json"]),
                    "request_json": call["request_json"],
                    "prompt_from_call": call["id"],
                }
        details.append(
            {
                **row,
                "questionnaire_title": questionnaire_title(row["questionnaire"]),
                "requests": history,
                "last_request": history[-1] if history else None,
                "answers": answered.get(row["experiment_id"], {}),
                "scores": scored.get(row["experiment_id"], []),
                "calls": calls.get(row["experiment_id"], []),
            }
        )
    return details


def reference_answers(connection: Connection, population: str | None, personality_id: int) -> dict[str, dict]:
    """A reference person's answers: questionnaire -> question number -> answer code."""
    table = ReferenceQuestionnaire.__table__
    found = defaultdict(dict)
    if population is None:
        return found
    query = select(table.c.questionnaire, table.c.question_number, table.c.answer).where(
        table.c.population == population, table.c.personality_id == personality_id
    )
    for row in connection.execute(query):
        found[row.questionnaire][row.question_number] = row.answer
    return found


def answer_tables(details: list[dict], reference: dict[str, dict]) -> list[dict]:
    """Per questionnaire: each item with the reference person's answer beside each experiment's,
    in the questionnaire's own codes, with their labels."""
    by_questionnaire = defaultdict(list)
    for detail in details:
        by_questionnaire[detail["questionnaire"]].append(detail)
    for name in reference:
        by_questionnaire.setdefault(name, [])
    tables = []
    for name in sorted(by_questionnaire):
        experiments = by_questionnaire[name]
        definition = questionnaire_definition(name)
        labels = definition.answer_codes if definition else {}
        person = reference.get(name, {})
        if definition:
            items = definition.items.select("number", "code", "scale", "text").to_dicts()
        else:
            numbers = sorted(set(person) | {n for e in experiments for n in e["answers"]})
            items = [{"number": n, "code": str(n), "scale": "", "text": None} for n in numbers]
        rows = []
        for item in items:
            number = item["number"]
            rows.append(
                {
                    **item,
                    "scale_title": definition.scales.get(item["scale"], item["scale"]) if definition else "",
                    "reference": _coded(person.get(number), labels),
                    "answers": [_coded(e["answers"].get(number), labels) for e in experiments],
                }
            )
        tables.append(
            {
                "questionnaire": name,
                "title": questionnaire_title(name),
                "experiments": experiments,
                "rows": rows,
                "scales": _scale_rows(definition, experiments),
                "has_reference": bool(person),
            }
        )
    return tables


def _scale_rows(definition: Questionnaire | None, experiments: list[dict]) -> list[dict]:
    """Per scale: its title, the reference person's score and each experiment's (None: not scored)."""
    scored = [{s["scale"]: s for s in e["scores"]} for e in experiments]
    codes = list(definition.scales) if definition else sorted({code for by_scale in scored for code in by_scale})
    rows = []
    for code in codes:
        found = [by_scale.get(code) for by_scale in scored]
        reference = next((s["reference_score"] for s in found if s is not None), None)
        rows.append(
            {
                "scale": code,
                "title": definition.scales.get(code, code) if definition else code,
                "reference_score": reference,
                "scores": [s["score"] if s is not None else None for s in found],
            }
        )
    return rows


def _coded(code: int | None, labels: dict[int, str]) -> dict | None:
    return None if code is None else {"code": code, "label": labels.get(code, "")}


def persona_page(connection: Connection, persona_id: int) -> dict | None:
    """Everything the persona page shows, or None for an unknown persona."""
    found = persona(connection, persona_id)
    if found is None:
        return None
    details = experiment_details(connection, experiments_of(connection, persona_id=persona_id))
    reference = reference_answers(connection, found["ref_population"], found["ref_personality_id"])
    return {"persona": found, "experiments": details, "answer_tables": answer_tables(details, reference)}


def experiment_page(connection: Connection, experiment_id: int) -> dict | None:
    rows = experiments_of(connection, experiment_id=experiment_id)
    if not rows:
        return None
    details = experiment_details(connection, rows)
    found = persona(connection, rows[0]["persona_id"])
    reference = (
        {
            name: answers
            for name, answers in reference_answers(
                connection, found["ref_population"], found["ref_personality_id"]
            ).items()
            if name == rows[0]["questionnaire"]
        }
        if found
        else {}
    )
    return {"persona": found, "experiment": details[0], "answer_tables": answer_tables(details, reference)}


def search_personas(
    connection: Connection, text: str = "", model: str = "", population: str = "", page: int = 1, size: int = PAGE_SIZE
) -> tuple[list[dict], int]:
    """Personas whose description contains ``text`` (case-insensitive LIKE), paged, and how many."""
    table = Persona.__table__
    conditions = []
    if text:
        conditions.append(table.c.description.icontains(text, autoescape=True))
    if model:
        conditions.append(table.c.model == model)
    if population:
        conditions.append(table.c.ref_population == population)
    query = (
        select(
            table.c.id,
            table.c.model,
            table.c.ref_population,
            table.c.ref_personality_id,
            table.c.name,
            table.c.age,
            table.c.occupation,
            table.c.description,
        )
        .where(*conditions)
        .order_by(table.c.id)
        .limit(size)
        .offset((max(page, 1) - 1) * size)
    )
    rows = [dict(row) for row in connection.execute(query).mappings()]
    total = connection.execute(select(func.count()).select_from(table).where(*conditions)).scalar_one()
    return rows, total


# --- failures -------------------------------------------------------------------------------------


def failure_reasons(connection: Connection) -> list[dict]:
    """The experiments that failed (still unanswered, with the reason of their last attempt), per
    model, population and reason, most frequent first."""
    experiments, groups, _ = _experiment_columns()
    query = (
        select(
            groups.c.model, groups.c.population, experiments.c.llm_explanation.label("reason"), func.count().label("n")
        )
        .select_from(experiments.join(groups, groups.c.experiments_group_id == experiments.c.experiments_group_id))
        .where(experiments.c.succeeded.is_not(True), experiments.c.llm_explanation.is_not(None))
        .group_by(groups.c.model, groups.c.population, experiments.c.llm_explanation)
        .order_by(func.count().desc(), groups.c.model, groups.c.population)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def failed_calls(
    connection: Connection, model: str = "", page: int = 1, size: int = PAGE_SIZE
) -> tuple[list[dict], int]:
    """The persona study's calls whose reply was invalid or that failed (llm_calls, newest first),
    with the error and the raw text that failed validation, paged, and how many."""
    calls = LLMCall.__table__
    conditions = [calls.c.purpose.in_(STUDY_PURPOSES), calls.c.status.in_(FAILED_CALL_STATUSES)]
    if model:
        conditions.append(calls.c.model == model)
    query = (
        select(
            calls.c.id,
            calls.c.created,
            calls.c.model,
            calls.c.purpose,
            calls.c.status,
            calls.c.attempts,
            calls.c.error,
            calls.c.response_text,
            calls.c.tag,
        )
        .where(*conditions)
        .order_by(calls.c.id.desc())
        .limit(size)
        .offset((max(page, 1) - 1) * size)
    )
    rows = []
    for row in connection.execute(query).mappings():
        match = _TAG_EXPERIMENT.match(row["tag"] or "") if row["purpose"] == "questionnaire" else None
        rows.append({**row, "experiment_id": int(match.group(1)) if match else None})
    total = connection.execute(select(func.count()).select_from(calls).where(*conditions)).scalar_one()
    return rows, total


# --- side by side ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One set of experiments: a model, a population (condition) and a presentation; empty means any."""

    model: str = ""
    population: str = ""
    item_order: str = ""
    option_order: str = ""
    wording: str = ""

    @classmethod
    def from_query(cls, params, prefix: str) -> Side:
        return cls(**{f.name: (params.get(f"{prefix}_{f.name}") or "").strip() for f in fields(cls)})

    def as_query(self, prefix: str) -> dict[str, str]:
        return {f"{prefix}_{f.name}": getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    @property
    def label(self) -> str:
        parts = [self.model or "any model", self.population or "any population"]
        parts += [getattr(self, factor) for factor in FACTORS if getattr(self, factor)]
        return " · ".join(parts)


def _side_scores(side: Side, questionnaire: str, scale: str):
    """questionnaire_scores rows of one side (joined to their group for the presentation)."""
    scores, groups = QuestionnaireScore.__table__, ExperimentsGroup.__table__
    conditions = [scores.c.questionnaire == questionnaire, scores.c.scale == scale]
    if side.model:
        conditions.append(scores.c.model == side.model)
    if side.population:
        conditions.append(scores.c.population == side.population)
    for factor, base in FACTORS.items():
        if getattr(side, factor):
            conditions.append(func.coalesce(groups.c[factor], base) == getattr(side, factor))
    joined = scores.join(groups, groups.c.experiments_group_id == scores.c.experiments_group_id)
    return scores, joined, conditions


def _mean_sd(n: int, total: float | None, squares: float | None) -> tuple[float | None, float | None]:
    if not n:
        return None, None
    mean = total / n
    if n < 2:
        return mean, None
    variance = max((squares - n * mean * mean) / (n - 1), 0.0)
    return mean, math.sqrt(variance)


def side_summary(connection: Connection, side: Side, questionnaire: str, scale: str) -> dict:
    """n, mean and sd of the side's scores (one per experiment), and of the reference people's
    scores on the same scale (one per person answered for)."""
    scores, joined, conditions = _side_scores(side, questionnaire, scale)
    row = connection.execute(
        select(func.count(), func.sum(scores.c.score), func.sum(scores.c.score * scores.c.score))
        .select_from(joined)
        .where(*conditions)
    ).one()
    people = (
        select(scores.c.ref_personality_id, scores.c.population, func.max(scores.c.reference_score).label("ref"))
        .select_from(joined)
        .where(*conditions)
        .group_by(scores.c.population, scores.c.ref_personality_id)
        .subquery()
    )
    reference = connection.execute(
        select(func.count(people.c.ref), func.sum(people.c.ref), func.sum(people.c.ref * people.c.ref))
    ).one()
    mean, sd = _mean_sd(row[0], row[1], row[2])
    ref_mean, ref_sd = _mean_sd(reference[0], reference[1], reference[2])
    return {
        "n": row[0],
        "mean": mean,
        "sd": sd,
        "people": reference[0],
        "reference_mean": ref_mean,
        "reference_sd": ref_sd,
    }


def _per_person(side: Side, questionnaire: str, scale: str, name: str):
    scores, joined, conditions = _side_scores(side, questionnaire, scale)
    return (
        select(
            scores.c.ref_personality_id.label("person"),
            func.avg(scores.c.score).label("score"),
            func.count().label("n"),
            func.max(scores.c.reference_score).label("reference_score"),
            func.min(scores.c.persona_id).label("persona_id"),
            func.count(func.distinct(scores.c.persona_id)).label("personas"),
        )
        .select_from(joined)
        .where(*conditions)
        .group_by(scores.c.ref_personality_id)
        .subquery(name)
    )


def comparison_page(
    connection: Connection, questionnaire: str, scale: str, a: Side, b: Side, page: int = 1, size: int = PAGE_SIZE
) -> tuple[list[dict], int]:
    """Per reference person (by personality_id): the reference score, and the mean score of the
    person's experiments under A and under B (with their persona), paged in the database."""
    side_a, side_b = _per_person(a, questionnaire, scale, "a"), _per_person(b, questionnaire, scale, "b")
    people = union(select(side_a.c.person), select(side_b.c.person)).subquery("people")
    query = (
        select(
            people.c.person,
            side_a.c.reference_score.label("reference_a"),
            side_b.c.reference_score.label("reference_b"),
            side_a.c.score.label("score_a"),
            side_a.c.n.label("n_a"),
            side_a.c.persona_id.label("persona_a"),
            side_a.c.personas.label("personas_a"),
            side_b.c.score.label("score_b"),
            side_b.c.n.label("n_b"),
            side_b.c.persona_id.label("persona_b"),
            side_b.c.personas.label("personas_b"),
        )
        .select_from(
            people.outerjoin(side_a, side_a.c.person == people.c.person).outerjoin(
                side_b, side_b.c.person == people.c.person
            )
        )
        .order_by(people.c.person)
        .limit(size)
        .offset((max(page, 1) - 1) * size)
    )
    rows = [dict(row) for row in connection.execute(query).mappings()]
    for row in rows:
        row["difference"] = (
            row["score_b"] - row["score_a"] if row["score_a"] is not None and row["score_b"] is not None else None
        )
    total = connection.execute(select(func.count()).select_from(people)).scalar_one()
    return rows, total


def score_counts(connection: Connection, side: Side, questionnaire: str, scale: str) -> dict[str, dict[float, int]]:
    """How many experiments of the side scored each value, and how many of its reference people."""
    scores, joined, conditions = _side_scores(side, questionnaire, scale)
    counts = dict(
        connection.execute(
            select(scores.c.score, func.count()).select_from(joined).where(*conditions).group_by(scores.c.score)
        ).all()
    )
    people = (
        select(func.max(scores.c.reference_score).label("ref"))
        .select_from(joined)
        .where(*conditions, scores.c.reference_score.is_not(None))
        .group_by(scores.c.population, scores.c.ref_personality_id)
        .subquery()
    )
    reference = dict(connection.execute(select(people.c.ref, func.count()).group_by(people.c.ref)).all())
    return {"scores": counts, "reference": reference}


def histogram(series: dict[str, dict[float, int]], bins: int = 12) -> dict:
    """Counts per equal-width bin over the range of every series (values -> counts per series)."""
    values = [v for counts in series.values() for v in counts]
    if not values:
        return {"edges": [], "counts": {}}
    low, high = min(values), max(values)
    width = (high - low) / bins if high > low else 1.0
    edges = [low + i * width for i in range(bins + 1)]
    binned = {}
    for name, counts in series.items():
        totals = [0] * bins
        for value, count in counts.items():
            index = min(int((value - low) / width), bins - 1) if high > low else 0
            totals[index] += count
        binned[name] = totals
    return {"edges": edges, "counts": binned}


def histogram_svg(histogram_data: dict, colours: dict[str, str], width: int = 560, height: int = 180) -> str:
    """A grouped bar chart of ``histogram`` as inline SVG (each series as shares of its total)."""
    edges, counts = histogram_data["edges"], histogram_data["counts"]
    if not edges:
        return ""
    bins = len(edges) - 1
    shares = {name: [c / (sum(values) or 1) for c in values] for name, values in counts.items()}
    top = max((s for values in shares.values() for s in values), default=0) or 1
    pad, right, bottom = 30, 24, 36  # the last tick's label and the axis title fit inside
    slot = (width - pad - right) / bins
    bar = slot * 0.8 / max(len(shares), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" class="histogram">',
        f'<line x1="{pad}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#999"/>',
        f'<text x="{(width + pad - right) / 2:.1f}" y="{height - 4}" font-size="11" text-anchor="middle">'
        "scale score (bars: share of each set's scores per bin)</text>",
    ]
    for i in range(bins):
        x0 = pad + i * slot + slot * 0.1
        for j, (name, values) in enumerate(shares.items()):
            h = (height - bottom - 8) * values[i] / top
            parts.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{height - bottom - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colours.get(name, "#888")}"><title>{name}: {counts[name][i]} in '
                f"[{edges[i]:.2f}, {edges[i + 1]:.2f}]</title></rect>"
            )
    for i in (0, bins // 2, bins):
        parts.append(
            f'<text x="{pad + i * slot:.1f}" y="{height - 20}" font-size="11" text-anchor="middle">{edges[i]:.2f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def compare_choices(questionnaires: list[str]) -> list[dict]:
    """The questionnaires registered (names from filter_choices) with their scales and titles."""
    choices = []
    for name in questionnaires:
        definition = questionnaire_definition(name)
        scales = definition.scales if definition else {}
        choices.append(
            {
                "name": name,
                "title": questionnaire_title(name),
                "scales": [{"code": code, "title": title} for code, title in scales.items()],
            }
        )
    return choices
