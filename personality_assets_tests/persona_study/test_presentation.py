"""Presentation conditions of the persona study: item order, answer-scale direction and wording,
registered per experiment group, shown to the model as registered, and answers stored in the
questionnaire's own codes whichever way the scale was shown."""

import hashlib
import json
import os
import random
import re
import statistics
import sys

import dagster as dg
import polars as pl
import pytest
from sqlalchemy import func, select

from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.persona_study import ExperimentsGroup, ExperimentsList
from personality_assets.db.tables.usage import LLMCall
from personality_assets.defs.persona_study.answering import study_answers
from personality_assets.defs.persona_study.presentation import (
    FACTORS,
    own_code,
    presentations,
    shown_codes,
    shuffled_order,
)
from personality_assets.defs.persona_study.prompts import questionnaire_prompt
from personality_assets.defs.persona_study.replies import answers_model
from personality_assets.defs.persona_study.simulate import simulated_answers
from personality_assets.llm.config import ResponseStyle
from personality_assets.questionnaires import get_questionnaire
from personality_assets_tests.support.helpers import run_command
from personality_assets_tests.support.llm_servers import last_user_text
from personality_assets_tests.support.study import load_populations, materialize_study, study_reply, study_resources

CONDITIONS = {"item_order": "shuffled", "orders": 1, "option_orders": ["ascending", "descending"]}


def _count(target, table, *where):
    with experiment_transaction(target) as connection:
        return connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_presentations_cross_every_level_and_the_base_keeps_its_hash():
    bigfive = get_questionnaire("bigfive")
    grid = presentations(bigfive, item_order="shuffled", orders=2, option_orders=["ascending", "descending"])
    levels = [(p.item_order, p.option_order, p.wording) for p in grid]
    assert levels == [
        (item, option, "original")
        for item in ("as_defined", "shuffled_1", "shuffled_2")
        for option in ("ascending", "descending")
    ]
    base = grid[0]
    assert base.levels == FACTORS and base.hash_settings() == {} and base.order is None
    first, second = grid[2].order, grid[4].order
    numbers = bigfive.items["number"].to_list()
    assert sorted(first) == sorted(second) == numbers  # permutations of the items
    assert len({first, second, tuple(numbers)}) == 3
    assert shuffled_order(bigfive, 20241120, 1) == first  # seeded: the same again
    assert shuffled_order(bigfive, 7, 1) != first
    assert grid[3].hash_settings() == {
        "item_order": "shuffled_1",
        "option_order": "descending",
        "order_seed": 20241120,
        "order": list(first),
    }
    with pytest.raises(ValueError, match="option_orders must be some of"):
        presentations(bigfive, option_orders=["sideways"])


def test_a_reversed_scale_is_shown_reversed_and_read_back_in_the_questionnaires_codes():
    bigfive = get_questionnaire("bigfive")
    assert shown_codes(bigfive, "descending") == {
        1: "Agree",
        2: "Slightly agree",
        3: "Neutral",
        4: "Slightly disagree",
        5: "Disagree",
    }
    assert [own_code(bigfive, code, "descending") for code in (1, 2, 3, 4, 5)] == [5, 4, 3, 2, 1]
    assert own_code(bigfive, 2, "ascending") == 2
    (shuffled_descending,) = [
        p
        for p in presentations(bigfive, item_order="shuffled", orders=1, option_orders=["descending"])
        if p.order is not None
    ]
    prompt = questionnaire_prompt(bigfive, shuffled_descending)
    assert "Answer codes: 1 = Agree, 2 = Slightly agree, 3 = Neutral" in prompt
    assert [int(n) for n in re.findall(r"^(\d+)\. ", prompt, flags=re.MULTILINE)] == list(shuffled_descending.order)
    # A label in a reply means the code shown with it.
    reply = {"answers": {str(n): 2 for n in range(1, 51)} | {"1": "Agree"}}
    assert answers_model(bigfive, "descending").model_validate(reply).answers[1] == 1
    assert answers_model(bigfive).model_validate(reply).answers[1] == 5
    # The base presentation's prompt is the one every earlier study was registered with.
    assert questionnaire_prompt(bigfive).startswith(
        "Answer every statement of this questionnaire as the person you impersonate. Answer codes: 1 = Disagree,"
    )


def _shown_items(request_json) -> list[int]:
    return [int(n) for n in re.findall(r"^(\d+)\. ", last_user_text(request_json), flags=re.MULTILINE)]


def first_code_and_one_label(request_json: dict) -> str:
    """A model that answers every item with the first code shown, except item 1, answered with
    the label "Agree" (the IPIP's top code)."""
    reply = json.loads(study_reply(request_json))
    if "answers" in reply:
        reply["answers"] = {str(n): 1 for n in _shown_items(request_json)} | {"1": "Agree"}
    return json.dumps(reply)


