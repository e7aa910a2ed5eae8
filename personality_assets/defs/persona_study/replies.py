"""The JSON replies the persona study asks models for, validated with pydantic."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, StrictInt, create_model, field_validator, model_validator

from personality_assets.defs.persona_study.presentation import shown_codes
from personality_assets.defs.persona_study.prompts import answer_scale_text
from personality_assets.questionnaires import Questionnaire


class PersonaReply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    age: int = Field(ge=0, le=120)
    gender: str
    sexual_orientation: str
    race: str
    ethnicity: str
    religious_belief: str
    occupation: str
    political_orientation: str
    location: str
    description: str


class QuestionnaireReply(BaseModel):
    """Answers keyed by question number, of any questionnaire (``answers_model`` checks one)."""

    model_config = ConfigDict(extra="ignore")
    answers: dict[int, int]


ITEM_KEY = re.compile(r"^\s*(?:q|item\s*)?(\d+)\.?\s*$", re.IGNORECASE)


def _item_number(key) -> int | None:
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    match = ITEM_KEY.match(str(key))
    return int(match[1]) if match else None


def _answer_code(value, questionnaire: Questionnaire, option_order: str = "ascending"):
    """The answer code (as shown) a reply's value means, or the value itself when it means none
    (the completeness check then names it). Only readings with one possible meaning are made."""
    codes = shown_codes(questionnaire, option_order)
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
            raise ValueError(
                f"{value!r} is not an answer code ({answer_scale_text(questionnaire, option_order)})"
            ) from None
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value:g} is not an answer code ({answer_scale_text(questionnaire, option_order)})")
        return int(value)
    return value


def answers_model(questionnaire: Questionnaire, option_order: str = "ascending") -> type[BaseModel]:
    """A reply model that accepts only a complete set of in-range answers for this questionnaire,
    in the codes as shown (``option_order``: descending shows the scale reversed, and a label in
    a reply means the code shown with it; ``presentation.own_code`` maps the answers back).

    Besides the prompt's shape ``{"answers": {"1": 3, ...}}`` it reads the shapes models commonly
    use instead, when each carries every item unambiguously:
    * a bare mapping of item to answer, without the ``answers`` wrapper;
    * items keyed ``1``, ``"1"``, ``"Q1"``, ``"item 1"`` or ``"1."``;
    * answers as numbers in strings (``"3"``), integral floats (``3.0``), or the answer code's
      label (``"Agree"``, case and surrounding spaces ignored);
    * for yes/no questionnaires, ``true``/``false`` and ``"True"``/``"False"``.
    A boolean for a Likert item, a fraction, free text, a missing, unknown or out-of-range item,
    or two keys for one item with different answers (``"1": 3, "Q1": 5``) still fails, naming the
    item, and the model is asked again with the error.
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
            item = number if number is not None else key
            try:
                code = _answer_code(value, questionnaire, option_order)
            except ValueError as exc:
                problems.append(f"answers.{key}: {exc}")
                continue
            if item in answers and answers[item] != code:  # e.g. "1" and "Q1": which one is meant?
                problems.append(f"answers.{key}: item {item} answered twice ({answers[item]} and {code})")
            answers[item] = code
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
        f"{questionnaire.name.title().replace('_', '')}{'Reversed' if option_order == 'descending' else ''}Answers",
        __config__=ConfigDict(extra="ignore"),
        __validators__={
            "shapes": model_validator(mode="before")(classmethod(normalise)),
            "complete": field_validator("answers")(check),
        },
        answers=(dict[int, StrictInt], ...),
    )
