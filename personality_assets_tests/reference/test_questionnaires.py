import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.persona_study import EvalQuestionnaire, QuestionnaireScore
from personality_assets.defs.persona_study.assets import (
    experiment_registrations,
    personas,
    questionnaire_answers,
    questionnaire_scores,
)
from personality_assets.defs.persona_study.prompts import questionnaire_prompt
from personality_assets.defs.persona_study.replies import answers_model
from personality_assets.defs.persona_study.reports.assets import scale_score_report
from personality_assets.defs.reference.assets import questionnaires, reference_questionnaires
from personality_assets.questionnaires import (
    QuestionnaireError,
    _read_definition,
    all_questionnaires,
    get_questionnaire,
    score,
)
from personality_assets_tests.support.study import research_resources


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


def test_bigfive_paraphrase_is_a_text_variant_of_every_item():
    bigfive = get_questionnaire("bigfive")
    original, paraphrase = bigfive.item_texts(), bigfive.item_texts("paraphrase")
    assert bigfive.item_texts("original") == original
    assert (original[1], original[50]) == ("I am the life of the party.", "I am full of ideas.")
    assert list(paraphrase) == list(original) == list(range(1, 51))
    assert all(paraphrase[n] and paraphrase[n] != original[n] for n in original)
    assert bigfive.definition_file.parent / "bigfive_paraphrase.csv" in bigfive.source_files
    assert get_questionnaire("epqr_a").text_variants == {}


def test_an_unknown_text_variant_names_the_questionnaire_and_its_variants():
    with pytest.raises(
        QuestionnaireError, match=r"'bigfive' has no item text variant 'simple'; it has: \['original', 'paraphrase'\]"
    ):
        get_questionnaire("bigfive").item_texts("simple")


def _with_variant(tmp_path, csv_text, declared='short = "six_short.csv"'):
    """The six-item questionnaire with one text variant; returns the TOML path."""
    path = _write_questionnaire(tmp_path, toml_extra=f"[item_texts]\n{declared}\n")
    (tmp_path / "six_short.csv").write_text(csv_text)
    return path


def test_a_text_variant_is_read_beside_the_definition(tmp_path):
    rows = "".join(f'{n},"Short, {n}"\n' for n in (9, 8, 7, 6, 5, 4, 3, 2, 1))  # any row order
    six = _read_definition(_with_variant(tmp_path, "number,text\n" + rows))
    assert six.item_texts("short") == {n: f"Short, {n}" for n in range(1, 10)}
    assert list(six.item_texts("short")) == list(range(1, 10))
    assert tmp_path / "six_short.csv" in six.source_files


@pytest.mark.parametrize(
    ("csv_text", "declared", "message"),
    [
        (
            "number,text\n" + "".join(f"{n},T{n}\n" for n in range(1, 9)),
            None,
            r"six_short.csv: no text for items \[9\]",
        ),
        (
            "number,text\n" + "".join(f"{n},T{n}\n" for n in range(1, 10)) + "12,T12\n",
            None,
            r"six_short.csv: line 11: no item 12 in this questionnaire",
        ),
        (
            "number,text\n1,T1\n1,again\n" + "".join(f"{n},T{n}\n" for n in range(2, 10)),
            None,
            r"six_short.csv: line 3: item 1 has a text already",
        ),
        (
            "number,text\n" + "".join(f"{n},T{n}\n" for n in range(1, 4)) + '4," "\n',
            None,
            r"six_short.csv: line 5: item 4: the text is empty",
        ),
        ("number,text\nfour,T4\n", None, r"six_short.csv: line 2: number 'four' is not a whole number"),
        ("nr,text\n1,T1\n", None, r"six_short.csv: expected columns number,text, got nr,text"),
        ("number,text\n", 'short = "missing.csv"', r"six.toml: item_texts: short: file .*missing.csv does not exist"),
        ("number,text\n", 'original = "six_short.csv"', r"six.toml: item_texts: variant name 'original'"),
        ("number,text\n", '"two words" = "six_short.csv"', r"six.toml: item_texts: variant name 'two words'"),
        ("number,text\n", "short = 3", r"six.toml: item_texts: short must name a CSV file"),
    ],
    ids=["missing", "unknown", "twice", "empty", "number", "columns", "no_file", "original", "name", "not_a_file"],
)
def test_a_bad_text_variant_names_the_file_and_the_line(tmp_path, csv_text, declared, message):
    path = _with_variant(tmp_path, csv_text, **({"declared": declared} if declared else {}))
    with pytest.raises(QuestionnaireError, match=message):
        _read_definition(path)


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


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "questionnaires"
# The BFI-44 scoring key (John & Srivastava 1999): items per scale, R = reverse-scored.
BFI44_KEY = {
    "E": "1 6R 11 16 21R 26 31R 36",
    "A": "2R 7 12R 17 22 27R 32 37R 42",
    "C": "3 8R 13 18R 23R 28 33 38 43R",
    "N": "4 9R 14 19 24R 29 34R 39",
    "O": "5 10 15 20 25 30 35R 40 41R 44",
}


