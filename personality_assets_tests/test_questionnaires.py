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
        'name = "bad"\nitems_file = "bad_items.csv"\nscoring = "likert"\n[answer_codes]\n1 = "a"\n[scales]\nA = "A"\n'
    )
    with pytest.raises(QuestionnaireError, match=r"bad_items.csv: item 1: key '\?'"):
        _read_definition(tmp_path / "bad.toml")
