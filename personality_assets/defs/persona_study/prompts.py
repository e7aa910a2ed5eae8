"""The prompts of the persona study, and the reply models that validate the answers."""

from __future__ import annotations

import re

import polars as pl
from pydantic import BaseModel, ConfigDict, StrictInt, create_model, field_validator, model_validator

from personality_assets.questionnaires import Questionnaire, score

# The original study's impersonation instruction (seed 002); {description} is the persona's.
DEFAULT_SYSTEM_ROLE = (
    "You are required to adopt and impersonate the personality of the human described as follow:\n{description}"
)


def system_prompt(template: str, description: str) -> str:
    """The template with the persona's description in place of ``{description}`` (plain
    replacement, so other braces in a template, e.g. a JSON example, are left alone)."""
    if "{description}" not in template:
        raise ValueError("the system role template must contain {description} (where the persona goes)")
    return template.replace("{description}", description)


PERSONA_INSTRUCTION = (
    "Below are one real person's answers to a personality questionnaire. Invent a realistic person "
    "whose personality matches these answers. Reply with only a JSON object with the fields: name, "
    "age (integer), gender, sexual_orientation, race, ethnicity, religious_belief, occupation, "
    "political_orientation, location, description (a paragraph describing the person's life and "
    "personality, written in the third person)."
)


def answer_scale_text(questionnaire: Questionnaire) -> str:
    return ", ".join(f"{code} = {label}" for code, label in sorted(questionnaire.answer_codes.items()))


def persona_prompt(answers: pl.DataFrame, questionnaires: dict[str, Questionnaire]) -> str:
    """``answers``: one person's long-format answers (questionnaire, question_number, answer).
    Items with texts are shown as statements; a questionnaire without texts (EPQR-A unless they
    are supplied) is shown as its scale scores."""
    blocks = []
    for (name,), group in answers.sort("questionnaire", "question_number").group_by(
        "questionnaire", maintain_order=True
    ):
        questionnaire = questionnaires[name]
        if not questionnaire.has_texts:
            scores = score(group.with_columns(pl.lit(0).alias("person")), questionnaire, by=["person"])
            blocks.append(
                f"{questionnaire.title}, scale scores ({questionnaire.scoring}): "
                + ", ".join(
                    f"{questionnaire.scales[row['scale']]} {row['score']:g}" for row in scores.iter_rows(named=True)
                )
            )
            continue
        texts = dict(zip(questionnaire.items["number"], questionnaire.items["text"], strict=True))
        lines = [
            f"- {texts[number]} {answer}"
            for number, answer in zip(group["question_number"], group["answer"], strict=True)
        ]
        blocks.append(f"{questionnaire.title} (answers: {answer_scale_text(questionnaire)}):\n" + "\n".join(lines))
    return PERSONA_INSTRUCTION + "\n\n" + "\n\n".join(blocks)


def questionnaire_prompt(questionnaire: Questionnaire) -> str:
    items = "\n".join(
        f"{n}. {text}" for n, text in zip(questionnaire.items["number"], questionnaire.items["text"], strict=True)
    )
    first = questionnaire.items["number"][0]
    return (
        f"Answer every statement of this questionnaire as the person you impersonate. Answer codes: "
        f"{answer_scale_text(questionnaire)}. Reply with only a JSON object of the form "
        f'{{"answers": {{"{first}": <code>, ...}}}} with one answer for each of the {questionnaire.item_count} '
        f"numbered statements.\n\n{items}"
    )


ITEM_KEY = re.compile(r"^\s*(?:q|item\s*)?(\d+)\.?\s*$", re.IGNORECASE)


def _item_number(key) -> int | None:
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    match = ITEM_KEY.match(str(key))
    return int(match[1]) if match else None


def _answer_code(value, questionnaire: Questionnaire):
    """The answer code a reply's value means, or the value itself when it means none (the
    completeness check then names it). Only readings with one possible meaning are made."""
    codes = questionnaire.answer_codes
    yes_no = {label.lower() for label in codes.values()} == {"yes", "no"}
    by_label = {label.strip().lower(): code for code, label in codes.items()}
    if yes_no:
        by_label |= {"true": by_label["yes"], "false": by_label["no"]}
    if isinstance(value, bool):
        if not yes_no:
            raise ValueError(f"a yes/no answer ({value}) to an item answered with codes {sorted(codes)}")
        return by_label["true" if value else "false"]
    if isinstance(value, str):
        text = value.strip().lower()
        if text in by_label:
            return by_label[text]
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{value!r} is not an answer code ({answer_scale_text(questionnaire)})") from None
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value:g} is not an answer code ({answer_scale_text(questionnaire)})")
        return int(value)
    return value


def answers_model(questionnaire: Questionnaire) -> type[BaseModel]:
    """A reply model that accepts only a complete set of in-range answers for this questionnaire.

    Besides the prompt's shape ``{"answers": {"1": 3, ...}}`` it reads the shapes models commonly
    use instead, when each carries every item unambiguously:
    * a bare mapping of item to answer, without the ``answers`` wrapper;
    * items keyed ``1``, ``"1"``, ``"Q1"``, ``"item 1"`` or ``"1."``;
    * answers as numbers in strings (``"3"``), integral floats (``3.0``), or the answer code's
      label (``"Agree"``, case and surrounding spaces ignored);
    * for yes/no questionnaires, ``true``/``false`` and ``"True"``/``"False"``.
    A boolean for a Likert item, a fraction, free text, a missing, unknown or out-of-range item
    still fails, naming the item, and the model is asked again with the error.
    """
    numbers = set(questionnaire.items["number"].to_list())
    codes = set(questionnaire.answer_codes)

    def normalise(cls, data):
        if isinstance(data, dict) and "answers" not in data and data and all(_item_number(k) for k in data):
            data = {"answers": data}
        if not isinstance(data, dict) or not isinstance(data.get("answers"), dict):
            return data
        answers, problems = {}, []
        for key, value in data["answers"].items():
            number = _item_number(key)
            try:
                answers[number if number is not None else key] = _answer_code(value, questionnaire)
            except ValueError as exc:
                problems.append(f"answers.{key}: {exc}")
        if problems:
            raise ValueError("; ".join(problems[:5]))
        return {**data, "answers": answers}

    def check(cls, answers: dict[int, int]) -> dict[int, int]:
        missing, extra = sorted(numbers - set(answers)), sorted(set(answers) - numbers)
        bad = {n: a for n, a in answers.items() if a not in codes}
        problems = []
        if missing:
            problems.append(f"missing answers for items {missing}")
        if extra:
            problems.append(f"no items numbered {extra}")
        if bad:
            problems.append(f"answers {bad} not in the codes {sorted(codes)}")
        if problems:
            raise ValueError("; ".join(problems))
        return answers

    return create_model(
        f"{questionnaire.name.title().replace('_', '')}Answers",
        __config__=ConfigDict(extra="ignore"),
        __validators__={
            "shapes": model_validator(mode="before")(classmethod(normalise)),
            "complete": field_validator("answers")(check),
        },
        answers=(dict[int, StrictInt], ...),
    )
