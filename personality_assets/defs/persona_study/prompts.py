"""The prompts of the persona study."""

from __future__ import annotations

import polars as pl

from personality_assets.defs.persona_study.presentation import Presentation, presented_numbers, shown_codes
from personality_assets.questionnaires import Questionnaire, score

# The original study's impersonation instruction (the original persona study's); {description} is the persona's.
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


def answer_scale_text(questionnaire: Questionnaire, option_order: str = "ascending") -> str:
    return ", ".join(f"{code} = {label}" for code, label in sorted(shown_codes(questionnaire, option_order).items()))


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


QUESTIONNAIRE_INSTRUCTION = "Answer every statement of this questionnaire as the person you impersonate."


def questionnaire_prompt(
    questionnaire: Questionnaire,
    presentation: Presentation | None = None,
    *,
    texts: dict[int, str | None] | None = None,
    instruction: str | None = None,
) -> str:
    """The questionnaire as one message: the instruction, the answer codes as ``presentation``
    shows them, the reply's JSON shape and the items in its order, with ``texts`` (a wording's
    item texts; default the questionnaire's own)."""
    presentation = presentation or Presentation()
    if texts is None:
        texts = dict(zip(questionnaire.items["number"], questionnaire.items["text"], strict=True))
    numbers = presented_numbers(questionnaire, presentation.order)
    missing = "(item text not supplied; only the simulated model runs without it)"
    items = "\n".join(f"{n}. {texts[n] if texts[n] is not None else missing}" for n in numbers)
    first = numbers[0]
    return (
        f"{instruction or QUESTIONNAIRE_INSTRUCTION} Answer codes: "
        f"{answer_scale_text(questionnaire, presentation.option_order)}. Reply with only a JSON object of the form "
        f'{{"answers": {{"{first}": <code>, ...}}}} with one answer for each of the {questionnaire.item_count} '
        f"numbered statements.\n\n{items}"
    )
