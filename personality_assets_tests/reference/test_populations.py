"""Population loaders on good and bad files, on SQLite and PostgreSQL."""

import dagster as dg
import polars as pl
import pytest
from sqlalchemy import select

from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.reference import ReferencePopulation, ReferenceQuestionnaire
from personality_assets.defs.partitions import population_partitions
from personality_assets.defs.persona_study.reports.study_data import incomplete_answers
from personality_assets.defs.reference.assets import reference_questionnaires
from personality_assets.defs.resources import ResearchDatabase
from personality_assets.populations.load import LoadOptions, load_exclusions, load_population
from personality_assets.populations.open_psychometrics_file import (
    open_psychometrics_columns,
    write_open_psychometrics_file,
)
from personality_assets.populations.readers import PopulationFileError
from personality_assets.populations.sample import sample_answers
from personality_assets.questionnaires import all_questionnaires, get_questionnaire

QUIET = {"log": lambda message: None}


def _stored(target, population) -> pl.DataFrame:
    table = ReferenceQuestionnaire.__table__
    with experiment_transaction(target) as connection:
        return pl.read_database(select(table).where(table.c.population == population), connection)


def _population_row(target, population):
    with experiment_transaction(target) as connection:
        return connection.execute(
            select(ReferencePopulation.__table__).where(ReferencePopulation.population == population)
        ).first()


def _wide_file(path, rows: list[list[str]], header: list[str] | None = None):
    header = header or open_psychometrics_columns()
    path.write_text("\t".join(header) + "\n" + "".join("\t".join(row) + "\n" for row in rows))
    return path


def _row(answers: list[int], ipc: int = 1) -> list[str]:
    """One Open Psychometrics row: 50 answers, 50 timings, the 10 metadata columns."""
    return (
        [str(a) for a in answers]
        + ["1000"] * 50
        + ["2016-03-03 02:01:01", "1920", "1080", "5", "200", "3", str(ipc), "US", "40.1", "-70.2"]
    )


# --- Open Psychometrics layout -----------------------------------------------------------------


def test_open_psychometrics_file_loads(db_target, tmp_path):
    path = write_open_psychometrics_file(tmp_path / "data-final.csv", 2_000, null_share=0.01)
    result = load_population(db_target, "openpsy", LoadOptions(path=str(path), chunk_rows=700), **QUIET)
    raw = pl.read_csv(path, separator="\t", infer_schema=False)
    nulls = (raw["EXT1"] == "NULL").sum()
    codes = get_questionnaire("bigfive").codes
    answered = raw.filter(pl.col("EXT1") != "NULL").select(pl.col(codes).cast(pl.Int64))
    complete = answered.filter(pl.all_horizontal(pl.col(c) != 0 for c in codes))
    assert result.respondents == complete.height
    assert result.answers == complete.height * 50
    assert result.exclusions.by_reason == {
        "empty (NULL) rows": nulls,
        "incomplete (some items unanswered)": answered.height - complete.height,
    }
    stored = _stored(db_target, "openpsy")
    assert stored.height == result.answers
    # personality_id is the data row number: check one person's answers against the file.
    first_complete = (
        raw.with_row_index("rownumber", offset=1)
        .filter(
            pl.all_horizontal(pl.col(c) != "0" for c in get_questionnaire("bigfive").codes) & (pl.col("EXT1") != "NULL")
        )
        .row(0, named=True)
    )
    person = stored.filter(pl.col("personality_id") == first_complete["rownumber"]).sort("question_number")
    assert person["answer"].to_list() == [int(first_complete[c]) for c in get_questionnaire("bigfive").codes]
    row = _population_row(db_target, "openpsy")
    assert (row.respondents, row.answers, row.excluded_rows, row.synthetic) == (
        result.respondents,
        result.answers,
        result.exclusions.total,
        False,
    )


