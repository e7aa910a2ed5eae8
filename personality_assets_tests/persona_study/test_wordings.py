"""The wordings file: the shipped variants load, and every mistake in a user's copy is named."""

import re

import pytest

from personality_assets.defs.persona_study.prompts import DEFAULT_SYSTEM_ROLE
from personality_assets.defs.persona_study.wordings import Wording, WordingError, get_wording, load_wordings
from personality_assets.questionnaires import get_questionnaire


def test_the_shipped_wordings_load_with_original_built_in():
    wordings = load_wordings()
    assert list(wordings) == ["original", "paraphrase", "plain_instruction"]
    assert wordings["original"] == Wording("original", wordings["original"].description, None, None, None)
    paraphrase = wordings["paraphrase"]
    assert (paraphrase.system_role, paraphrase.instruction, paraphrase.item_texts) == (None, None, "paraphrase")
    assert len(get_questionnaire("bigfive").item_texts(paraphrase.item_texts)) == 50
    plain = wordings["plain_instruction"]
    assert "{description}" in plain.system_role and plain.system_role != DEFAULT_SYSTEM_ROLE
    assert plain.instruction and plain.item_texts is None


def test_the_wordings_file_comes_from_the_environment(tmp_path, monkeypatch):
    mine = tmp_path / "wordings.toml"
    mine.write_text('[terse]\ndescription = "Short instruction."\ninstruction = "Answer as the persona."\n')
    monkeypatch.setenv("PERSONALITY_ASSETS_WORDINGS", str(mine))
    assert list(load_wordings()) == ["original", "terse"]
    assert get_wording("terse").instruction == "Answer as the persona."
    with pytest.raises(WordingError, match=re.escape(f"{mine}: no wording 'paraphrase'; known: ['original', 'terse']")):
        get_wording("paraphrase")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[original]\ndescription = "mine"\ninstruction = "Answer."\n', "wording 'original': 'original' is built in"),
        ('[terse]\ndescription = "d"\ninstructions = "Answer."\n', "wording 'terse': unknown field 'instructions'"),
        (
            '[role]\ndescription = "d"\nsystem_role = "Be this person."\n',
            "wording 'role': system_role must contain {description}",
        ),
        ('["two words"]\ndescription = "d"\ninstruction = "Answer."\n', "wording 'two words': a name must start"),
        ('[9lives]\ndescription = "d"\ninstruction = "Answer."\n', "wording '9lives': a name must start"),
        ('[terse]\ninstruction = "Answer."\n', "wording 'terse': field 'description' is missing"),
        ('[terse]\ndescription = "d"\n', "wording 'terse': changes nothing"),
        ('[terse]\ndescription = "d"\ninstruction = ""\n', "wording 'terse': field 'instruction' must be a non-empty"),
        ('terse = "Answer."\n', "wording 'terse': expected a table"),
        ("[terse\n", "not valid TOML"),
    ],
    ids=[
        "original",
        "unknown_field",
        "no_placeholder",
        "space",
        "digit",
        "description",
        "no_change",
        "empty",
        "not_table",
        "toml",
    ],
)
def test_a_bad_wordings_file_names_the_file_and_the_variant(tmp_path, content, message):
    path = tmp_path / "wordings.toml"
    path.write_text(content)
    with pytest.raises(WordingError, match=re.escape(f"{path}: ") + ".*" + re.escape(message)):
        load_wordings(path)


def test_a_missing_wordings_file_is_named(tmp_path):
    with pytest.raises(WordingError, match=re.escape(str(tmp_path / "none.toml"))):
        get_wording("paraphrase", tmp_path / "none.toml")
