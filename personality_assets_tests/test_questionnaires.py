import polars as pl
import pytest

from personality_assets.questionnaires import (
    QuestionnaireError,
    _read_definition,
    all_questionnaires,
    get_questionnaire,
    score,
)


def _answers(questionnaire, values, person=1):
    numbers = questionnaire.items["number"].to_list()
    return pl.DataFrame(
        {"personality_id": [person] * len(values), "question_number": numbers[: len(values)], "answer": values}
    )


def _scores(frame):
    return {(row["personality_id"], row["scale"]): row["score"] for row in frame.iter_rows(named=True)}


def test_definitions_come_from_the_files():
    bigfive, epqr = get_questionnaire("bigfive"), get_questionnaire("epqr_a")
    assert (bigfive.item_count, bigfive.min_answer, bigfive.max_answer) == (50, 1, 5)
    assert list(bigfive.scales) == ["EXT", "EST", "AGR", "CSN", "OPN"]
    assert bigfive.items.filter(pl.col("scale") == "EST")["key"].to_list().count("+") == 2
    assert (epqr.item_count, epqr.answer_codes) == (24, {0: "no", 1: "yes"})
    assert epqr.items.group_by("scale").len().sort("scale")["len"].to_list() == [6, 6, 6, 6]
    assert set(all_questionnaires()) >= {"bigfive", "epqr_a"}


def test_bigfive_scores_reverse_keyed_items():
    bigfive = get_questionnaire("bigfive")
    extraversion = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]  # keys + - + - + - + - + -
    # keyed: 1, 4, 3, 2, 5, 5, 2, 3, 4, 1 -> mean 3.0
    stability = [4] * 10  # 2 items keyed +, 8 keyed -: (2*4 + 8*2) / 10 = 2.4
    agreeableness = [5, 5, 5, 5, 5, 5, 5, 5, 5, 5]  # AGR1,3,5,7 are -: (6*5 + 4*1) / 10 = 3.4
    answers = _answers(bigfive, extraversion + stability + agreeableness)
    result = _scores(score(answers, bigfive, by=["personality_id"]))
    assert result == {(1, "EXT"): 3.0, (1, "EST"): 2.4, (1, "AGR"): 3.4}


def test_epqr_counts_keyed_answers():
    epqr = get_questionnaire("epqr_a")
    all_yes = _answers(epqr, [1] * 24, person=1)
    all_no = _answers(epqr, [0] * 24, person=2)
    result = _scores(score(pl.concat([all_yes, all_no]), epqr, by=["personality_id"]))
    # N: six yes-keyed; E: four yes-, two no-keyed; P: three each; L: five no-, one yes-keyed.
    assert result == {
        (1, "E"): 4,
        (1, "L"): 1,
        (1, "N"): 6,
        (1, "P"): 3,
        (2, "E"): 2,
        (2, "L"): 5,
        (2, "N"): 0,
        (2, "P"): 3,
    }


def test_extreme_answers_follow_the_key():
    bigfive, epqr = get_questionnaire("bigfive"), get_questionnaire("epqr_a")
    assert (bigfive.extreme_answer("+"), bigfive.extreme_answer("-")) == (5, 1)
    assert (epqr.extreme_answer("yes"), epqr.extreme_answer("no")) == (1, 0)


def test_epqr_texts_missing_then_supplied(tmp_path, monkeypatch):
    assert not get_questionnaire("epqr_a").has_texts
    assert "epqr_a_texts.csv" in get_questionnaire("epqr_a").texts_hint
    texts = tmp_path / "texts.csv"
    texts.write_text("number,text\n" + "".join(f'{n},"Item {n} text?"\n' for n in range(1, 25)))
    monkeypatch.setenv("PERSONALITY_ASSETS_EPQR_A_TEXTS", str(texts))
    epqr = get_questionnaire("epqr_a")
    assert epqr.has_texts and epqr.items["text"][0] == "Item 1 text?"


def test_incomplete_texts_file_is_named(tmp_path, monkeypatch):
    texts = tmp_path / "texts.csv"
    texts.write_text("number,text\n1,only one\n")
    monkeypatch.setenv("PERSONALITY_ASSETS_EPQR_A_TEXTS", str(texts))
    with pytest.raises(QuestionnaireError, match=r"texts.csv: no text for items \[2, 3"):
        get_questionnaire("epqr_a")


def test_a_new_questionnaire_is_a_definition_file(tmp_path):
    (tmp_path / "mini_items.csv").write_text("number,code,scale,key,text\n1,M1,A,+,One\n2,M2,A,-,Two\n")
    (tmp_path / "mini.toml").write_text(
        'name = "mini"\nitems_file = "mini_items.csv"\nscoring = "likert"\n'
        '[answer_codes]\n1 = "no"\n2 = "maybe"\n3 = "yes"\n[scales]\nA = "Alpha"\n'
    )
    mini = _read_definition(tmp_path / "mini.toml")
    result = _scores(score(_answers(mini, [3, 1]), mini, by=["personality_id"]))
    assert (mini.item_count, mini.max_answer, result) == (2, 3, {(1, "A"): 3.0})