def test_ipc_filter_and_incomplete_people(db_target, tmp_path):
    path = _wide_file(tmp_path / "f.tsv", [_row([3] * 50, ipc=1), _row([4] * 50, ipc=2), _row([0] + [2] * 49)])
    result = load_population(db_target, "ipc", LoadOptions(path=str(path), ipc_filter=True), **QUIET)
    assert (result.respondents, dict(result.exclusions.by_reason)) == (
        1,
        {"IPC != 1": 1, "incomplete (some items unanswered)": 1},
    )
    assert result.exclusions.people_by_reason == result.exclusions.by_reason  # a row is a person
    # The incomplete person's 49 answers are kept apart from the population, for per-scale statistics.
    assert incomplete_answers(db_target, "ipc")["answer"].to_list() == [2] * 49
    assert _stored(db_target, "ipc")["personality_id"].unique().to_list() == [1]
    kept = load_population(db_target, "partial", LoadOptions(path=str(path), require_complete=False), **QUIET)
    assert (kept.respondents, kept.answers) == (3, 149)  # the unanswered item is not stored


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        ([_row([3] * 50)[:30]], None, r"row 2: 30 fields, the header has 110"),
        ([_row([3] * 50), _row([3] * 10 + [7] + [3] * 39)], None, r"row 3, column 'EST1': answer out of range"),
        ([_row(["x"] + [3] * 49)], None, r"row 2, column 'EXT1': not an integer"),
        (
            [_row([3] * 50)],
            [*open_psychometrics_columns()[:-1], "favourite_colour"],
            r"unknown columns \['favourite_colour'\]",
        ),
        ([["3"] * 10], open_psychometrics_columns()[:10], r"missing columns \['EST1'"),
    ],
    ids=["truncated row", "out of range", "not an integer", "unknown column", "missing columns"],
)
def test_bad_open_psychometrics_files_are_named(db_target, tmp_path, rows, header, message):
    path = _wide_file(tmp_path / "bad.tsv", rows, header)
    with pytest.raises(PopulationFileError, match=message) as error:
        load_population(db_target, "bad", LoadOptions(path=str(path)), **QUIET)
    assert str(path) in str(error.value)
    assert _population_row(db_target, "bad") is None


def test_bad_rows_can_be_skipped_and_counted(db_target, tmp_path):
    path = _wide_file(tmp_path / "f.tsv", [_row([3] * 50), _row([9] * 50), _row(["?"] * 50), _row([2] * 50)])
    result = load_population(db_target, "skip", LoadOptions(path=str(path), skip_bad_rows=True), **QUIET)
    assert (result.respondents, result.exclusions.by_reason["bad rows (skipped)"]) == (2, 2)
    assert _population_row(db_target, "skip").excluded_rows == 2


def test_unknown_format_is_named(db_target, tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("name,age\nann,3\n")
    with pytest.raises(PopulationFileError, match=r"notes.csv: row 1 \(header\): not a known population format"):
        load_population(db_target, "notes", LoadOptions(path=str(path)), **QUIET)


# --- long CSV ----------------------------------------------------------------------------------


def _long_csv(path, people=2, questionnaire=None, extra=""):
    q = get_questionnaire("bigfive")
    lines = [
        "personality_id,question_number,question,category,key,answer" + (",questionnaire" if questionnaire else "")
    ]
    for person in range(1, people + 1):
        for item in q.items.iter_rows(named=True):
            text = item["text"].replace('"', "")
            lines.append(
                f'{person},{item["number"]},"{text}",{item["scale"]},{item["key"]},{(person + item["number"]) % 5 + 1}'
                + (f",{questionnaire}" if questionnaire else "")
            )
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def test_long_csv_loads(db_target, tmp_path):
    path = _long_csv(tmp_path / "export.csv", people=3)
    result = load_population(db_target, "export", LoadOptions(path=str(path)), **QUIET)
    assert (result.respondents, result.answers, result.exclusions.total) == (3, 150, 0)
    stored = _stored(db_target, "export").filter(pl.col("personality_id") == 2, pl.col("question_number") == 4)
    assert stored["answer"].to_list() == [(2 + 4) % 5 + 1]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '9,1,"x",EXT,+,6\n',
            r"row 102, column 'answer': answer out of range \[1, 2, 3, 4, 5\] of bigfive \(long_csv_questionnaire\)",
        ),
        ('9,77,"x",EXT,+,3\n', r"row 102, column 'question_number': not a question of bigfive"),
        (
            '1,1,"x",EXT,+,3\n',
            r"rows \[2, 102\], columns 'personality_id','question_number': duplicate answer for person 1",
        ),
        ('abc,1,"x",EXT,+,3\n', r"row 102, column 'personality_id': not an integer"),
    ],
    ids=["out of range", "unknown question", "duplicate person", "bad id"],
)
def test_bad_long_csv_is_named(db_target, tmp_path, extra, message):
    path = _long_csv(tmp_path / "export.csv", extra=extra)
    with pytest.raises(PopulationFileError, match=message):
        load_population(db_target, "export", LoadOptions(path=str(path), long_csv_questionnaire="bigfive"), **QUIET)


