"""Questionnaire definitions and scoring.

A questionnaire is a TOML file plus the items CSV it names (columns ``number,code,scale,key,text``).
Item counts, answer codes, scales and keys are read from them. Definitions are read from two
folders: the shipped ones in ``definitions/`` (package data) and the user's in
``settings.questionnaires_dir()`` (``$PERSONALITY_ASSETS_QUESTIONNAIRES_DIR``, default
``<data dir>/questionnaires``; a missing default folder means no user questionnaires). Both get the
same validation, and every error names the file (and the line, item or field). A user
definition cannot replace a shipped one: two definitions of one name are an error naming both.

The definition file (TOML):

* ``name`` (letters, digits and ``_``, at most 64), ``title`` (optional), ``items_file`` (the items
  CSV, relative to the TOML file);
* ``scoring``: ``likert`` (an item's key is ``+`` or ``-``; a scale score is the mean of its keyed
  answers, reversed items as min + max - answer) or ``keyed_count`` (an item's key is the label of
  its keyed answer; a scale score counts the answers equal to it);
* ``[answer_codes]``: code = label. Codes are integers and must be consecutive (any start, at least
  two: ``0..1``, ``1..5``, ``1..6``, ``-3..3``), since reversal and the simulator work on the
  range min..max; labels are distinct;
* ``[scales]``: scale code = title, any number of them; every scale has items and every item's
  scale is declared;
* ``texts_env`` and ``texts_default`` (together, optional): item texts that are not free to ship
  come from a CSV ``number,text`` the user supplies, at ``$<texts_env>`` or at ``texts_default``
  (relative to the data dir); without it the texts are missing (null), the key still loads;
* ``[item_texts]`` (optional): alternate wordings of the items, variant name (like a questionnaire
  name; not ``original``, which is the questionnaire's own texts) = a CSV ``number,text`` relative
  to the TOML file, with one non-empty text for every item, e.g. ``paraphrase =
  "bigfive_paraphrase.csv"``. They are read as ``Questionnaire.text_variants`` and chosen with
  ``Questionnaire.item_texts(variant)``, so a study can ask the same items in other words and see
  whether the answers depend on the wording.
"""

from __future__ import annotations

import csv
import os
import re
import tomllib
from dataclasses import dataclass, field
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
    source_files: tuple[Path, ...] = ()  # the files it was read from (definition, items, texts, variants)
    source_env: tuple[str, ...] = ()  # the environment variables it was read from (texts_env)
    text_variants: dict[str, dict[int, str]] = field(default_factory=dict)  # [item_texts]: variant -> texts

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

    def item_texts(self, variant: str | None = None) -> dict[int, str | None]:
        """Item number -> text in the named wording: None or ``original`` is the questionnaire's own
        texts (None for an item whose text is not supplied, see has_texts), else a variant declared
        in its ``[item_texts]``."""
        if variant is None or variant == ORIGINAL_TEXTS:
            return dict(zip(self.items["number"].to_list(), self.items["text"].to_list(), strict=True))
        if variant not in self.text_variants:
            raise QuestionnaireError(
                f"questionnaire {self.name!r} has no item text variant {variant!r}; it has: "
                f"{[ORIGINAL_TEXTS, *sorted(self.text_variants)]} ([item_texts] in {self.definition_file})"
            )
        return dict(self.text_variants[variant])

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


NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
DEFINITION_FIELDS = {
    "name",
    "title",
    "items_file",
    "scoring",
    "answer_codes",
    "scales",
    "texts_env",
    "texts_default",
    "item_texts",
}
ORIGINAL_TEXTS = "original"  # the variant name of a questionnaire's own item texts
ITEM_COLUMNS = ["number", "code", "scale", "key", "text"]
# Column widths of the questionnaire tables (db/tables/questionnaires.py), checked here so a long value fails with
# the file's name on SQLite too, not only when PostgreSQL stores it.
MAX_WIDTH = {"code": 32, "scale": 32, "key": 16}


def _field(path: Path, raw: dict, field: str, kind: type, required: bool = True):
    if field not in raw:
        if required:
            raise QuestionnaireError(f"{path}: field {field!r} is missing")
        return None
    value = raw[field]
    if not isinstance(value, kind) or (kind is str and not value.strip()):
        raise QuestionnaireError(
            f"{path}: field {field!r} must be a {'table' if kind is dict else 'non-empty string'}, got {value!r}"
        )
    return value