def test_answers_are_stored_in_the_questionnaires_codes_whichever_way_the_scale_was_shown(
    db_target, openai_server, monkeypatch
):
    openai_server.configure(reply=first_code_and_one_label)
    instance = dg.DagsterInstance.ephemeral()
    resources = study_resources(db_target, monkeypatch, openai_url=openai_server.base_url)
    load_populations(resources, instance, ["sample"])
    result = materialize_study(
        resources,
        instance,
        "gpt4o",
        "sample",
        max_people=3,
        run_config={"experiment_registrations": {"config": {"questionnaires": ["bigfive"], **CONDITIONS}}},
    )
    registration = result.asset_materializations_for_node("experiment_registrations")[0].metadata
    assert registration["new_experiments"].value == 3 * 4 and registration["presentations"].value == 4
    assert registration["pending_experiments"].value == 12 and registration["estimated_cost_usd"].value > 0
    answers = study_answers(db_target, model="gpt4o", population="sample")
    assert answers.height == 4 * 3 * 50
    per_group = answers.group_by("item_order", "option_order").agg(
        pl.col("answer").filter(pl.col("question_number") == 1).unique().alias("item_1"),
        pl.col("answer").filter(pl.col("question_number") != 1).unique().alias("others"),
    )
    expected_others = {"ascending": [1], "descending": [5]}  # the first code shown is the bottom or the top
    for row in per_group.iter_rows(named=True):
        assert row["item_1"] == [5], row  # "Agree" is the top code either way
        assert row["others"] == expected_others[row["option_order"]], row
    # Each request showed the items in its group's order; `position` says where each item was.
    with experiment_transaction(db_target) as connection:
        orders = {
            level: presentation["order"]
            for level, presentation in connection.execute(
                select(ExperimentsGroup.item_order, ExperimentsGroup.presentation)
            ).all()
        }
    shuffled = orders["shuffled_1"]
    assert orders["as_defined"] is None and sorted(shuffled) == list(range(1, 51))
    shown = {
        tuple(_shown_items(request["json"]))
        for request in openai_server.requests
        if "Answer codes" in json.dumps(request["json"])
    }
    assert shown == {tuple(range(1, 51)), tuple(shuffled)}
    positions = (
        answers.filter(pl.col("item_order") == "shuffled_1")
        .group_by("question_number")
        .agg(pl.col("position").unique())
    )
    assert dict(positions.iter_rows()) == {number: [index] for index, number in enumerate(shuffled)}


def test_the_original_presentation_is_registered_as_before_and_conditions_only_add(db_target):
    instance = dg.DagsterInstance.ephemeral()
    resources = study_resources(db_target)
    load_populations(resources, instance, ["sample"])
    materialize_study(resources, instance, "simulated", "sample", max_people=4)
    with experiment_transaction(db_target) as connection:
        base = connection.execute(
            select(
                ExperimentsGroup.experiments_group_id, ExperimentsGroup.config_hash, ExperimentsGroup.base_prompt
            ).where(ExperimentsGroup.questionnaire == "bigfive")
        ).one()
        calls = connection.execute(select(func.count()).select_from(LLMCall)).scalar_one()
    # The hash of a base group is the one the study computed before presentations existed.
    old_settings = {
        "model": "simulated",
        "population": "sample",
        "questionnaire": "bigfive",
        "system_role": "You are required to adopt and impersonate the personality of the human described as follow:\n"
        "{description}",
        "description": "bigfive answered by simulated personas of sample",
        "base_prompt": base.base_prompt,
        "temperature": 1.0,
        "top_p": 1.0,
        "provider_model_id": "simulated-persona-v1",
    }
    assert base.config_hash == hashlib.sha256(json.dumps(old_settings, sort_keys=True).encode()).hexdigest()

    conditions = {"experiment_registrations": {"config": CONDITIONS}}
    result = materialize_study(resources, instance, "simulated", "sample", max_people=4, run_config=conditions)
    # 3 new presentations of each of the 2 questionnaires for 4 personas; the base ones are found again.
    assert result.asset_materializations_for_node("experiment_registrations")[0].metadata["new_experiments"].value == 24
    assert _count(db_target, ExperimentsGroup.__table__) == 2 * 4
    assert _count(db_target, ExperimentsList.__table__, ExperimentsList.succeeded.is_(True)) == 2 * 4 * 4
    with experiment_transaction(db_target) as connection:
        assert connection.execute(select(func.count()).select_from(LLMCall)).scalar_one() == calls + 24
    again = materialize_study(resources, instance, "simulated", "sample", max_people=4, run_config=conditions)
    assert again.asset_materializations_for_node("experiment_registrations")[0].metadata["new_experiments"].value == 0