def test_long_csv_exclusions_are_counted_in_answers_and_people(db_target, tmp_path):
    # Persons 2 and 3 skipped an item each (49 rows each), person 4 is duplicated (51 rows).
    path = _long_csv(tmp_path / "export.csv", people=5, extra='4,1,"x",EXT,+,3\n')
    path.write_text(
        "".join(line for line in path.read_text().splitlines(keepends=True) if not line.startswith(("2,7,", "3,9,")))
    )
    messages = []
    result = load_population(
        db_target,
        "export",
        LoadOptions(path=str(path), skip_bad_rows=True, long_csv_questionnaire="bigfive"),
        log=messages.append,
    )
    incomplete, duplicates = "incomplete (some items unanswered)", "duplicate people (all their rows)"
    assert result.exclusions.by_reason == {incomplete: 98, duplicates: 51}
    assert result.exclusions.people_by_reason == {incomplete: 2, duplicates: 1}
    assert result.exclusions.people == 3 and result.respondents == 2
    assert load_exclusions(db_target).filter(pl.col("population") == "export").sort("reason").rows() == [
        ("export", duplicates, 51, 1),
        ("export", incomplete, 98, 2),
    ]
    assert _population_row(db_target, "export").excluded_people == 3
    # The same figures in the materialisation's metadata.
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(population_partitions.name, ["export"])
    research_db = ResearchDatabase(
        url=db_target.url, reference_schema=db_target.reference_schema, experiment_schema=db_target.experiment_schema
    )
    config = {"path": str(path), "skip_bad_rows": True, "long_csv_questionnaire": "bigfive"}
    materialised = dg.materialize(
        [reference_questionnaires],
        partition_key="export",
        instance=instance,
        resources={"research_db": research_db},
        run_config={"ops": {"reference_questionnaires": {"config": config}}},
    )
    metadata = materialised.asset_materializations_for_node("reference_questionnaires")[0].metadata
    assert metadata["excluded_by_reason"].value == {incomplete: 98, duplicates: 51}
    assert metadata["excluded_people_by_reason"].value == {incomplete: 2, duplicates: 1}
    assert (metadata["excluded_rows"].value, metadata["excluded_people"].value) == (149, 3)


def test_long_csv_duplicates_skipped_and_counted(db_target, tmp_path):
    path = _long_csv(tmp_path / "export.csv", people=3, extra='1,1,"x",EXT,+,3\n')
    result = load_population(db_target, "export", LoadOptions(path=str(path), skip_bad_rows=True), **QUIET)
    assert (result.respondents, result.exclusions.by_reason) == (2, {"duplicate people (all their rows)": 51})


