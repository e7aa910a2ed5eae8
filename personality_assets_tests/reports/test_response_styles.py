"""Response-style indices on respondents with known values, the comparison's statistics against
scipy and statsmodels, the desirability index's signs, and reply problems from call records."""

import base64
import random

import dagster as dg
import numpy as np
import polars as pl
import pytest
from scipy import stats
from sqlalchemy import select
from statsmodels.stats.multitest import multipletests

from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.persona_study import ResponseStyleIndex
from personality_assets.defs.persona_study.assets import (
    experiment_registrations,
    personas,
    questionnaire_answers,
    questionnaire_scores,
)
from personality_assets.defs.persona_study.reports.assets import response_style_report
from personality_assets.defs.persona_study.reports.response_styles import (
    DESIRABLE_POLES,
    OVERALL,
    all_style_indices,
    balanced_pairs,
    reply_problems,
    social_desirability,
    style_comparison,
    style_indices,
    with_defined_positions,
)
from personality_assets.defs.persona_study.simulate import answer_hints, simulated_answers
from personality_assets.defs.reference.assets import questionnaires, reference_questionnaires
from personality_assets.llm.config import ResponseStyle
from personality_assets.questionnaires import Questionnaire, get_questionnaire
from personality_assets_tests.support.study import research_resources

KEYS = ["model", "condition", "respondent"]