def _answer_codes(path: Path, raw: dict) -> dict[int, str]:
    table = _field(path, raw, "answer_codes", dict)
    codes = {}
    for code, label in table.items():
        try:
            number = int(code)
        except ValueError:
            raise QuestionnaireError(f"{path}: answer_codes: code {code!r} is not an integer") from None
        if not isinstance(label, str) or not label.strip():
            raise QuestionnaireError(f"{path}: answer_codes: label of code {number} must be a non-empty string")
        codes[number] = label.strip()
    if len(codes) < 2:
        raise QuestionnaireError(f"{path}: answer_codes: at least two answer codes are needed, got {sorted(codes)}")
    if sorted(codes) != list(range(min(codes), max(codes) + 1)):
        raise QuestionnaireError(
            f"{path}: answer_codes: codes must be consecutive integers (e.g. 1..6), got {sorted(codes)}"
        )
    labels = [label.lower() for label in codes.values()]
    if len(set(labels)) != len(labels):
        raise QuestionnaireError(
            f"{path}: answer_codes: labels must differ (ignoring case), got {list(codes.values())}"
        )
    return dict(sorted(codes.items()))


def _scales(path: Path, raw: dict) -> dict[str, str]:
    scales = _field(path, raw, "scales", dict)
    if not scales:
        raise QuestionnaireError(f"{path}: scales: at least one scale is needed")
    for code, title in scales.items():
        if not code.strip() or len(code) > MAX_WIDTH["scale"]:
            raise QuestionnaireError(
                f"{path}: scales: scale code {code!r} must have 1 to {MAX_WIDTH['scale']} characters"
            )
        if not isinstance(title, str):
            raise QuestionnaireError(f"{path}: scales: title of scale {code!r} must be a string, got {title!r}")
    return dict(scales)


def _read_items(path: Path, items_file: Path) -> pl.DataFrame:
    """The items CSV as number (Int32), code, scale, key, text (null when empty), by number."""
    if not items_file.is_file():
        raise QuestionnaireError(f"{path}: items_file {items_file} does not exist")
    try:
        raw = pl.read_csv(items_file, infer_schema=False).with_columns(pl.all().fill_null(""))
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise QuestionnaireError(f"{items_file}: not a readable CSV: {exc}") from None
    if sorted(raw.columns) != sorted(ITEM_COLUMNS):
        raise QuestionnaireError(
            f"{items_file}: expected columns {','.join(ITEM_COLUMNS)}, got {','.join(raw.columns)}"
        )
    if raw.is_empty():
        raise QuestionnaireError(f"{items_file}: no items")
    for index, row in enumerate(raw.iter_rows(named=True)):
        line = f"{items_file}: row {index + 1}"
        if not re.fullmatch(r"\s*\d{1,9}\s*", row["number"]) or int(row["number"]) < 1:
            raise QuestionnaireError(f"{line}: number {row['number']!r} is not a whole number of 1 or more")
        number = int(row["number"])
        for column, width in MAX_WIDTH.items():
            if not row[column].strip() or len(row[column]) > width:
                raise QuestionnaireError(
                    f"{line} (item {number}): {column} {row[column]!r} must have 1 to {width} characters"
                )
    items = raw.select(
        pl.col("number").str.strip_chars().cast(pl.Int32),
        pl.col("code").str.strip_chars(),
        pl.col("scale").str.strip_chars(),
        pl.col("key").str.strip_chars(),
        pl.when(pl.col("text").str.strip_chars() == "").then(None).otherwise(pl.col("text")).alias("text"),
    ).sort("number")
    for column in ("number", "code"):
        duplicated = items.filter(pl.col(column).is_duplicated())[column].unique().sort().to_list()
        if duplicated:
            raise QuestionnaireError(f"{items_file}: duplicate item {column}s {duplicated}")
    return items