def _install_bfi44(data_dir: Path, texts: bool = True) -> None:
    """What docs/questionnaires.md tells a user to do: copy the example into the questionnaires folder, and
    put the item texts beside it (placeholders here: the real ones are not ours to ship)."""
    folder = data_dir / "questionnaires"
    folder.mkdir(parents=True, exist_ok=True)
    for path in EXAMPLES.iterdir():
        shutil.copy(path, folder / path.name)
    if texts:
        (folder / "bfi44_texts.csv").write_text(
            "number,text\n" + "".join(f'{n},"I see myself as someone who does thing {n}."\n' for n in range(1, 45))
        )


def test_the_bfi44_example_validates_and_matches_the_published_key(isolated_data_dir):
    _install_bfi44(isolated_data_dir, texts=False)
    bfi = get_questionnaire("bfi44")
    assert (bfi.item_count, bfi.scoring, bfi.min_answer, bfi.max_answer) == (44, "likert", 1, 5)
    assert bfi.answer_codes[1] == "Disagree strongly" and bfi.answer_codes[5] == "Agree strongly"
    assert list(bfi.scales) == ["E", "A", "C", "N", "O"]
    published = {
        (int(item.rstrip("R")), scale, "-" if item.endswith("R") else "+")
        for scale, items in BFI44_KEY.items()
        for item in items.split()
    }
    assert set(bfi.items.select("number", "scale", "key").iter_rows()) == published
    per_scale = bfi.items.group_by("scale").agg(pl.len(), (pl.col("key") == "-").sum().alias("reversed"))
    assert {s: (n, r) for s, n, r in per_scale.iter_rows()} == {
        "E": (8, 3),
        "A": (9, 4),
        "C": (9, 4),
        "N": (8, 3),
        "O": (10, 2),
    }
    # No texts are shipped: the key loads, the texts are missing until the user supplies them.
    assert bfi.items["text"].null_count() == 44 and not bfi.has_texts
    assert "bfi44_texts.csv" in bfi.texts_hint and "PERSONALITY_ASSETS_BFI44_TEXTS" in bfi.texts_hint
    # All at the top: E = (5*5 + 3*1)/8; a person answering 3 everywhere scores 3 on every scale.
    top = _scores(score(_answers(bfi, [5] * 44), bfi, by=["personality_id"]))
    assert top[(1, "E")] == 28 / 8 and top[(1, "O")] == (8 * 5 + 2 * 1) / 10
    middle = _scores(score(_answers(bfi, [3] * 44), bfi, by=["personality_id"]))
    assert set(middle.values()) == {3.0}
    _install_bfi44(isolated_data_dir)
    assert get_questionnaire("bfi44").has_texts