def test_an_unknown_wording_fails_naming_the_known_ones(db_target):
    instance = dg.DagsterInstance.ephemeral()
    resources = study_resources(db_target)
    load_populations(resources, instance, ["sample"])
    result = materialize_study(
        resources,
        instance,
        "simulated",
        "sample",
        max_people=2,
        run_config={"experiment_registrations": {"config": {"wordings": ["original", "pirate"]}}},
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert "pirate" in message and "paraphrase" in message
    assert _count(db_target, ExperimentsGroup.__table__) == 0  # nothing half-registered


HINTS = {
    "items": [{"number": n, "scale": "EXT", "key": "+"} for n in range(1, 201)],
    "min": 1,
    "max": 5,
    "profile": {n: 3 for n in range(1, 201)},
    "traits": {},
}


def test_the_simulator_without_styles_answers_as_before():
    plain = simulated_answers(random.Random(5), HINTS)
    assert simulated_answers(random.Random(5), HINTS, ResponseStyle()) == plain
    reversed_scale = simulated_answers(random.Random(5), HINTS | {"option_order": "descending"})
    assert {n: 6 - a for n, a in reversed_scale.items()} == plain


@pytest.mark.parametrize(
    ("style", "hints", "expected_mean"),
    [
        (ResponseStyle(acquiescence=0.6), {}, 3.6),
        (ResponseStyle(acquiescence=0.6), {"option_order": "descending"}, 6 - 3.6),  # shown codes
        (ResponseStyle(primacy=0.5), {}, 0.5 * 1 + 0.5 * 3),
        (ResponseStyle(primacy=0.5), {"option_order": "descending"}, 0.5 * 1 + 0.5 * 3),  # first shown is 1
        (ResponseStyle(order_drift=1.0), {}, 3.5),  # 0 at the first item, 1 at the last
    ],
)
def test_planted_styles_move_answers_by_their_size(style, hints, expected_mean):
    means = []
    for seed in range(20):
        rng = random.Random(seed)
        answers = simulated_answers(rng, HINTS | {"profile": {n: 3 for n in range(1, 201)}} | hints, style)
        means.append(statistics.mean(answers.values()))
    # The person's own noise is symmetric around 3, so the mean moves by the planted size alone.
    assert statistics.mean(means) == pytest.approx(expected_mean, abs=0.05)


def test_spread_shrinkage_pulls_answers_to_the_midpoint():
    extremes = {n: 1 if n % 2 else 5 for n in range(1, 201)}
    hints = HINTS | {"profile": extremes}
    plain = simulated_answers(random.Random(1), hints)
    shrunk = simulated_answers(random.Random(1), hints, ResponseStyle(spread=0.5))
    spread = statistics.pstdev
    assert spread(shrunk.values()) < 0.7 * spread(plain.values())
    assert statistics.mean(shrunk.values()) == pytest.approx(3, abs=0.15)


def test_one_cli_line_registers_the_conditions_and_says_what_answering_will_cost(db_target):
    instance = dg.DagsterInstance.ephemeral()
    resources = study_resources(db_target)
    load_populations(resources, instance, ["sample"])
    materialize_study(resources, instance, "simulated", "sample", max_people=3)
    env = os.environ | {
        "PERSONALITY_ASSETS_DATABASE_URL": db_target.url,
        "PERSONALITY_ASSETS_REFERENCE_SCHEMA": db_target.reference_schema,
        "PERSONALITY_ASSETS_EXPERIMENT_SCHEMA": db_target.experiment_schema,
    }
    line = [sys.executable, "-m", "personality_assets.cli", "register", "--model", "simulated", "--population"]
    line += ["sample", "--questionnaire", "bigfive", "--item-order", "shuffled", "--orders", "2"]
    line += ["--option-order", "ascending", "--option-order", "descending", "--wording", "original"]
    line += ["--wording", "paraphrase"]
    printed = run_command(line, env).stdout
    # 3 item orders x 2 option orders x 2 wordings = 12 presentations; the base one was registered.
    assert "33 new experiments; 33 pending" in printed and "shuffled_2" in printed and "paraphrase" in printed
    with experiment_transaction(db_target) as connection:
        levels = connection.execute(
            select(ExperimentsGroup.item_order, ExperimentsGroup.option_order, ExperimentsGroup.wording).where(
                ExperimentsGroup.questionnaire == "bigfive"
            )
        ).all()
    assert len(levels) == len(set(levels)) == 12
    assert _count(db_target, ExperimentsList.__table__, ExperimentsList.succeeded.is_(None)) == 33