def test_bad_definition_names_the_file_and_item(tmp_path):
    (tmp_path / "bad_items.csv").write_text("number,code,scale,key,text\n1,B1,A,?,One\n")
    (tmp_path / "bad.toml").write_text(
        'name = "bad"\nitems_file = "bad_items.csv"\nscoring = "likert"\n[answer_codes]\n1 = "a"\n2 = "b"\n[scales]\nA = "A"\n'
    )
    with pytest.raises(QuestionnaireError, match=r"bad_items.csv: item 1: key '\?'"):
        _read_definition(tmp_path / "bad.toml")


SIX_POINT = {
    1: "strongly disagree",
    2: "disagree",
    3: "slightly disagree",
    4: "slightly agree",
    5: "agree",
    6: "strongly agree",
}
# Three scales of a 1..6 questionnaire: X (items 1-3), Y (4-5), Z (6-9); "-" items are reversed as 7 - answer.
SIX_POINT_ITEMS = [
    (1, "X", "+"),
    (2, "X", "-"),
    (3, "X", "+"),
    (4, "Y", "-"),
    (5, "Y", "-"),
    (6, "Z", "+"),
    (7, "Z", "+"),
    (8, "Z", "-"),
    (9, "Z", "+"),
]


def _write_questionnaire(folder, name="six", items=SIX_POINT_ITEMS, codes=SIX_POINT, toml_extra="", scales=None):
    """A likert definition and its items CSV in ``folder``; returns the TOML path."""
    folder.mkdir(parents=True, exist_ok=True)
    scales = scales or sorted({scale for _, scale, _ in items})
    (folder / f"{name}_items.csv").write_text(
        "number,code,scale,key,text\n" + "".join(f"{n},{name.upper()}{n},{s},{k},Statement {n}\n" for n, s, k in items)
    )
    path = folder / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\nitems_file = "{name}_items.csv"\nscoring = "likert"\n{toml_extra}'
        + "[answer_codes]\n"
        + "".join(f'{code} = "{label}"\n' for code, label in codes.items())
        + "[scales]\n"
        + "".join(f'{scale} = "Scale {scale}"\n' for scale in scales)
    )
    return path


def test_user_questionnaires_are_read_beside_the_shipped_ones(isolated_data_dir, tmp_path, monkeypatch):
    assert "six" not in all_questionnaires()  # no user folder yet: only the shipped ones
    path = _write_questionnaire(isolated_data_dir / "questionnaires")  # the default folder: <data dir>/questionnaires
    found = all_questionnaires()  # the same process: the new file is noticed
    assert {"bigfive", "epqr_a", "six"} <= set(found) and found["six"].definition_file == path
    six = found["six"]
    assert (six.item_count, six.min_answer, six.max_answer, list(six.scales)) == (9, 1, 6, ["X", "Y", "Z"])
    # An edited file is noticed too.
    (path.parent / "six_items.csv").write_text(
        (path.parent / "six_items.csv").read_text().replace("Statement 1", "New")
    )
    assert get_questionnaire("six").items["text"][0] == "New"
    # $PERSONALITY_ASSETS_QUESTIONNAIRES_DIR names another folder.
    _write_questionnaire(tmp_path / "elsewhere", name="other")
    monkeypatch.setenv("PERSONALITY_ASSETS_QUESTIONNAIRES_DIR", str(tmp_path / "elsewhere"))
    assert "other" in all_questionnaires() and "six" not in all_questionnaires()
    monkeypatch.setenv("PERSONALITY_ASSETS_QUESTIONNAIRES_DIR", str(tmp_path / "typo"))
    with pytest.raises(QuestionnaireError, match=r"PERSONALITY_ASSETS_QUESTIONNAIRES_DIR=.*typo: no such folder"):
        all_questionnaires()


def test_a_user_definition_cannot_replace_a_shipped_one(isolated_data_dir):
    _write_questionnaire(isolated_data_dir / "questionnaires", name="bigfive")
    with pytest.raises(QuestionnaireError) as error:
        all_questionnaires()
    message = str(error.value)
    assert "'bigfive' is defined twice" in message
    assert (
        "definitions/bigfive.toml" in message and str(isolated_data_dir / "questionnaires" / "bigfive.toml") in message
    )


