"""Readers for reference population files. Each yields long-format polars batches
(``personality_id, questionnaire, question_number, answer, incomplete``) and fills an
:class:`Exclusions` tally; a bad row raises :class:`PopulationFileError` naming file, row and
column unless the caller asked to skip bad rows. ``incomplete`` marks the answers of people left
out of the population for skipping an item (``require_complete``): stored apart, for per-scale
statistics only.

Formats:
* ``open_psychometrics``: the IPIP-FFM ``data-final.csv`` layout (tab-separated, 110 columns,
  answers EXT1..OPN10, ``0`` = unanswered, ``NULL`` rows). ``personality_id`` is the data row
  number in the file (1 = first row after the header), so ids are stable across re-loads.
* ``long_csv``: the research table's CSV export (personality_id, question_number, question,
  category, key, answer; optionally questionnaire). Question text, category and key are taken
  from the questionnaire definition, not from the file. Without a questionnaire column the
  questionnaire is the one named in the load's config, or else recognised from the file.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from personality_assets import settings
from personality_assets.questionnaires import Questionnaire, all_questionnaires, get_questionnaire

LONG_SCHEMA = {"personality_id": pl.Int32, "questionnaire": pl.String, "question_number": pl.Int32, "answer": pl.Int16}
BATCH_SCHEMA = {**LONG_SCHEMA, "incomplete": pl.Boolean}
OPEN_PSYCHOMETRICS_METADATA_COLUMNS = [
    "dateload",
    "screenw",
    "screenh",
    "introelapse",
    "testelapse",
    "endelapse",
    "IPC",
    "country",
    "lat_appx_lots_of_err",
    "long_appx_lots_of_err",
]
LONG_CSV_REQUIRED = ["personality_id", "question_number", "answer"]
LONG_CSV_OPTIONAL = ["questionnaire", "question", "category", "key"]
UNANSWERED = 0  # Open Psychometrics code for a skipped item
INCOMPLETE = "incomplete (some items unanswered)"
_CSV_FIELD = r'(?:"(?:[^"]|"")*"|[^,"]*)'  # a quoted field ("" for a quote inside it) or one without quotes
STRICT_CSV_LINE = re.compile(f"{_CSV_FIELD}(?:,{_CSV_FIELD})*")


class PopulationFileError(ValueError):
    """A population file cannot be loaded as it is; the message names file, row and column."""


@dataclass
class Exclusions:
    """Source rows left out of a load, by reason, and the people among them where a reason leaves
    whole people out (shown in the materialisation metadata and stored with the population)."""

    by_reason: Counter = field(default_factory=Counter)
    people_by_reason: Counter = field(default_factory=Counter)
    file_rows: int = 0  # data rows the reader saw; each is loaded or counted under a reason

    def add(self, reason: str, count: int, people: int = 0) -> None:
        if count:
            self.by_reason[reason] += count
        if people:
            self.people_by_reason[reason] += people

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())

    @property
    def people(self) -> int:
        return sum(self.people_by_reason.values())


def read_header(path: Path, separator: str) -> list[str]:
    """The header row's fields. ``utf-8-sig`` drops the byte-order mark a spreadsheet's "CSV UTF-8" writes."""
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        return handle.readline().rstrip("\r\n").split(separator)


def detect_format(path: Path) -> str:
    header = read_header(path, "\t")
    if header == [""]:
        raise PopulationFileError(f"{path}: the file is empty (no header row)")
    if "EXT1" in header:
        return "open_psychometrics"
    if "personality_id" in header[0].split(","):
        return "long_csv"
    raise PopulationFileError(
        f"{path}: row 1 (header): not a known population format; expected the tab-separated Open "
        f"Psychometrics layout (EXT1..OPN10, ...) or a long CSV with personality_id,question_number,answer; "
        f"got {chr(9).join(header)[:120]!r}"
    )


def _without_bad_rows(
    path: Path,
    parsed: pl.DataFrame,
    problems: dict[str, dict[str, pl.Expr]],
    skip_bad_rows: bool,
    exclusions: Exclusions,
    rows_are_people: bool,
) -> pl.DataFrame:
    """Raise on the first bad row (naming file, row and column), or drop and count the bad rows
    (and as many people when each row is a person).

    ``problems`` maps a description ("answer out of range") to a check expression per column.
    """
    any_bad = pl.any_horizontal(expr for checks in problems.values() for expr in checks.values())
    bad_count = int(parsed.select(any_bad.sum()).item())
    if not bad_count:
        return parsed
    if skip_bad_rows:
        exclusions.add("bad rows (skipped)", bad_count, bad_count if rows_are_people else 0)
        return parsed.filter(~any_bad)
    for what, checks in problems.items():
        for column, is_bad in checks.items():
            bad = parsed.filter(is_bad)
            if bad.height:
                row = bad.row(0, named=True)
                raise PopulationFileError(
                    f"{path}: row {row['__row']}, column {column!r}: {what} (value {row[column]!r}); "
                    f"set skip_bad_rows to exclude such rows and count them instead"
                )
    raise AssertionError("a bad row was counted but not found")  # pragma: no cover


def read_open_psychometrics(
    path: Path,
    *,
    questionnaire: Questionnaire,
    exclusions: Exclusions,
    skip_bad_rows: bool = False,
    ipc_filter: bool = False,
    require_complete: bool = True,
    chunk_rows: int = 50_000,
) -> Iterator[pl.DataFrame]:
    codes = questionnaire.codes
    header = read_header(path, "\t")
    known = set(codes) | {f"{code}_E" for code in codes} | set(OPEN_PSYCHOMETRICS_METADATA_COLUMNS)
    unknown = [column for column in header if column not in known]
    if unknown:
        raise PopulationFileError(f"{path}: row 1 (header): unknown columns {unknown[:10]} (Open Psychometrics layout)")
    missing = [code for code in codes if code not in header]
    if ipc_filter and "IPC" not in header:
        missing.append("IPC")
    if missing:
        raise PopulationFileError(f"{path}: row 1 (header): missing columns {missing}")

    valid_answers = [UNANSWERED, *questionnaire.answer_codes]
    number_of = dict(zip(codes, questionnaire.items["number"].to_list(), strict=True))
    wanted = [*codes, *(["IPC"] if ipc_filter else [])]
    # Lines are split here rather than by a CSV reader, which pads short rows and drops extra
    # fields without a word: a stray tab would shift a person's answers into the wrong items.
    # Every row must have the header's field count.
    for raw in _line_batches(path, chunk_rows):
        exclusions.file_rows += raw.height
        raw = raw.with_columns(pl.col("line").str.strip_suffix("\r"))
        blank = raw["line"] == ""
        exclusions.add("blank lines", int(blank.sum()))
        raw = raw.filter(~blank).with_columns(__fields=pl.col("line").str.count_matches("\t", literal=True) + 1)
        ragged = raw.filter(pl.col("__fields") != len(header))
        if ragged.height:
            if not skip_bad_rows:
                row = ragged.row(0, named=True)
                raise PopulationFileError(
                    f"{path}: row {row['__row']}: {row['__fields']} fields, the header has {len(header)} (a stray or "
                    f"missing tab, or a truncated row); set skip_bad_rows to exclude such rows and count them instead"
                )
            exclusions.add("wrong number of fields", ragged.height, ragged.height)
            raw = raw.filter(pl.col("__fields") == len(header))
        raw = (
            raw.select("__row", pl.col("line").str.split_exact("\t", len(header) - 1).alias("__fields"))
            .unnest("__fields")
            .select("__row", *(pl.col(f"field_{header.index(c)}").alias(c) for c in wanted))
        )
        empty = pl.all_horizontal(pl.col(code) == "NULL" for code in codes)
        raw = raw.with_columns(__empty=empty.fill_null(False))
        empty_rows = int(raw["__empty"].sum())
        exclusions.add("empty (NULL) rows", empty_rows, empty_rows)
        raw = raw.filter(~pl.col("__empty"))
        parsed = raw.with_columns(pl.col(code).cast(pl.Int16, strict=False).alias(f"__{code}") for code in codes)
        problems = {
            "missing value (empty field)": {code: pl.col(code) == "" for code in codes},
            "not an integer": {code: (pl.col(code) != "") & pl.col(f"__{code}").is_null() for code in codes},
            f"answer out of range {valid_answers}": {
                code: pl.col(f"__{code}").is_not_null() & ~pl.col(f"__{code}").is_in(valid_answers) for code in codes
            },
        }
        parsed = _without_bad_rows(path, parsed, problems, skip_bad_rows, exclusions, rows_are_people=True)
        if ipc_filter:
            keep = pl.col("IPC") == "1"
            other_ip = int(parsed.select((~keep).sum()).item())
            exclusions.add("IPC != 1", other_ip, other_ip)
            parsed = parsed.filter(keep)
        answers = parsed.select(
            (pl.col("__row") - 1).cast(pl.Int32).alias("personality_id"),
            *(pl.col(f"__{code}").alias(code) for code in codes),
        )
        unanswered = pl.all_horizontal(pl.col(code) == UNANSWERED for code in codes)
        nothing = int(answers.select(unanswered.sum()).item())
        exclusions.add("no item answered", nothing, nothing)
        answers = answers.filter(~unanswered)
        incomplete = pl.any_horizontal(pl.col(code) == UNANSWERED for code in codes) & require_complete
        answers = answers.with_columns(incomplete.alias("incomplete"))
        skipped = int(answers["incomplete"].sum())
        exclusions.add(INCOMPLETE, skipped, skipped)
        yield (
            answers.unpivot(index=["personality_id", "incomplete"], on=codes, variable_name="code", value_name="answer")
            .filter(pl.col("answer") != UNANSWERED)
            .select(
                "personality_id",
                pl.lit(questionnaire.name).alias("questionnaire"),
                pl.col("code").replace_strict(number_of, return_dtype=pl.Int32).alias("question_number"),
                "answer",
                "incomplete",
            )
        )


def _line_batches(path: Path, chunk_rows: int) -> Iterator[pl.DataFrame]:
    """The data lines (``__row``, ``line``), streamed; a line that is not UTF-8 is named."""
    try:
        yield from (
            pl.scan_lines(path, row_index_name="__row", row_index_offset=1)
            .slice(1)
            .collect_batches(chunk_size=chunk_rows)
        )
    except pl.exceptions.ComputeError as exc:
        raise PopulationFileError(f"{path}: {_not_utf8(path) or f'unreadable: {exc}'}") from exc


def _not_utf8(path: Path) -> str | None:
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return (
                    f"row {number}: not UTF-8 text (byte {line[exc.start]:#x} at character {exc.start + 1}); "
                    f'save the file as UTF-8 (a spreadsheet\'s "CSV UTF-8")'
                )
    return None


def read_long_csv(
    path: Path,
    *,
    default_questionnaire: str | None,
    exclusions: Exclusions,
    skip_bad_rows: bool = False,
    require_complete: bool = True,
    log: Callable[[str], None] = lambda message: None,
) -> Iterator[pl.DataFrame]:
    """``default_questionnaire``: the questionnaire of a file without a questionnaire column;
    None: recognised from the file (see :func:`recognise_questionnaire`)."""
    try:
        raw = pl.read_csv(path, infer_schema=False, row_index_name="__row", row_index_offset=2)
    except pl.exceptions.ComputeError as exc:
        raise PopulationFileError(f"{path}: {_csv_problem(path) or f'malformed CSV: {exc}'}") from exc
    raw = raw.rename(lambda column: column.removeprefix("\ufeff"))  # a spreadsheet's byte-order mark
    exclusions.file_rows += raw.height
    columns = [c for c in raw.columns if c != "__row"]
    unknown = [c for c in columns if c not in LONG_CSV_REQUIRED + LONG_CSV_OPTIONAL]
    missing = [c for c in LONG_CSV_REQUIRED if c not in columns]
    if unknown or missing:
        raise PopulationFileError(
            f"{path}: row 1 (header): "
            + "; ".join(
                part
                for part in (unknown and f"unknown columns {unknown}", missing and f"missing columns {missing}")
                if part
            )
            + f" (expected {LONG_CSV_REQUIRED} and optionally {LONG_CSV_OPTIONAL})"
        )
    if raw.is_empty():
        yield pl.DataFrame(schema=BATCH_SCHEMA)
        return
    chosen_by = "questionnaire column"
    if "questionnaire" not in columns:
        if default_questionnaire:
            chosen_by = "long_csv_questionnaire"
            try:
                get_questionnaire(default_questionnaire)
            except ValueError as exc:
                raise PopulationFileError(f"{path}: long_csv_questionnaire: {exc}") from exc
        else:
            chosen_by = "recognised from the file"
            default_questionnaire = recognise_questionnaire(path, raw)
            log(f"{path}: no questionnaire column; recognised as {default_questionnaire} (the only one that fits)")
        raw = raw.with_columns(pl.lit(default_questionnaire).alias("questionnaire"))

    frames = []
    for name, group in raw.group_by("questionnaire", maintain_order=True):
        name = name[0]
        try:
            questionnaire = get_questionnaire(name)
        except ValueError as exc:
            first = group.row(0, named=True)["__row"]
            raise PopulationFileError(f"{path}: row {first}, column 'questionnaire': {exc}") from exc
        frames.append(
            _validate_long(path, group, questionnaire, chosen_by, exclusions, skip_bad_rows, require_complete)
        )
    yield pl.concat(frames) if frames else pl.DataFrame(schema=BATCH_SCHEMA)


def _span(values: set[int]) -> str:
    return f"{min(values)}..{max(values)}" if values else "none"


def recognise_questionnaire(path: Path, raw: pl.DataFrame) -> str:
    """The one known questionnaire (shipped or the user's) that has every question number of the
    file and whose answer codes include every answer in it; refused, naming the candidates, when
    none or several fit. Values that are not integers are left to the row checks."""
    numbers = set(raw["question_number"].cast(pl.Int32, strict=False).drop_nulls().to_list())
    answers = set(raw["answer"].cast(pl.Int32, strict=False).drop_nulls().to_list())
    known = all_questionnaires()
    by_numbers = [q for q in known.values() if numbers <= set(q.items["number"].to_list())]
    fits = [q.name for q in by_numbers if answers <= set(q.answer_codes)]
    if len(fits) == 1:
        return fits[0]
    found = f"questions {_span(numbers)} with answers {_span(answers)}"
    if fits:
        problem = f"its {found} fit {', '.join(sorted(fits))}"
    else:
        near = []
        answer = pl.col("answer").cast(pl.Int32, strict=False)
        for q in sorted(by_numbers, key=lambda q: q.name):
            outside = raw.filter(answer.is_not_null() & ~answer.is_in(list(q.answer_codes))).row(0, named=True)
            near.append(
                f"{q.name} (answers {q.min_answer}..{q.max_answer}) has the question numbers; "
                f"row {outside['__row']}, column 'answer' is {outside['answer']}"
            )
        problem = f"no questionnaire fits {found}" + (f": {'; '.join(near)}" if near else "")
    raise PopulationFileError(
        f"{path}: no questionnaire column and long_csv_questionnaire is not set, and {problem}; nothing is "
        f"assumed: set long_csv_questionnaire to the file's questionnaire (known: {', '.join(sorted(known))}), or "
        f"define it in {settings.questionnaires_dir()}"
    )


def _csv_problem(path: Path) -> str | None:
    """Where a CSV file stops being parseable, with the row (line) number, for a file polars refused."""
    header_fields = None
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            # Python's csv module reads a quote inside an unquoted field as text, polars refuses it: check each line.
            if not STRICT_CSV_LINE.fullmatch(line):
                return (
                    f"row {number}: malformed quote (a quote opened in this row does not close on it, "
                    f"or a quote inside an unquoted field)"
                )
            fields = len(next(csv.reader([line])))
            if header_fields is None:
                header_fields = fields
            elif line and fields != header_fields:
                return f"row {number}: {fields} fields, the header has {header_fields}"
    return None


def _validate_long(path, raw, questionnaire: Questionnaire, chosen_by, exclusions, skip_bad_rows, require_complete):
    numbers = questionnaire.items["number"].to_list()
    parsed = raw.with_columns(pl.col(c).cast(pl.Int32, strict=False).alias(f"__{c}") for c in LONG_CSV_REQUIRED)
    problems = {
        "missing value": {c: pl.col(c).is_null() for c in LONG_CSV_REQUIRED},
        "not an integer": {c: pl.col(c).is_not_null() & pl.col(f"__{c}").is_null() for c in LONG_CSV_REQUIRED},
        f"not a question of {questionnaire.name} ({min(numbers)}..{max(numbers)}, {chosen_by})": {
            "question_number": pl.col("__question_number").is_not_null() & ~pl.col("__question_number").is_in(numbers)
        },
        f"answer out of range {sorted(questionnaire.answer_codes)} of {questionnaire.name} ({chosen_by})": {
            "answer": pl.col("__answer").is_not_null() & ~pl.col("__answer").is_in(list(questionnaire.answer_codes))
        },
    }
    parsed = _without_bad_rows(path, parsed, problems, skip_bad_rows, exclusions, rows_are_people=False)

    duplicated = pl.struct("__personality_id", "__question_number").is_duplicated()
    duplicates = parsed.filter(duplicated)
    if duplicates.height:
        if not skip_bad_rows:
            first = duplicates.row(0, named=True)
            rows = duplicates.filter(
                (pl.col("__personality_id") == first["__personality_id"])
                & (pl.col("__question_number") == first["__question_number"])
            )["__row"].to_list()
            raise PopulationFileError(
                f"{path}: rows {rows}, columns 'personality_id','question_number': duplicate answer for person "
                f"{first['__personality_id']} question {first['__question_number']} ({questionnaire.name}); "
                f"set skip_bad_rows to exclude duplicated people"
            )
        people = duplicates["__personality_id"].unique()
        dropped = parsed.filter(pl.col("__personality_id").is_in(people.implode()))
        exclusions.add("duplicate people (all their rows)", dropped.height, people.len())
        parsed = parsed.filter(~pl.col("__personality_id").is_in(people.implode()))

    answers = parsed.select(
        pl.col("__personality_id").alias("personality_id"),
        pl.lit(questionnaire.name).alias("questionnaire"),
        pl.col("__question_number").alias("question_number"),
        pl.col("__answer").cast(pl.Int16).alias("answer"),
    )
    short = pl.Series("personality_id", [], dtype=pl.Int32)
    if require_complete:
        counts = answers.group_by("personality_id").len()
        short = counts.filter(pl.col("len") < questionnaire.item_count)["personality_id"]
    answers = answers.with_columns(pl.col("personality_id").is_in(short.implode()).alias("incomplete"))
    exclusions.add(INCOMPLETE, int(answers["incomplete"].sum()), short.len())
    return answers