def test_the_bfi44_example_runs_through_the_study_and_the_report(db_target, isolated_data_dir, tmp_path):
    """As docs/questionnaires.md shows: the example copied into <data dir>/questionnaires with texts, the
    questionnaires asset materialised, and the study run with bfi44 on two populations: the
    synthetic sample (no BFI-44 answers: no reference score for bfi44, personas answer it from
    their Big Five traits) and a small population that answered the BFI-44 (reference scores)."""
    _install_bfi44(isolated_data_dir)
    bfi = get_questionnaire("bfi44")
    people = range(1, 9)
    # Person p answers every item p % 5 + 1, reversed items the other way: distinct scale scores.
    rows = [
        f"{p},{n},,,,{p % 5 + 1 if key == '+' else 5 - p % 5},bfi44"
        for p in people
        for n, key in bfi.items.select("number", "key").iter_rows()
    ]
    (tmp_path / "bfi_people.csv").write_text(
        "personality_id,question_number,question,category,key,answer,questionnaire\n" + "\n".join(rows) + "\n"
    )
    instance = dg.DagsterInstance.ephemeral()
    resources = research_resources(db_target)
    instance.add_dynamic_partitions("population", ["sample", "bfi_people"])
    instance.add_dynamic_partitions("model", ["simulated"])
    assert dg.materialize([questionnaires], resources=resources, instance=instance).success
    assert dg.materialize([reference_questionnaires], partition_key="sample", resources=resources, instance=instance)
    assert dg.materialize(
        [reference_questionnaires],
        partition_key="bfi_people",
        resources=resources,
        instance=instance,
        run_config={"ops": {"reference_questionnaires": {"config": {"path": str(tmp_path / "bfi_people.csv")}}}},
    ).success
    study = [personas, experiment_registrations, questionnaire_answers, questionnaire_scores]
    for population, max_people in (("sample", 20), ("bfi_people", None)):
        result = dg.materialize(
            study,
            partition_key=dg.MultiPartitionKey({"model": "simulated", "population": population}),
            resources=resources,
            instance=instance,
            run_config={
                "ops": {
                    "personas": {"config": {"max_people": max_people}},
                    "experiment_registrations": {"config": {"questionnaires": ["bigfive", "bfi44"]}},
                }
            },
        )
        assert result.success and all(check.passed for check in result.get_asset_check_evaluations())

    with experiment_transaction(db_target) as connection:
        scores = pl.read_database(select(QuestionnaireScore.__table__), connection)
    bfi_scores = scores.filter(pl.col("questionnaire") == "bfi44")
    counts = bfi_scores.group_by("population", "scale").len()
    assert {(p, s, n) for p, s, n in counts.iter_rows()} == {
        *(("sample", scale, 20) for scale in "EACNO"),
        *(("bfi_people", scale, 8) for scale in "EACNO"),
    }
    assert bfi_scores["score"].is_between(1, 5).all()
    # The sample never answered the BFI-44: no reference score, and nothing breaks.
    assert bfi_scores.filter(pl.col("population") == "sample")["reference_score"].null_count() == 5 * 20
    # Its personas answer the BFI-44 from their traits (E from EPQR-A's E and the Big Five's EXT):
    # their E follows the reference person's EXT.
    sample = scores.filter(pl.col("population") == "sample")
    pairs = (
        sample.filter(pl.col("questionnaire") == "bfi44", pl.col("scale") == "E")
        .select("persona_id", "score")
        .join(
            sample.filter(pl.col("questionnaire") == "bigfive", pl.col("scale") == "EXT").select(
                "persona_id", pl.col("reference_score").alias("ext")
            ),
            on="persona_id",
        )
    )
    assert pairs.height == 20 and pairs.select(pl.corr("score", "ext")).item() > 0.5
    # The population that answered it has reference scores, and its personas follow them.
    own = bfi_scores.filter(pl.col("population") == "bfi_people")
    assert own["reference_score"].null_count() == 0
    assert own.select(pl.corr("score", "reference_score")).item() > 0.8
    # bigfive on bfi_people: its people never answered it (no reference), personas answer from traits.
    assert scores.filter(pl.col("population") == "bfi_people", pl.col("questionnaire") == "bigfive").height == 8 * 5

    report = dg.materialize([scale_score_report], resources=resources, instance=instance)
    table = pl.read_parquet(report.asset_materializations_for_node("scale_score_report")[0].metadata["parquet"].value)
    asked = table.filter(pl.col("model") == "simulated")["questionnaire"].unique().sort().to_list()
    assert asked == ["bfi44", "bigfive"]  # (the sample's humans answered epqr_a too: their rows are there)
    bfi_rows = table.filter(pl.col("questionnaire") == "bfi44", pl.col("model") == "simulated")
    assert {(c, s) for c, s in bfi_rows.select("condition", "scale").iter_rows()} == {
        (c, s) for c in ("sample", "bfi_people") for s in "EACNO"
    }
    sample_rows = bfi_rows.filter(pl.col("condition") == "sample")
    assert set(sample_rows["reference_n"]) == {0} and sample_rows["p"].null_count() == 5
    assert set(bfi_rows.filter(pl.col("condition") == "bfi_people")["reference_n"]) == {8}
    assert (isolated_data_dir / "reports" / "scale_scores.csv").exists()


