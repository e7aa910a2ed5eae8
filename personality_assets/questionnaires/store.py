"""Write questionnaire definitions into both schemas (each keeps its own copy; see db/tables/questionnaires.py)."""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, Table, delete

from personality_assets.db.engine import DatabaseTarget, reference_transaction, upsert_insert
from personality_assets.db.tables.questionnaires import (
    ExpAnswerCode,
    ExpQuestionnaire,
    ExpQuestionnaireItem,
    RefAnswerCode,
    RefQuestionnaire,
    RefQuestionnaireItem,
)
from personality_assets.questionnaires import Questionnaire

SCHEMA_TABLES = (
    (RefQuestionnaire.__table__, RefQuestionnaireItem.__table__, RefAnswerCode.__table__),
    (ExpQuestionnaire.__table__, ExpQuestionnaireItem.__table__, ExpAnswerCode.__table__),
)


def upsert(connection: Connection, table: Table, rows: list[dict]) -> None:
    """Insert rows, updating the non-key columns of rows whose primary key exists."""
    if not rows:
        return
    statement = upsert_insert(connection, table).values(rows)
    keys = [column.name for column in table.primary_key.columns]
    updates = {name: statement.excluded[name] for name in rows[0] if name not in keys}
    connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates))


def definition_sha256(questionnaire: Questionnaire) -> str:
    digest = hashlib.sha256(questionnaire.definition_file.read_bytes())
    digest.update(questionnaire.items.drop("text").write_csv().encode())
    return digest.hexdigest()


def store_questionnaires(target: DatabaseTarget, questionnaires: list[Questionnaire]) -> None:
    with reference_transaction(target) as connection:
        for questionnaire_table, item_table, code_table in SCHEMA_TABLES:
            for q in questionnaires:
                upsert(
                    connection,
                    questionnaire_table,
                    [
                        {
                            "name": q.name,
                            "title": q.title,
                            "scoring": q.scoring,
                            "item_count": q.item_count,
                            "min_answer": q.min_answer,
                            "max_answer": q.max_answer,
                            "definition_sha256": definition_sha256(q),
                        }
                    ],
                )
                items = [
                    {
                        "questionnaire": q.name,
                        "question_number": row["number"],
                        "code": row["code"],
                        "scale": row["scale"],
                        "key": row["key"],
                        "text": row["text"],
                    }
                    for row in q.items.iter_rows(named=True)
                ]
                upsert(connection, item_table, items)
                # Items and codes no longer in the definition go; if answers still use them the
                # foreign keys refuse, which is what we want.
                connection.execute(
                    delete(item_table).where(
                        item_table.c.questionnaire == q.name,
                        item_table.c.question_number.not_in([item["question_number"] for item in items]),
                    )
                )
                upsert(
                    connection,
                    code_table,
                    [
                        {"questionnaire": q.name, "answer": code, "label": label}
                        for code, label in q.answer_codes.items()
                    ],
                )
                connection.execute(
                    delete(code_table).where(
                        code_table.c.questionnaire == q.name,
                        code_table.c.answer.not_in(list(q.answer_codes)),
                    )
                )