BAD_DEFINITIONS = {
    "items file missing": (
        lambda folder, path: (folder / "six_items.csv").unlink(),
        r"six.toml: items_file .*six_items.csv does not exist",
    ),
    "wrong columns": (
        lambda folder, path: (folder / "six_items.csv").write_text("number,code,scale,keyed,text\n1,S1,X,+,a\n"),
        r"six_items.csv: expected columns number,code,scale,key,text, got number,code,scale,keyed,text",
    ),
    "item number not a number": (
        lambda folder, path: (folder / "six_items.csv").write_text(
            "number,code,scale,key,text\n1,S1,X,+,a\nB,S2,X,+,b\n"
        ),
        r"six_items.csv: row 2: number 'B' is not a whole number",
    ),
    "empty scale in a row": (
        lambda folder, path: (folder / "six_items.csv").write_text("number,code,scale,key,text\n1,S1,,+,a\n"),
        r"six_items.csv: row 1 \(item 1\): scale '' must have 1 to 32 characters",
    ),
    "undeclared scale": (
        lambda folder, path: path.write_text(path.read_text().replace('Z = "Scale Z"\n', "")),
        r"six_items.csv: item 6: scale 'Z' is not declared in six.toml",
    ),
    "declared scale without items": (
        lambda folder, path: path.write_text(path.read_text() + 'W = "Scale W"\n'),
        r"six.toml: scales \['W'\] have no items in six_items.csv",
    ),
    "likert key not + or -": (
        lambda folder, path: (folder / "six_items.csv").write_text(
            (folder / "six_items.csv").read_text().replace("4,SIX4,Y,-", "4,SIX4,Y,R")
        ),
        r"six_items.csv: item 4: key 'R' not in \['\+', '-'\]",
    ),
    "answer code not an integer": (
        lambda folder, path: path.write_text(
            path.read_text().replace('6 = "strongly agree"', 'six = "strongly agree"')
        ),
        r"six.toml: answer_codes: code 'six' is not an integer",
    ),
    "answer codes with a gap": (
        lambda folder, path: path.write_text(path.read_text().replace('3 = "slightly disagree"\n', "")),
        r"six.toml: answer_codes: codes must be consecutive integers \(e.g. 1..6\), got \[1, 2, 4, 5, 6\]",
    ),
    "name missing": (
        lambda folder, path: path.write_text(path.read_text().replace('name = "six"\n', "")),
        r"six.toml: field 'name' is missing",
    ),
    "scales of the wrong type": (
        lambda folder, path: path.write_text(
            path.read_text().split("[scales]")[0].replace("[answer", 'scales = "X"\n[answer')
        ),
        r"six.toml: field 'scales' must be a table, got 'X'",
    ),
    "a misspelt field": (
        lambda folder, path: path.write_text('text_env = "X"\n' + path.read_text()),
        r"six.toml: unknown fields \['text_env'\]",
    ),
    "texts_env without texts_default": (
        lambda folder, path: path.write_text('texts_env = "SIX_TEXTS"\n' + path.read_text()),
        r"six.toml: fields 'texts_env' and 'texts_default' go together",
    ),
    "not TOML": (
        lambda folder, path: path.write_text("name = six\n"),
        r"six.toml: not valid TOML",
    ),
}


@pytest.mark.parametrize("problem", BAD_DEFINITIONS)
def test_a_bad_user_definition_names_the_file_and_the_field(problem, isolated_data_dir):
    folder = isolated_data_dir / "questionnaires"
    path = _write_questionnaire(folder)
    breaking, message = BAD_DEFINITIONS[problem]
    breaking(folder, path)
    with pytest.raises(QuestionnaireError, match=message):
        all_questionnaires()


def test_a_six_point_questionnaire_with_three_scales_scores_by_hand(isolated_data_dir):
    _write_questionnaire(isolated_data_dir / "questionnaires")
    six = get_questionnaire("six")
    answers = pl.concat(
        [
            _answers(six, [6, 1, 5, 2, 3, 1, 6, 4, 2], person=1),
            _answers(six, [1, 1, 1, 1, 1, 1, 1, 1, 1], person=2),
        ]
    )
    result = _scores(score(answers, six, by=["personality_id"]))
    assert result == {
        # X: 6, 7-1=6, 5 -> 17/3; Y: 7-2=5, 7-3=4 -> 4.5; Z: 1, 6, 7-4=3, 2 -> 3.0
        (1, "X"): pytest.approx(17 / 3),
        (1, "Y"): 4.5,
        (1, "Z"): 3.0,
        # all 1: X (1 + 6 + 1)/3; Y (6 + 6)/2; Z (1 + 1 + 6 + 1)/4
        (2, "X"): pytest.approx(8 / 3),
        (2, "Y"): 6.0,
        (2, "Z"): 2.25,
    }
    assert (six.extreme_answer("+"), six.extreme_answer("-"), six.extreme_answer("-", high=False)) == (6, 1, 6)