def test_long_csv_unknown_columns(db_target, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("personality_id,question_number,answer,shoe_size\n1,1,3,42\n")
    with pytest.raises(PopulationFileError, match=r"export.csv: row 1 \(header\): unknown columns \['shoe_size'\]"):
        load_population(db_target, "export", LoadOptions(path=str(path)), **QUIET)


def test_truncated_long_csv(db_target, tmp_path):
    path = _long_csv(tmp_path / "export.csv")
    path.write_text(path.read_text() + "3,1")  # cut off mid-row
    with pytest.raises(PopulationFileError, match=r"row 102, column 'answer': missing value"):
        load_population(db_target, "export", LoadOptions(path=str(path)), **QUIET)


SKIPPERS = (3, 8)  # people of _bfi_style's file who skipped an item


def _bfi_style(folder=None, people=12):
    """A bfi-style long CSV (25 items in five scales of five, answers 1..6, some skipped, no
    questionnaire column) and, when ``folder`` is given, its questionnaire "bfi" defined there."""
    scales = "AEOCN"
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "bfi_items.csv").write_text(
            "number,code,scale,key,text\n"
            + "".join(
                f"{n},BFI{n},{scales[(n - 1) // 5]},{'-' if n % 5 == 1 else '+'},Statement {n}\n" for n in range(1, 26)
            )
        )
        (folder / "bfi.toml").write_text(
            'name = "bfi"\nitems_file = "bfi_items.csv"\nscoring = "likert"\n[answer_codes]\n'
            + "".join(f'{code} = "answer {code}"\n' for code in range(1, 7))
            + "[scales]\n"
            + "".join(f'{scale} = "Scale {scale}"\n' for scale in scales)
        )
    lines = ["personality_id,question_number,answer"]
    for person in range(1, people + 1):
        for number in range(1, 26):
            if person in SKIPPERS and number == person:  # a skipped item: no row
                continue
            lines.append(f"{person},{number},{(person + 2 * number) % 6 + 1}")
    return "\n".join(lines) + "\n"


def test_long_csv_of_a_user_questionnaire_is_recognised(db_target, tmp_path, isolated_data_dir):
    path = tmp_path / "bfi_people.csv"
    path.write_text(_bfi_style(isolated_data_dir / "questionnaires"))
    messages = []
    result = load_population(db_target, "bfi_people", LoadOptions(path=str(path)), log=messages.append)
    stored = _stored(db_target, "bfi_people")
    assert set(stored["questionnaire"]) == {"bfi"} and stored["answer"].max() == 6
    assert result.respondents == 12 - len(SKIPPERS) == stored["personality_id"].n_unique()
    assert any("recognised as bfi" in message for message in messages)


def test_long_csv_that_fits_no_questionnaire_is_refused_naming_what_fits(db_target, tmp_path):
    # Without the bfi definition: bigfive has those question numbers but answers only 1..5.
    path = tmp_path / "bfi_people.csv"
    path.write_text(_bfi_style())
    for options in (
        LoadOptions(path=str(path)),
        LoadOptions(path=str(path), skip_bad_rows=True, require_complete=False),
    ):
        with pytest.raises(PopulationFileError) as refused:
            load_population(db_target, "bfi_people", options, **QUIET)
        message = str(refused.value)
        assert "bfi_people.csv: no questionnaire column and long_csv_questionnaire is not set" in message
        assert "no questionnaire fits questions 1..25 with answers 1..6" in message
        assert "bigfive (answers 1..5) has the question numbers; row 3, column 'answer' is 6" in message
        assert "nothing is assumed" in message and "set long_csv_questionnaire" in message
    assert _population_row(db_target, "bfi_people") is None


def test_long_csv_that_fits_several_questionnaires_is_refused(db_target, tmp_path):
    path = tmp_path / "few.csv"
    path.write_text("personality_id,question_number,answer\n1,1,1\n1,2,1\n2,1,1\n2,2,1\n")
    with pytest.raises(PopulationFileError, match=r"few.csv: .*questions 1..2 with answers 1..1 fit bigfive, epqr_a"):
        load_population(db_target, "few", LoadOptions(path=str(path)), **QUIET)
    # Named in the config, it loads.
    result = load_population(
        db_target, "few", LoadOptions(path=str(path), long_csv_questionnaire="epqr_a", require_complete=False), **QUIET
    )
    assert set(_stored(db_target, "few")["questionnaire"]) == {"epqr_a"} and result.respondents == 2