def _read_definition(path: Path) -> Questionnaire:
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise QuestionnaireError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(raw) - DEFINITION_FIELDS)
    if unknown:
        raise QuestionnaireError(f"{path}: unknown fields {unknown}; known: {sorted(DEFINITION_FIELDS)}")
    name = _field(path, raw, "name", str)
    if not NAME.match(name):
        raise QuestionnaireError(
            f"{path}: field 'name' {name!r} must start with a letter and have only letters, digits and _ (at most 64)"
        )
    title = _field(path, raw, "title", str, required=False) or name
    scoring = _field(path, raw, "scoring", str)
    if scoring not in SCORING_KINDS:
        raise QuestionnaireError(f"{path}: field 'scoring' must be one of {SCORING_KINDS}, got {scoring!r}")
    answer_codes = _answer_codes(path, raw)
    scales = _scales(path, raw)
    items_file = path.parent / _field(path, raw, "items_file", str)
    items = _read_items(path, items_file)

    unknown_scales = items.filter(~pl.col("scale").is_in(list(scales)))
    if unknown_scales.height:
        row = unknown_scales.row(0, named=True)
        raise QuestionnaireError(
            f"{items_file}: item {row['number']}: scale {row['scale']!r} is not declared in {path.name} "
            f"(scales: {list(scales)})"
        )
    empty_scales = [scale for scale in scales if scale not in set(items["scale"])]
    if empty_scales:
        raise QuestionnaireError(f"{path}: scales {empty_scales} have no items in {items_file.name}")
    valid_keys = {"+", "-"} if scoring == "likert" else set(answer_codes.values())
    bad_keys = items.filter(~pl.col("key").is_in(sorted(valid_keys)))
    if bad_keys.height:
        row = bad_keys.row(0, named=True)
        raise QuestionnaireError(
            f"{items_file}: item {row['number']}: key {row['key']!r} not in {sorted(valid_keys)} ({scoring} scoring)"
        )

    texts_hint = None
    texts_env = _field(path, raw, "texts_env", str, required=False)
    texts_default = _field(path, raw, "texts_default", str, required=False)
    if (texts_env is None) != (texts_default is None):
        raise QuestionnaireError(f"{path}: fields 'texts_env' and 'texts_default' go together: give both or neither")
    if texts_env:
        texts_path = Path(os.environ.get(texts_env) or settings.data_dir() / texts_default)
        texts_hint = f"{texts_path} (or set {texts_env})"
        items = _with_user_texts(items, texts_path)
    variant_files = _variant_files(path, raw)
    text_variants = {
        variant: _read_text_variant(variant_file, set(items["number"].to_list()))
        for variant, variant_file in variant_files.items()
    }
    return Questionnaire(
        name=name,
        title=title,
        scoring=scoring,
        answer_codes=answer_codes,
        scales=scales,
        items=items,
        definition_file=path,
        texts_hint=texts_hint,
        source_files=(path, items_file, *([texts_path] if texts_env else []), *variant_files.values()),
        source_env=(texts_env,) if texts_env else (),
        text_variants=text_variants,
    )


def _variant_files(path: Path, raw: dict) -> dict[str, Path]:
    """The ``[item_texts]`` table: variant name -> its CSV, relative to the definition file."""
    table = _field(path, raw, "item_texts", dict, required=False) or {}
    files = {}
    for variant, file_name in table.items():
        if not NAME.match(variant) or variant == ORIGINAL_TEXTS:
            raise QuestionnaireError(
                f"{path}: item_texts: variant name {variant!r} must start with a letter and have only letters, "
                f"digits and _ (at most 64), and not be {ORIGINAL_TEXTS!r} (the questionnaire's own texts)"
            )
        if not isinstance(file_name, str) or not file_name.strip():
            raise QuestionnaireError(f"{path}: item_texts: {variant} must name a CSV file, got {file_name!r}")
        variant_file = path.parent / file_name
        if not variant_file.is_file():
            raise QuestionnaireError(f"{path}: item_texts: {variant}: file {variant_file} does not exist")
        files[variant] = variant_file
    return files


def _read_text_variant(variant_file: Path, numbers: set[int]) -> dict[int, str]:
    """A wording of the items (CSV ``number,text``): exactly one non-empty text per item number."""
    try:
        with variant_file.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [column.strip() for column in next(reader, [])]
            if header != ["number", "text"]:
                raise QuestionnaireError(f"{variant_file}: expected columns number,text, got {','.join(header)}")
            texts: dict[int, str] = {}
            for row in reader:
                line = f"{variant_file}: line {reader.line_num}"
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != 2:
                    raise QuestionnaireError(f"{line}: expected 2 fields (number,text), got {len(row)}")
                number_text, text = row[0].strip(), row[1].strip()
                if not re.fullmatch(r"\d{1,9}", number_text):
                    raise QuestionnaireError(f"{line}: number {row[0]!r} is not a whole number")
                number = int(number_text)
                if number not in numbers:
                    raise QuestionnaireError(f"{line}: no item {number} in this questionnaire")
                if number in texts:
                    raise QuestionnaireError(f"{line}: item {number} has a text already")
                if not text:
                    raise QuestionnaireError(f"{line}: item {number}: the text is empty")
                texts[number] = text
    except (UnicodeDecodeError, csv.Error) as exc:
        raise QuestionnaireError(f"{variant_file}: not a readable CSV: {exc}") from None
    missing = sorted(numbers - set(texts))
    if missing:
        raise QuestionnaireError(f"{variant_file}: no text for items {missing}")
    return dict(sorted(texts.items()))


