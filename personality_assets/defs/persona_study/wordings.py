"""Named wordings of the persona study's prompts, read from the wordings file
(``settings.wordings_file()``: ``$PERSONALITY_ASSETS_WORDINGS``, default the shipped
``wordings.toml``, whose header comment describes the format).

A wording changes how a questionnaire is put to the model (the system role, the first sentence of
the instruction, the item texts) and nothing else, so comparing the answers of one persona across
wordings shows how much they depend on the words. ``original`` is built in: every part as the
study asks it by default.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from personality_assets import settings
from personality_assets.errors import NoRetryError

ORIGINAL = "original"
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")  # as questionnaire names
FIELDS = ("description", "system_role", "instruction", "item_texts")


class WordingError(NoRetryError):
    """The wordings file is invalid, or names no such wording."""


@dataclass(frozen=True)
class Wording:
    """One wording; a None part is asked as in ``original``."""

    name: str
    description: str
    system_role: str | None  # the system message template, with {description} for the persona
    instruction: str | None  # replaces the questionnaire prompt's first sentence
    item_texts: str | None  # an item text variant of the questionnaire ([item_texts] in its definition)


ORIGINAL_WORDING = Wording(
    name=ORIGINAL,
    description="The study's default system role and instruction, and each questionnaire's own item texts.",
    system_role=None,
    instruction=None,
    item_texts=None,
)


def load_wordings(path: Path | None = None) -> dict[str, Wording]:
    """Every wording by name, ``original`` first, then the file's in the file's order."""
    path = Path(path) if path is not None else settings.wordings_file()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WordingError(f"{path}: cannot read the wordings file: {exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WordingError(f"{path}: not valid TOML: {exc}") from None
    wordings = {ORIGINAL: ORIGINAL_WORDING}
    for name, table in raw.items():
        wordings[name] = _wording(path, name, table)
    return wordings


def get_wording(name: str, path: Path | None = None) -> Wording:
    path = Path(path) if path is not None else settings.wordings_file()
    wordings = load_wordings(path)
    if name not in wordings:
        raise WordingError(f"{path}: no wording {name!r}; known: {list(wordings)}")
    return wordings[name]


def _wording(path: Path, name: str, table: object) -> Wording:
    where = f"{path}: wording {name!r}"
    if name == ORIGINAL:
        raise WordingError(f"{where}: {ORIGINAL!r} is built in (the study's default prompt) and cannot be redefined")
    if not NAME.match(name):
        raise WordingError(f"{where}: a name must start with a letter and have only letters, digits and _ (at most 64)")
    if not isinstance(table, dict):
        raise WordingError(f"{where}: expected a table [{name}] with fields {list(FIELDS)}, got {table!r}")
    unknown = [field for field in table if field not in FIELDS]
    if unknown:
        raise WordingError(f"{where}: unknown field {unknown[0]!r}; known: {list(FIELDS)}")
    for field, value in table.items():
        if not isinstance(value, str) or not value.strip():
            raise WordingError(f"{where}: field {field!r} must be a non-empty string, got {value!r}")
    if "description" not in table:
        raise WordingError(f"{where}: field 'description' is missing (say what the wording changes)")
    if not any(field in table for field in FIELDS[1:]):
        raise WordingError(f"{where}: changes nothing; give at least one of {list(FIELDS[1:])}")
    system_role = table.get("system_role")
    if system_role is not None and "{description}" not in system_role:
        raise WordingError(f"{where}: system_role must contain {{description}} (where the persona goes)")
    item_texts = table.get("item_texts")
    if item_texts is not None and (not NAME.match(item_texts) or item_texts == ORIGINAL):
        raise WordingError(
            f"{where}: item_texts {item_texts!r} must name an item text variant (letters, digits and _, "
            f"not {ORIGINAL!r})"
        )
    return Wording(
        name=name,
        description=table["description"].strip(),
        system_role=system_role,
        instruction=table["instruction"].strip() if "instruction" in table else None,
        item_texts=item_texts,
    )