# --- sample and derived populations, replacement -----------------------------------------------


def test_sample_population_is_reproducible_and_plausible():
    questionnaires = list(all_questionnaires().values())
    first, second = sample_answers(questionnaires, size=300), sample_answers(questionnaires, size=300)
    assert first.equals(second)
    assert first["personality_id"].n_unique() == 300
    from personality_assets.questionnaires import score

    scores = (
        pl.concat(
            score(
                first.filter(pl.col("questionnaire") == name), get_questionnaire(name), by=["personality_id"]
            ).with_columns(pl.lit(name).alias("q"))
            for name in ("bigfive", "epqr_a")
        )
        .with_columns((pl.col("q") + "." + pl.col("scale")).alias("scale"))
        .pivot(on="scale", index="personality_id", values="score")
    )
    # The same trait measured twice agrees; stability and neuroticism disagree; traits intercorrelate mildly.
    assert scores.select(pl.corr("bigfive.EXT", "epqr_a.E")).item() > 0.6
    assert scores.select(pl.corr("bigfive.EST", "epqr_a.N")).item() < -0.6
    assert 0.0 < scores.select(pl.corr("bigfive.AGR", "bigfive.CSN")).item() < 0.5


def test_random_baseline_keeps_each_item_distribution_and_breaks_the_person(db_target):
    load_population(db_target, "sample", **QUIET)
    result = load_population(db_target, "sample_random", **QUIET)
    assert (result.derived_from, result.source_format, result.respondents) == ("sample", "derived", 300)
    assert "random baseline" in result.source and "seed" in result.source
    base, random = _stored(db_target, "sample"), _stored(db_target, "sample_random")
    assert random.height == base.height
    items = ["questionnaire", "question_number"]
    # Every item's answers are drawn from that item's own answers in the base population ...
    allowed = base.select(*items, "answer").unique()
    assert random.join(allowed, on=[*items, "answer"], how="anti").is_empty()
    shares = {
        name: frame.group_by(*items, "answer").len().with_columns(pl.col("len") / 300)
        for name, frame in (("base", base), ("random", random))
    }
    joined = shares["base"].join(shares["random"], on=[*items, "answer"], how="full", coalesce=True).fill_null(0)
    assert joined.select((pl.col("len") - pl.col("len_right")).abs().max()).item() < 0.15
    # ... independently of the person's other answers: the items of a scale no longer correlate.
    ext = get_questionnaire("bigfive").items.filter(pl.col("scale") == "EXT")["number"].head(2).to_list()

    def correlation(frame):
        wide = frame.filter(pl.col("questionnaire") == "bigfive", pl.col("question_number").is_in(ext)).pivot(
            on="question_number", index="personality_id", values="answer"
        )
        return wide.select(pl.corr(str(ext[0]), str(ext[1]))).item()

    assert abs(correlation(base)) > 0.3 and abs(correlation(random)) < 0.2
    # Seeded: a reload draws the same answers.
    load_population(db_target, "sample_random", **QUIET)
    assert _stored(db_target, "sample_random").sort(pl.all()).equals(random.sort(pl.all()))


def test_derived_population_sets_scale_to_extreme(db_target):
    load_population(db_target, "sample", **QUIET)
    result = load_population(db_target, "sample_maxN", **QUIET)
    assert result.derived_from == "sample" and result.synthetic
    base, derived = _stored(db_target, "sample"), _stored(db_target, "sample_maxN")
    epqr_n = get_questionnaire("epqr_a").items.filter(pl.col("scale") == "N")["number"]
    bigfive_est = get_questionnaire("bigfive").items.filter(pl.col("scale") == "EST")
    is_n = (pl.col("questionnaire") == "epqr_a") & pl.col("question_number").is_in(epqr_n.implode())
    is_est = (pl.col("questionnaire") == "bigfive") & pl.col("question_number").is_in(bigfive_est["number"].implode())
    assert derived.filter(is_n)["answer"].unique().to_list() == [1]  # every N item keyed "yes"
    # Neuroticism is also Big Five's reversed Emotional Stability: those items go to the neurotic end.
    est = derived.filter(is_est).join(
        bigfive_est.select(pl.col("number").alias("question_number"), "key"), on="question_number"
    )
    assert est.select(((pl.col("key") == "+") == (pl.col("answer") == 1)).all()).item()
    assert est.select(((pl.col("key") == "-") == (pl.col("answer") == 5)).all()).item()
    unchanged = ~is_n & ~is_est
    assert (
        derived.filter(unchanged)
        .drop("population")
        .sort(pl.all())
        .equals(base.filter(unchanged).drop("population").sort(pl.all()))
    )
    scores = result.scale_summary()
    assert scores.filter(pl.col("scale") == "N").select("mean", "sd").row(0) == (6.0, 0.0)
    assert scores.filter(pl.col("scale") == "EST").select("mean", "sd").row(0) == (1.0, 0.0)