def _with_user_texts(items: pl.DataFrame, texts_path: Path) -> pl.DataFrame:
    """Fill item texts from a user-supplied CSV (number,text); leave them null if it is absent."""
    if not texts_path.exists():
        return items.with_columns(pl.lit(None, pl.String).alias("text"))
    try:
        texts = pl.read_csv(texts_path, infer_schema=False)
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise QuestionnaireError(f"{texts_path}: not a readable CSV: {exc}") from None
    if set(texts.columns) != {"number", "text"}:
        raise QuestionnaireError(f"{texts_path}: expected columns number,text, got {texts.columns}")
    numbers = texts["number"].cast(pl.Int32, strict=False)
    if numbers.null_count():
        first = texts.filter(numbers.is_null()).row(0, named=True)
        raise QuestionnaireError(f"{texts_path}: number {first['number']!r} is not an integer")
    texts = texts.with_columns(numbers.alias("number")).filter(pl.col("text").str.strip_chars() != "")
    missing = set(items["number"]) - set(texts["number"])
    if missing:
        raise QuestionnaireError(f"{texts_path}: no text for items {sorted(missing)}")
    extra = set(texts["number"]) - set(items["number"])
    if extra:
        raise QuestionnaireError(f"{texts_path}: no items numbered {sorted(extra)} in this questionnaire")
    if texts["number"].is_duplicated().any():
        raise QuestionnaireError(
            f"{texts_path}: two texts for items {sorted(set(texts.filter(pl.col('number').is_duplicated())['number']))}"
        )
    return items.drop("text").join(texts, on="number", how="left")


def _definition_files() -> list[Path]:
    """The shipped definition files, then the user's (a missing default folder: none)."""
    shipped = sorted(DEFINITIONS_DIR.glob("*.toml"))
    folder = settings.questionnaires_dir()
    if not folder.exists():
        if os.environ.get("PERSONALITY_ASSETS_QUESTIONNAIRES_DIR"):
            raise QuestionnaireError(f"PERSONALITY_ASSETS_QUESTIONNAIRES_DIR={folder}: no such folder")
        return shipped
    if not folder.is_dir():
        raise QuestionnaireError(f"{folder}: the questionnaires folder is not a folder")
    return shipped + sorted(p for p in folder.glob("*.toml") if not p.name.startswith("."))


def _read_all() -> dict[str, Questionnaire]:
    found: dict[str, Questionnaire] = {}
    for path in _definition_files():
        questionnaire = _read_definition(path)
        if questionnaire.name in found:
            raise QuestionnaireError(
                f"questionnaire {questionnaire.name!r} is defined twice: in {found[questionnaire.name].definition_file} "
                f"and in {path}; rename one (a user definition cannot replace a shipped one)"
            )
        found[questionnaire.name] = questionnaire
    return found


def _stamp(files: tuple[Path, ...], env: tuple[str, ...]) -> tuple:
    """What a cached read depends on: each file's size and modification time, and env values."""
    stats = []
    for path in files:
        try:
            stat = path.stat()
            stats.append((str(path), stat.st_mtime_ns, stat.st_size))
        except OSError:
            stats.append((str(path), None, None))
    return (*stats, *((name, os.environ.get(name)) for name in env))


_CACHE: dict[tuple, tuple[tuple, dict[str, Questionnaire]]] = {}


def all_questionnaires() -> dict[str, Questionnaire]:
    """Every questionnaire, shipped and the user's, by name. Read once and reused while nothing it
    was read from changed: the PERSONALITY_ASSETS_* variables, the user folder's list of
    definition files, and the size and modification time of each file read (definitions, items,
    texts), so a file added, edited or removed there is seen by the next call in the same process."""
    folder = settings.questionnaires_dir()
    listing = tuple(sorted(p.name for p in folder.glob("*.toml"))) if folder.is_dir() else None
    key = (tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("PERSONALITY_ASSETS_"))), listing)
    cached = _CACHE.get(key)
    if cached and _stamp(*_sources(cached[1])) == cached[0]:
        return cached[1]
    questionnaires = _read_all()
    _CACHE[key] = (_stamp(*_sources(questionnaires)), questionnaires)
    return questionnaires


def _sources(questionnaires: dict[str, Questionnaire]) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    files = tuple(path for q in questionnaires.values() for path in q.source_files)
    env = tuple(name for q in questionnaires.values() for name in q.source_env)
    return files, env


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