def test_a_six_point_user_questionnaire_runs_through_the_study(db_target, isolated_data_dir):
    """Answers 1..6 and three scales, from the user folder: asked, parsed, stored and scored."""
    _write_questionnaire(isolated_data_dir / "questionnaires")
    six = get_questionnaire("six")
    reply = answers_model(six)
    assert reply.model_validate({"answers": {str(n): 6 for n in range(1, 10)}}).answers[9] == 6
    assert reply.model_validate({f"Q{n}": "Strongly agree" for n in range(1, 10)}).answers[1] == 6
    with pytest.raises(ValidationError, match=r"not in the codes \[1, 2, 3, 4, 5, 6\]"):
        reply.model_validate({"answers": {str(n): 7 for n in range(1, 10)}})
    assert "1 = strongly disagree, 2 = disagree" in questionnaire_prompt(six)

    instance = dg.DagsterInstance.ephemeral()
    resources = research_resources(db_target)
    instance.add_dynamic_partitions("population", ["sample"])
    instance.add_dynamic_partitions("model", ["simulated"])
    assert dg.materialize([questionnaires], resources=resources, instance=instance).success
    assert dg.materialize([reference_questionnaires], partition_key="sample", resources=resources, instance=instance)
    result = dg.materialize(
        [personas, experiment_registrations, questionnaire_answers, questionnaire_scores],
        partition_key=dg.MultiPartitionKey({"model": "simulated", "population": "sample"}),
        resources=resources,
        instance=instance,
        run_config={
            "ops": {
                "personas": {"config": {"max_people": 10}},
                "experiment_registrations": {"config": {"questionnaires": ["six"]}},
            }
        },
    )
    assert result.success and all(check.passed for check in result.get_asset_check_evaluations())
    with experiment_transaction(db_target) as connection:
        answers = pl.read_database(select(EvalQuestionnaire.__table__), connection)
        scores = pl.read_database(select(QuestionnaireScore.__table__), connection)
    assert answers.height == 10 * 9 and answers["answer"].is_between(1, 6).all()
    assert sorted(scores["scale"].unique()) == ["X", "Y", "Z"] and scores.height == 10 * 3
    # The stored scores are score() of the stored answers.
    expected = score(answers, six, by=["experiment_id"])
    joined = scores.join(expected, on=["experiment_id", "scale"], suffix="_expected")
    assert joined.height == 30 and (joined["score"] - joined["score_expected"]).abs().max() < 1e-9
    assert scores["reference_score"].null_count() == 30  # the sample never answered it