def test_derived_population_needs_its_base(db_target):
    with pytest.raises(PopulationFileError, match="derived from 'nothere', which is not loaded"):
        load_population(db_target, "nothere_maxN", **QUIET)


def test_reload_replaces_one_partition_only(db_target, tmp_path):
    load_population(db_target, "sample", **QUIET)
    first = _long_csv(tmp_path / "a.csv", people=3)
    load_population(db_target, "export", LoadOptions(path=str(first)), **QUIET)
    second = _long_csv(tmp_path / "b.csv", people=2)
    load_population(db_target, "export", LoadOptions(path=str(second)), **QUIET)
    assert _stored(db_target, "export")["personality_id"].n_unique() == 2
    assert _stored(db_target, "sample").height == 300 * 74


def test_failed_reload_keeps_the_previous_version(db_target, tmp_path):
    good = write_open_psychometrics_file(tmp_path / "good.tsv", 500, null_share=0)
    before = load_population(db_target, "pop", LoadOptions(path=str(good)), **QUIET)
    # A file whose bad row comes after several batches have already been written.
    bad = tmp_path / "bad.tsv"
    bad.write_text(good.read_text() + "\t".join(_row([8] * 50)) + "\n")
    with pytest.raises(PopulationFileError, match="row 502"):
        load_population(db_target, "pop", LoadOptions(path=str(bad), chunk_rows=100), **QUIET)
    assert _stored(db_target, "pop").height == before.answers
    assert _population_row(db_target, "pop").source == str(good)


# --- every file row loaded or counted ------------------------------------------------------------


def _with_stray_tab(row: list[str], at: int = 10) -> list[str]:
    return [*row[:at], "", *row[at:]]  # one more field: everything after `at` shifts by one


def test_a_row_with_an_extra_field_is_refused_not_shifted(db_target, tmp_path):
    path = _wide_file(tmp_path / "f.tsv", [_row([3] * 50), _with_stray_tab(_row([2] * 50)), _row([4] * 50)])
    with pytest.raises(PopulationFileError, match=r"f.tsv: row 3: 111 fields, the header has 110"):
        load_population(db_target, "stray", LoadOptions(path=str(path)), **QUIET)
    assert _population_row(db_target, "stray") is None
    result = load_population(db_target, "stray", LoadOptions(path=str(path), skip_bad_rows=True), **QUIET)
    assert (result.respondents, dict(result.exclusions.by_reason)) == (2, {"wrong number of fields": 1})
    assert sorted(_stored(db_target, "stray")["answer"].unique().to_list()) == [3, 4]


@pytest.mark.parametrize("ipc_filter", [False, True])
def test_a_row_truncated_after_the_answers_is_named_or_counted(db_target, tmp_path, ipc_filter):
    rows = [_row([3] * 50), _row([2] * 50)[:50], _row([4] * 50, ipc=2), _row([5] * 50)]
    path = _wide_file(tmp_path / "f.tsv", rows)
    with pytest.raises(PopulationFileError, match=r"f.tsv: row 3: 50 fields, the header has 110"):
        load_population(db_target, "cut", LoadOptions(path=str(path), ipc_filter=ipc_filter), **QUIET)
    result = load_population(
        db_target, "cut", LoadOptions(path=str(path), ipc_filter=ipc_filter, skip_bad_rows=True), **QUIET
    )
    expected = {"wrong number of fields": 1, **({"IPC != 1": 1} if ipc_filter else {})}
    assert dict(result.exclusions.by_reason) == expected
    assert result.file_rows == 4 == result.respondents + result.exclusions.total


