"""Questionnaire definitions (package data) and scoring.

A questionnaire is a TOML file in ``definitions/`` plus the items CSV it names
(columns ``number,code,scale,key,text``). Adding a questionnaire is adding such a pair.
Everything else (item counts, answer codes, scales, keys) is read from them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

from personality_assets import settings

DEFINITIONS_DIR = Path(__file__).parent / "definitions"
SCORING_KINDS = ("likert", "keyed_count")


class QuestionnaireError(ValueError):
    """A questionnaire definition or texts file is invalid."""


@dataclass(frozen=True)
class Questionnaire:
    name: str
    title: str
    scoring: str
    answer_codes: dict[int, str]  # code stored in the database -> label
    scales: dict[str, str]  # scale code -> title
    items: pl.DataFrame  # number, code, scale, key, text (text may be null)
    definition_file: Path
    texts_hint: str | None = None  # where the user should put item texts, if not shipped

    @property
    def item_count(self) -> int:
        return self.items.height

    @property
    def min_answer(self) -> int:
        return min(self.answer_codes)

    @property
    def max_answer(self) -> int:
        return max(self.answer_codes)

    @property
    def codes(self) -> list[str]:
        return self.items["code"].to_list()

    @property
    def has_texts(self) -> bool:
        return self.items["text"].null_count() == 0

    def extreme_answer(self, key: str, *, high: bool = True) -> int:
        """The answer that puts an item with this key at the high (or low) end of its scale."""
        if self.scoring == "likert":
            raises = key == "+"
            return self.max_answer if raises == high else self.min_answer
        keyed = self.code_for_label(key)
        if high:
            return keyed
        return next(code for code in self.answer_codes if code != keyed)

    def code_for_label(self, label: str) -> int:
        for code, code_label in self.answer_codes.items():
            if code_label == label:
                return code
        raise QuestionnaireError(f"{self.name}: no answer code labelled {label!r}")


def _read_definition(path: Path) -> Questionnaire:
    try:
        raw = tomllib.loads(path.read_text())
        name, scoring = raw["name"], raw["scoring"]
        answer_codes = {int(code): str(label) for code, label in raw["answer_codes"].items()}
        scales = dict(raw["scales"])
        items_file = path.parent / raw["items_file"]
    except (KeyError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise QuestionnaireError(f"{path}: invalid questionnaire definition: {exc!r}") from exc
    if scoring not in SCORING_KINDS:
        raise QuestionnaireError(f"{path}: scoring must be one of {SCORING_KINDS}, got {scoring!r}")
    items = pl.read_csv(
        items_file,
        schema={"number": pl.Int32, "code": pl.String, "scale": pl.String, "key": pl.String, "text": pl.String},
    ).sort("number")
    unknown_scales = set(items["scale"]) - set(scales)
    if unknown_scales:
        raise QuestionnaireError(f"{items_file}: scales {sorted(unknown_scales)} are not declared in {path.name}")
    valid_keys = {"+", "-"} if scoring == "likert" else set(answer_codes.values())
    bad_keys = items.filter(~pl.col("key").is_in(sorted(valid_keys)))
    if bad_keys.height:
        row = bad_keys.row(0, named=True)
        raise QuestionnaireError(f"{items_file}: item {row['number']}: key {row['key']!r} not in {sorted(valid_keys)}")
    if items["number"].is_duplicated().any() or items["code"].is_duplicated().any():
        raise QuestionnaireError(f"{items_file}: duplicate item numbers or codes")

    texts_hint = None
    if "texts_env" in raw:
        texts_path = Path(os.environ.get(raw["texts_env"]) or settings.data_dir() / raw["texts_default"])
        texts_hint = f"{texts_path} (or set {raw['texts_env']})"
        items = _with_user_texts(items, texts_path)
    return Questionnaire(
        name=name,
        title=raw.get("title", name),
        scoring=scoring,
        answer_codes=answer_codes,
        scales=scales,
        items=items,
        definition_file=path,
        texts_hint=texts_hint,
    )


def _with_user_texts(items: pl.DataFrame, texts_path: Path) -> pl.DataFrame:
    """Fill item texts from a user-supplied CSV (number,text); leave them null if it is absent."""
    if not texts_path.exists():
        return items.with_columns(pl.lit(None, pl.String).alias("text"))
    texts = pl.read_csv(texts_path, schema_overrides={"number": pl.Int32, "text": pl.String})
    if set(texts.columns) != {"number", "text"}:
        raise QuestionnaireError(f"{texts_path}: expected columns number,text, got {texts.columns}")
    missing = set(items["number"]) - set(texts["number"])
    if missing:
        raise QuestionnaireError(f"{texts_path}: no text for items {sorted(missing)}")
    return items.drop("text").join(texts, on="number", how="left")


@cache
def _all_cached(texts_env_signature: tuple) -> dict[str, Questionnaire]:
    found = {}
    for path in sorted(DEFINITIONS_DIR.glob("*.toml")):
        questionnaire = _read_definition(path)
        if questionnaire.name in found:
            raise QuestionnaireError(f"{path}: questionnaire {questionnaire.name!r} is defined twice")
        found[questionnaire.name] = questionnaire
    return found


def all_questionnaires() -> dict[str, Questionnaire]:
    # Cached per value of the env vars that can change item texts, so tests can point them elsewhere.
    signature = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("PERSONALITY_ASSETS_")))
    return _all_cached(signature)


def get_questionnaire(name: str) -> Questionnaire:
    questionnaires = all_questionnaires()
    if name not in questionnaires:
        raise QuestionnaireError(f"unknown questionnaire {name!r}; known: {sorted(questionnaires)}")
    return questionnaires[name]


def keyed_value(questionnaire: Questionnaire, answer: str = "answer") -> pl.Expr:
    """An item's contribution to its scale, from the ``answer`` and ``key`` columns: likert: the
    answer, reversed items as (min + max - answer); keyed_count: 1 for the keyed answer, else 0."""
    if questionnaire.scoring == "likert":
        reverse_total = questionnaire.min_answer + questionnaire.max_answer
        keyed = pl.when(pl.col("key") == "-").then(reverse_total - pl.col(answer)).otherwise(pl.col(answer))
    else:
        label_to_code = {label: code for code, label in questionnaire.answer_codes.items()}
        keyed = pl.col(answer) == pl.col("key").replace_strict(label_to_code, return_dtype=pl.Int64)
    return keyed.cast(pl.Float64)


def with_items(answers: pl.DataFrame, questionnaire: Questionnaire) -> pl.DataFrame:
    """Long-format answers (with ``question_number``) joined with each item's ``scale`` and ``key``."""
    items = questionnaire.items.select(pl.col("number").alias("question_number"), "scale", "key")
    return answers.join(items.cast({"question_number": answers.schema["question_number"]}), on="question_number")


def keyed_items(answers: pl.DataFrame, questionnaire: Questionnaire) -> pl.DataFrame:
    """Long-format answers with each item's ``scale``, ``key`` and ``keyed`` value (see keyed_value)."""
    return with_items(answers, questionnaire).with_columns(keyed_value(questionnaire).alias("keyed"))


def score(answers: pl.DataFrame, questionnaire: Questionnaire, by: list[str]) -> pl.DataFrame:
    """Scale scores from long-format answers.

    ``answers`` has the columns in ``by`` (e.g. personality_id) plus ``question_number`` and
    ``answer``. Returns one row per ``by`` group and scale: ``by..., scale, score, answered``.
    likert: mean of the keyed answers; keyed_count: number of keyed answers (see keyed_items).
    """
    aggregate = pl.col("keyed").mean() if questionnaire.scoring == "likert" else pl.col("keyed").sum()
    return (
        keyed_items(answers, questionnaire)
        .group_by([*by, "scale"])
        .agg(aggregate.alias("score"), pl.len().alias("answered"))
        .sort([*by, "scale"])
    )