def _answers(questionnaire: Questionnaire, respondents: dict[str, list[int]], order=None) -> pl.DataFrame:
    """Long answers of named respondents, each list in questionnaire item order; ``order``: the
    presentation positions of the items (default: as defined)."""
    numbers = questionnaire.items["number"].to_list()
    positions = order or list(range(len(numbers)))
    rows = [
        ("m", "base", name, number, answer, position)
        for name, answers in respondents.items()
        for number, answer, position in zip(numbers, answers, positions, strict=True)
    ]
    schema = {
        "model": pl.String,
        "condition": pl.String,
        "respondent": pl.String,
        "question_number": pl.Int64,
        "answer": pl.Int64,
        "position": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _by_respondent(table: pl.DataFrame) -> dict[str, dict]:
    return {row["respondent"]: row for row in table.iter_rows(named=True)}


def _likert(tmp_path, codes: range, keys: list[str], scales: list[str] | None = None) -> Questionnaire:
    """A user questionnaire on disk (read as the package reads any): likert over ``codes``."""
    scales = scales or ["S"] * len(keys)
    (tmp_path / "items.csv").write_text(
        "number,code,scale,key,text\n"
        + "".join(f"{i + 1},Q{i + 1},{s},{k},item {i + 1}\n" for i, (s, k) in enumerate(zip(scales, keys, strict=True)))
    )
    answer_codes = "".join(f'{c} = "code {c}"\n' for c in codes)
    scale_lines = "".join(f'{s} = "scale {s}"\n' for s in dict.fromkeys(scales))
    (tmp_path / "test.toml").write_text(
        f'name = "styles_test"\nitems_file = "items.csv"\nscoring = "likert"\n'
        f"[answer_codes]\n{answer_codes}[scales]\n{scale_lines}"
    )
    from personality_assets.questionnaires import _read_definition

    return _read_definition(tmp_path / "test.toml")


def test_balanced_pairs_match_keyed_with_reversed_within_each_scale():
    bigfive = get_questionnaire("bigfive")
    pairs = balanced_pairs(bigfive)
    items = bigfive.items.select(pl.col("number").cast(pl.Int64).alias("question_number"), "scale", "key")
    joined = pairs.join(items, on="question_number")
    # Each pair: one "+" and one "-" item of the same scale; per scale min(#keyed, #reversed) pairs.
    per_pair = joined.group_by("pair").agg(pl.col("scale").n_unique(), pl.col("key").sort())
    assert per_pair["scale"].to_list() == [1] * per_pair.height
    assert all(keys == ["+", "-"] for keys in per_pair["key"].to_list())
    expected = sum(
        min(g.filter(pl.col("key") == "+").height, g.filter(pl.col("key") == "-").height)
        for _, g in items.group_by("scale")
    )
    assert pairs["pair"].n_unique() == expected == 18  # AGR 4, CSN 4, EST 2, EXT 5, OPN 3
    # EPQR-A: "yes"-keyed against "no"-keyed items: E 2, P 3, L 1 (N has only "yes" items).
    assert balanced_pairs(get_questionnaire("epqr_a"))["pair"].n_unique() == 6


def test_each_index_on_respondents_with_known_values():
    bigfive = get_questionnaire("bigfive")
    k = bigfive.item_count
    pairs = balanced_pairs(bigfive)["question_number"].to_list()
    in_pairs = set(pairs)
    numbers = bigfive.items["number"].to_list()
    alternating = [1 if i % 2 == 0 else 5 for i in range(k)]
    # "agreer": agrees (4) with every paired item and answers 2 elsewhere.
    agreer = [4 if n in in_pairs else 2 for n in numbers]
    respondents = {
        "straight": [3] * k,  # a straight-liner at the midpoint
        "alternating": alternating,
        "agreer": agreer,
    }
    table = _by_respondent(style_indices(_answers(bigfive, respondents), bigfive, KEYS))
    straight, alt, agree = table["straight"], table["alternating"], table["agreer"]
    assert straight["items"] == k and straight["longest_run"] == k and straight["modal_share"] == 1.0
    assert straight["midpoint_share"] == 1.0 and straight["extreme_share"] == 0.0
    assert straight["acquiescence_mean"] == 3.0 and straight["acquiescence_pairs"] == 0.0  # 3 is not agreement
    assert alt["longest_run"] == 1 and alt["extreme_share"] == 1.0 and alt["midpoint_share"] == 0.0
    assert alt["modal_share"] == pytest.approx(0.5)
    assert agree["acquiescence_pairs"] == 1.0 and agree["acquiescence_mean"] == 4.0
    assert agree["modal_share"] == pytest.approx(len(in_pairs) / k)
    assert agree["extreme_share"] == 0.0 and agree["midpoint_share"] == 0.0


def test_acquiescence_pairs_counts_only_pairs_agreed_on_both_sides():
    bigfive = get_questionnaire("bigfive")
    pairs = balanced_pairs(bigfive)
    first_of_each = set(pairs.group_by("pair").agg(pl.col("question_number").first())["question_number"])
    # Agree with the keyed item of every pair, disagree with its twin: content-consistent, no acquiescence.
    answers = [5 if n in first_of_each else 1 for n in bigfive.items["number"].to_list()]
    row = style_indices(_answers(bigfive, {"consistent": answers}), bigfive, KEYS).row(0, named=True)
    assert row["acquiescence_pairs"] == 0.0 and row["acquiescence_mean"] == 3.0
    # Half the pairs missing an item: those pairs are not used.
    dropped = pairs.filter(pl.col("pair") < 9).group_by("pair").agg(pl.col("question_number").last())
    frame = _answers(bigfive, {"agree": [5] * bigfive.item_count}).filter(
        ~pl.col("question_number").is_in(dropped["question_number"].to_list())
    )
    row = style_indices(frame, bigfive, KEYS).row(0, named=True)
    assert row["acquiescence_pairs"] == 1.0 and row["items"] == bigfive.item_count - 9


def test_longest_run_follows_presentation_order_not_item_numbers():
    bigfive = get_questionnaire("bigfive")
    k = bigfive.item_count
    answers = [1 if i % 2 == 0 else 5 for i in range(k)]  # alternating in item order
    # Presented with the odd-indexed items first: 25 fives then 25 ones in a row.
    order = [k // 2 + i // 2 if i % 2 == 0 else i // 2 for i in range(k)]
    row = style_indices(_answers(bigfive, {"r": answers}, order), bigfive, KEYS).row(0, named=True)
    assert row["longest_run"] == k // 2


def test_yes_no_questionnaire_indices():
    epqr = get_questionnaire("epqr_a")
    everything_yes = [1] * epqr.item_count
    row = style_indices(_answers(epqr, {"yes": everything_yes}), epqr, KEYS).row(0, named=True)
    assert row["acquiescence_pairs"] == 1.0 and row["acquiescence_mean"] == 1.0
    assert row["extreme_share"] is None and row["midpoint_share"] is None  # two codes: no middle, all ends
    assert row["longest_run"] == epqr.item_count and row["modal_share"] == 1.0
    row = style_indices(_answers(epqr, {"no": [0] * epqr.item_count}), epqr, KEYS).row(0, named=True)
    assert row["acquiescence_pairs"] == 0.0 and row["acquiescence_mean"] == 0.0


def test_a_user_scale_without_a_middle_code_has_no_midpoint_share(tmp_path):
    questionnaire = _likert(tmp_path, range(1, 7), ["+", "-", "+", "-"])
    table = style_indices(_answers(questionnaire, {"r": [4, 4, 1, 6]}), questionnaire, KEYS)
    row = table.row(0, named=True)
    assert row["midpoint_share"] is None
    assert row["extreme_share"] == 0.5
    # Pairs (1,2) and (3,4): 4 and 4 both above 3.5 (agreed); 1 and 6 not both.
    assert row["acquiescence_pairs"] == 0.5 and row["acquiescence_mean"] == pytest.approx(15 / 4)
    assert row["longest_run"] == 2 and row["modal_share"] == 0.5


def test_positions_default_to_the_defined_order():
    bigfive = get_questionnaire("bigfive")
    answers = _answers(bigfive, {"r": [3] * bigfive.item_count}).drop("position")
    positioned = with_defined_positions(answers.with_columns(pl.lit("bigfive").alias("questionnaire")))
    assert positioned["position"].to_list() == list(range(bigfive.item_count))


def _index_frame(values: dict[str, list[float]], **columns) -> pl.DataFrame:
    n = len(next(iter(values.values())))
    return pl.DataFrame({**{c: [v] * n for c, v in columns.items()}, **values})


def test_comparison_matches_scipy_and_statsmodels():
    rng = np.random.default_rng(3)
    a = rng.normal(3.2, 0.4, 40)
    b = rng.normal(3.0, 0.6, 55)
    c = rng.uniform(0, 1, 40)
    d = rng.uniform(0, 0.9, 55)
    personas = _index_frame(
        {
            "acquiescence_mean": a,
            "extreme_share": c,
            "acquiescence_pairs": [0.5] + [None] * 39,
            "midpoint_share": [None] * 40,
        },
        model="m",
        condition="base",
        questionnaire="bigfive",
    )
    humans = _index_frame({"acquiescence_mean": b, "extreme_share": d}, condition="base", questionnaire="bigfive")
    table = style_comparison(personas, humans)
    # midpoint_share has no value on either side: no row; acquiescence_pairs one value: no test.
    assert set(table["index"]) == {"acquiescence_mean", "extreme_share", "acquiescence_pairs"}
    rows = {row["index"]: row for row in table.iter_rows(named=True)}
    assert rows["acquiescence_mean"]["item_order"] == "as_defined"  # base presentation when absent
    p_values = []
    for index, (x, y) in {"acquiescence_mean": (a, b), "extreme_share": (c, d)}.items():
        expected = stats.ttest_ind(x, y, equal_var=False)
        pooled = np.sqrt(((len(x) - 1) * x.var(ddof=1) + (len(y) - 1) * y.var(ddof=1)) / (len(x) + len(y) - 2))
        assert rows[index]["p"] == pytest.approx(expected.pvalue, rel=1e-10)
        assert rows[index]["welch_t"] == pytest.approx(expected.statistic, rel=1e-10)
        assert rows[index]["cohens_d"] == pytest.approx((x.mean() - y.mean()) / pooled, rel=1e-10)
        assert rows[index]["difference"] == pytest.approx(x.mean() - y.mean())
        p_values.append(expected.pvalue)
    holm = multipletests(p_values, method="holm")[1]
    assert [rows["acquiescence_mean"]["p_holm"], rows["extreme_share"]["p_holm"]] == pytest.approx(list(holm))
    assert rows["acquiescence_pairs"]["p"] is None and rows["acquiescence_pairs"]["significant"] == "n/a"


def test_comparison_averages_a_personas_repetitions_and_matches_humans_by_condition():
    personas = pl.DataFrame(
        {
            "model": ["m"] * 4,
            "condition": ["base", "base", "base", "base"],
            "questionnaire": ["bigfive"] * 4,
            "persona_id": [1, 1, 2, 2],
            "modal_share": [0.2, 0.4, 0.5, 0.7],
        }
    )
    humans = pl.DataFrame(
        {
            "condition": ["base", "base", "other", "other"],
            "questionnaire": ["bigfive"] * 4,
            "modal_share": [0.1, 0.3, 0.9, 0.9],
        }
    )
    row = style_comparison(personas, humans).row(0, named=True)
    assert row["n"] == 2 and row["mean"] == pytest.approx(0.45) and row["reference_n"] == 2
    assert row["reference_mean"] == pytest.approx(0.2)


def _scores(questionnaire: str, scale: str, values, **columns) -> pl.DataFrame:
    return pl.DataFrame(
        {**{c: [v] * len(values) for c, v in columns.items()}, "questionnaire": questionnaire, "scale": scale}
        | {"score": [float(v) for v in values]}
    )


def test_a_planted_shift_toward_the_desirable_pole_is_positive():
    rng = np.random.default_rng(5)
    human_values = {
        ("bigfive", "EST"): rng.normal(3.0, 0.8, 200),
        ("bfi44", "N"): rng.normal(3.0, 0.8, 200),
        ("epqr_a", "L"): rng.normal(2.0, 1.5, 200),
    }
    # Personas: EST half an sd higher, N half an sd lower, L unchanged (same draw: shift 0).
    planted = {("bigfive", "EST"): 0.4, ("bfi44", "N"): -0.4, ("epqr_a", "L"): 0.0}
    humans = pl.concat(_scores(q, s, v, condition="base") for (q, s), v in human_values.items())
    personas = pl.concat(
        _scores(q, s, v + planted[(q, s)], model="m", condition="base") for (q, s), v in human_values.items()
    )
    # A scale outside the pole table is not part of the index.
    personas = pl.concat([personas, _scores("bigfive", "NOT_A_SCALE", [9.0, 9.0], model="m", condition="base")])
    table = social_desirability(personas, humans)
    shifts = {(r["questionnaire"], r["scale"]): r["shift"] for r in table.iter_rows(named=True)}
    sd_est, sd_n = human_values[("bigfive", "EST")].std(ddof=1), human_values[("bfi44", "N")].std(ddof=1)
    assert shifts[("bigfive", "EST")] == pytest.approx(0.4 / sd_est)
    assert shifts[("bfi44", "N")] == pytest.approx(0.4 / sd_n)  # lower neuroticism is toward desirable
    assert shifts[("epqr_a", "L")] == pytest.approx(0.0, abs=1e-12)
    assert shifts[("all", OVERALL)] == pytest.approx((0.4 / sd_est + 0.4 / sd_n) / 3)
    assert ("bigfive", "NOT_A_SCALE") not in shifts
    assert DESIRABLE_POLES[("bfi44", "N")] == -1 and DESIRABLE_POLES[("bigfive", "EST")] == 1
    overall = table.filter(pl.col("scale") == OVERALL).row(0, named=True)
    assert overall["scales"] == 3 and overall["wording"] == "original"


def test_reply_problems_counts_refusals_and_validation_failures():
    calls = pl.DataFrame(
        {
            "model": ["a"] * 6 + ["b"] * 2,
            "purpose": ["questionnaire"] * 5 + ["persona"] + ["questionnaire"] * 2,
            "status": ["ok", "ok", "invalid", "failed", "ok", "ok", "ok", "invalid"],
            "json_valid_first": [True, False, False, None, True, True, True, False],
            "response_text": [
                '{"answers": {"1": 3, "2": 4}}',
                '{"answers": {"1": 3, "2": 4}}',  # valid after a retry
                "I'm sorry, but I can't take on a persona to answer personality questions.",
                None,
                '{"answers": {"1": "I cannot decide"}}',  # a refusal phrase inside JSON still counts
                "As an AI, I have no personality.",  # another purpose: not counted
                '{"answers": {"1": 1}}',
                "As an AI language model I don’t have opinions.",
            ],
        },
        schema_overrides={"json_valid_first": pl.Boolean},
    )
    table = {row["model"]: row for row in reply_problems(calls).iter_rows(named=True)}
    a, b = table["a"], table["b"]
    assert a["requests"] == 5 and a["first_reply_invalid"] == 2 and a["invalid_after_retries"] == 1
    assert a["failed"] == 1 and a["refusals"] == 2 and a["refusal_share"] == pytest.approx(0.4)
    assert a["first_reply_invalid_share"] == pytest.approx(0.4)
    assert b["requests"] == 2 and b["refusals"] == 1 and b["invalid_share"] == 0.5


@pytest.mark.parametrize(
    "text",
    ["I can't do that.", "I cannot answer", "I'm sorry", "I am unable to", "I won’t pretend", "As an AI model"],
)
def test_refusal_phrasings_are_found(text):
    calls = pl.DataFrame(
        {"model": ["a"], "purpose": ["questionnaire"], "status": ["invalid"], "json_valid_first": [False]}
    ).with_columns(pl.lit(text).alias("response_text"))
    assert reply_problems(calls)["refusals"].item() == 1


def test_ordinary_replies_are_not_refusals():
    texts = ['{"answers": {"1": 5, "2": 1}}', '```json\n{"answers": {"1": 2}}\n```', "Scanning items, I can answer."]
    calls = pl.DataFrame(
        {
            "model": ["a"] * 3,
            "purpose": ["questionnaire"] * 3,
            "status": ["ok"] * 3,
            "json_valid_first": [True] * 3,
            "response_text": texts,
        }
    )
    assert reply_problems(calls)["refusals"].item() == 0


def test_report_asset_stores_indices_and_compares_with_the_humans(db_target):
    instance = dg.DagsterInstance.ephemeral()
    resources = research_resources(db_target)
    instance.add_dynamic_partitions("population", ["sample"])
    instance.add_dynamic_partitions("model", ["simulated"])
    assert dg.materialize([questionnaires], resources=resources, instance=instance).success
    dg.materialize([reference_questionnaires], partition_key="sample", resources=resources, instance=instance)
    study = [personas, experiment_registrations, questionnaire_answers, questionnaire_scores]
    key = dg.MultiPartitionKey({"model": "simulated", "population": "sample"})
    # Every persona answers as defined and in one shuffle, each on the scale as shown and reversed.
    presentation = {"item_order": "shuffled", "orders": 1, "option_orders": ["ascending", "descending"]}
    config = {
        "ops": {
            "personas": {"config": {"max_people": 12}},
            "experiment_registrations": {"config": presentation},
        }
    }
    assert dg.materialize(study, partition_key=key, resources=resources, instance=instance, run_config=config).success

    def run():
        result = dg.materialize([response_style_report], resources=resources, instance=instance)
        assert result.success
        return result.asset_materializations_for_node("response_style_report")[0].metadata

    run()
    metadata = run()  # a second run replaces the table's rows, it does not add to them
    with experiment_transaction(db_target) as connection:
        stored = pl.read_database(select(ResponseStyleIndex.__table__), connection)
    written = pl.read_parquet(metadata["parquet"].value)
    assert stored.height == written.height
    personas_rows = stored.filter(pl.col("respondent") == "persona")
    humans_rows = stored.filter(pl.col("respondent") == "reference")
    assert set(personas_rows["questionnaire"]) == {"bigfive", "epqr_a"}
    assert (
        personas_rows["experiment_id"].null_count() == 0
        and humans_rows["experiment_id"].null_count() == humans_rows.height
    )
    assert set(humans_rows["model"]) == {"reference"} and set(humans_rows["item_order"]) == {"as_defined"}
    levels = set(personas_rows.select("item_order", "option_order").unique().rows())
    assert levels == {(o, d) for o in ("as_defined", "shuffled_1") for d in ("ascending", "descending")}
    assert (stored.filter(pl.col("questionnaire") == "bigfive")["items"] == 50).all()
    assert (
        stored.filter(pl.col("questionnaire") == "epqr_a")["midpoint_share"].null_count()
        == stored.filter(pl.col("questionnaire") == "epqr_a").height
    )

    comparison = pl.read_csv(metadata["comparison_csv"].value)
    assert set(comparison["model"]) == {"simulated"} and (comparison["reference_n"] > 0).all()
    # Each presentation is compared with the humans: 4 presentations x the indices of each questionnaire.
    assert comparison.select("item_order", "option_order").unique().height == 4
    assert comparison.group_by("item_order", "option_order").len()["len"].to_list() == [6 + 4] * 4
    assert metadata["tests"].value == comparison.filter(pl.col("p").is_not_null()).height > 0
    tested = comparison.filter(pl.col("p").is_not_null())
    assert metadata["max_abs_d"].value == pytest.approx(tested["cohens_d"].abs().max(), abs=1e-4)
    table = metadata["table"]
    assert metadata["table_rows"].value == comparison.height and len(table.records) == min(50, comparison.height)
    assert {c.name for c in table.schema.columns} >= {"index", "presentation", "cohens_d", "p_holm"}
    desirability = pl.read_csv(metadata["social_desirability_csv"].value)
    overall = desirability.filter(pl.col("scale") == "overall")["shift"]
    assert metadata["max_desirability_shift"].value == pytest.approx(overall.max(), abs=1e-4)
    problems = pl.read_csv(metadata["reply_problems_csv"].value)
    assert problems["model"].to_list() == ["simulated"] and problems["refusals"].to_list() == [0]
    assert problems["requests"].item() > 0 and metadata["max_refusal_share"].value == 0
    assert metadata["reply_problems"].records[0].data["model"] == "simulated"
    encoded = metadata["response_styles"].value.split("data:image/png;base64,")[1].rstrip(")")
    assert base64.b64decode(encoded)[:8] == b"\x89PNG\r\n\x1a\n"


# Known answers: the offline simulator answers as latent people would ("humans": no style) and,
# from the same latent people, with a planted response style ("personas"). Detected: p < .05
# after Holm across the comparison table, in the planted direction, in at least 19 of 20 seeds;
# with nothing planted the same rows are flagged in at most 1 of 20.
SEEDS = range(20)
PEOPLE = 150
LATENT_TRAITS = {"bigfive": ("EXT", "EST", "AGR", "CSN", "OPN"), "epqr_a": ("E", "N", "P", "L")}
PLANTED = {
    "none": None,
    "acquiescence": ResponseStyle(acquiescence=0.3),  # 0.3 answer units toward agreement
    "spread": ResponseStyle(spread=0.3),  # answers 30% of the way to the midpoint
}
ANSWER_SCHEMA = {"respondent": pl.Int64, "questionnaire": pl.String, "question_number": pl.Int64, "answer": pl.Int64}


def _simulated(seed: int) -> pl.DataFrame:
    """One comparison table, as the report makes for several models at once: a simulated "model"
    per planted style (and one with none), each answering as the same PEOPLE latent people
    (traits drawn per seed), against those people's unstyled replies; Holm across the table."""
    latent = random.Random(seed)
    no_reference = pl.DataFrame(schema={k: v for k, v in ANSWER_SCHEMA.items() if k != "respondent"}).with_columns(
        pl.lit(None, pl.Int64).alias("personality_id")
    )
    hints = {}
    for name, scales in LATENT_TRAITS.items():
        traits = {person: {scale: latent.gauss(0, 1) for scale in scales} for person in range(PEOPLE)}
        hints[name] = answer_hints(get_questionnaire(name), no_reference, traits)

    def replies(style, stream: str) -> pl.DataFrame:
        rng = random.Random(f"{seed}:{stream}")
        rows = [
            (person, name, int(number), answer)
            for name, people in hints.items()
            for person in range(PEOPLE)
            for number, answer in simulated_answers(rng, people[person], style).items()
        ]
        return pl.DataFrame(rows, schema=ANSWER_SCHEMA, orient="row").with_columns(
            pl.lit("c").alias("condition"), pl.lit(stream).alias("model")
        )

    humans = all_style_indices(replies(None, "humans").drop("model"), ["condition", "respondent"])
    personas = pl.concat(replies(style, planted) for planted, style in PLANTED.items())
    return style_comparison(all_style_indices(personas, ["model", "condition", "respondent"]), humans)


@pytest.fixture(scope="module")
def simulated_comparisons() -> list[pl.DataFrame]:
    return [_simulated(seed) for seed in SEEDS]


def _found(table: pl.DataFrame, planted: str, questionnaire: str, index: str, direction: int) -> bool:
    rows = table.filter(
        (pl.col("model") == planted)
        & (pl.col("questionnaire") == questionnaire)
        & (pl.col("index") == index)
        & (pl.col("p_holm") < 0.05)
    )
    return bool(rows.filter(pl.col("difference") * direction > 0).height)


def test_planted_acquiescence_is_found_in_both_questionnaires(simulated_comparisons):
    found = [
        all(
            _found(table, "acquiescence", name, "acquiescence_mean", 1)
            or _found(table, "acquiescence", name, "acquiescence_pairs", 1)
            for name in LATENT_TRAITS
        )
        for table in simulated_comparisons
    ]
    assert sum(found) >= 19, found


def test_planted_spread_shrinkage_is_found(simulated_comparisons):
    # On the Big Five's 1..5 scale; yes/no items have no extreme or middle share to shrink.
    found = [
        _found(table, "spread", "bigfive", "extreme_share", -1)
        or _found(table, "spread", "bigfive", "midpoint_share", 1)
        for table in simulated_comparisons
    ]
    assert sum(found) >= 19, found


def test_nothing_planted_is_not_found(simulated_comparisons):
    watched = ("acquiescence_mean", "acquiescence_pairs", "extreme_share", "midpoint_share")
    unstyled = [
        table.filter((pl.col("model") == "none") & (pl.col("p_holm") < 0.05)) for table in simulated_comparisons
    ]
    flagged = [table.filter(pl.col("index").is_in(watched)).height > 0 for table in unstyled]
    assert sum(flagged) <= 1, flagged
    assert sum(table.height > 0 for table in unstyled) <= 1  # nor any other index