def test_every_file_row_is_loaded_or_counted(db_target, tmp_path):
    rows = [
        _row([3] * 50),
        ["NULL"] * 110,
        _row([0] * 50),
        _row([0] + [2] * 49),
        _row([4] * 50, ipc=3),
        [],
        _row([9] * 50),
        _row([5] * 50),
    ]
    path = _wide_file(tmp_path / "f.tsv", rows)
    for options in (
        LoadOptions(path=str(path), skip_bad_rows=True, ipc_filter=True),
        LoadOptions(path=str(path), skip_bad_rows=True, require_complete=False),
    ):
        result = load_population(db_target, "mixed", options, **QUIET)
        assert result.file_rows == len(rows) == result.respondents + result.exclusions.total, result.exclusions


def test_a_spreadsheet_byte_order_mark_is_accepted(db_target, tmp_path):
    wide = _wide_file(tmp_path / "wide.tsv", [_row([3] * 50)])
    wide.write_text("\ufeff" + wide.read_text())
    assert load_population(db_target, "wide", LoadOptions(path=str(wide)), **QUIET).respondents == 1
    long = _long_csv(tmp_path / "long.csv", people=2)
    long.write_text("\ufeff" + long.read_text())
    assert load_population(db_target, "long", LoadOptions(path=str(long)), **QUIET).respondents == 2


@pytest.mark.parametrize(
    "bad_row",
    ['3,1,"an unclosed quote,EXT,+,3', '3,1,a stray"quote,EXT,+,3'],
    ids=["unclosed quote", "quote inside an unquoted field"],
)
def test_a_malformed_quote_names_its_row(db_target, tmp_path, bad_row):
    path = _long_csv(tmp_path / "export.csv", extra=f'{bad_row}\n3,2,"x",EXT,+,3\n')
    with pytest.raises(PopulationFileError, match=r"export.csv: row 102.*quote"):
        load_population(db_target, "export", LoadOptions(path=str(path)), **QUIET)


def test_a_key_without_path_never_loads_a_link_out_of_the_drop_folder_nor_picks_between_two_files(
    db_target, tmp_path, monkeypatch
):
    drop = tmp_path / "incoming"
    drop.mkdir()
    monkeypatch.setenv("PERSONALITY_ASSETS_DROP_DIR", str(drop))
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:top secret first line\n")
    (drop / "passwd.csv").symlink_to(secret)
    with pytest.raises(PopulationFileError, match="passwd.csv: a link to a file outside the drop folder") as refused:
        load_population(db_target, "passwd", **QUIET)
    assert "top secret" not in str(refused.value)

    write_open_psychometrics_file(drop / "wave-2.csv", 20)
    write_open_psychometrics_file(drop / "wave_2.tsv", 20)
    with pytest.raises(PopulationFileError, match=r"wave-2.csv, wave_2.tsv: all name population 'wave_2'"):
        load_population(db_target, "wave_2", **QUIET)
    assert _population_row(db_target, "wave_2") is None


def test_a_row_that_is_not_utf8_is_named(db_target, tmp_path):
    path = _wide_file(tmp_path / "f.tsv", [_row([3] * 50), _row([2] * 50)])
    path.write_bytes(path.read_bytes().replace(b"\tUS\t", b"\tM\xe9xico\t").replace(b"\tM\xe9xico\t", b"\tUS\t", 1))
    with pytest.raises(PopulationFileError, match=r"f.tsv: row 3: not UTF-8 text .*save the file as UTF-8"):
        load_population(db_target, "latin", LoadOptions(path=str(path)), **QUIET)
