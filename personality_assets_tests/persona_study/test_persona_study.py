"""The persona study end to end: simulator, OpenAI-compatible server, Bedrock endpoint; both engines."""

import importlib.metadata
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.persona_study import (
    EvalQuestionnaire,
    ExperimentRequestMetadata,
    ExperimentsGroup,
    ExperimentsList,
    Persona,
    QuestionnaireScore,
)
from personality_assets.db.tables.usage import LLMCall
from personality_assets.defs.persona_study.demographics import clean_gender, clean_race, clean_sexual_orientation
from personality_assets.defs.persona_study.registration import RegistrationConfig
from personality_assets.defs.persona_study.replies import answers_model
from personality_assets.defs.persona_study.scoring import score_partition
from personality_assets.defs.reference.assets import questionnaires, reference_questionnaires
from personality_assets.defs.resources import ResearchDatabase
from personality_assets.questionnaires import get_questionnaire
from personality_assets_tests.support.helpers import MATERIALIZE
from personality_assets_tests.support.llm_servers import last_user_text
from personality_assets_tests.support.study import (
    load_populations,
    materialize_study,
    study_reply,
    study_resources,
)

ROOT = Path(__file__).resolve().parents[2]


def _count(target, table, *where):
    with experiment_transaction(target) as connection:
        return connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def _study_counts(target) -> list[int]:
    """Rows of every table the study writes: personas, groups, experiments, answers, calls."""
    tables = (Persona, ExperimentsGroup, ExperimentsList, EvalQuestionnaire, LLMCall)
    return [_count(target, model.__table__) for model in tables]


def test_simulated_study_two_models_two_populations(db_target):
    instance = dg.DagsterInstance.ephemeral()
    resources = study_resources(db_target)
    load_populations(resources, instance, ["sample", "sample_maxN"])
    for model in ("simulated", "simulated_alt"):
        for population in ("sample", "sample_maxN"):
            result = materialize_study(resources, instance, model, population)
            assert all(check.passed for check in result.get_asset_check_evaluations())
            metadata = result.asset_materializations_for_node("questionnaire_scores")[0].metadata
            # 12 personas x 2 questionnaires (the simulator needs no item texts, so EPQR-A runs too)
            assert metadata["experiments"].value == 24
            # Per scale in the summary table: personas follow their reference people.
            summary = {(r.data["questionnaire"], r.data["scale"]): r.data for r in metadata["summary"].records}
            assert summary["bigfive", "EXT"]["r_with_reference"] > 0.8
            assert 0 <= summary["epqr_a", "E"]["mean_abs_difference"] < 2
            r_values = [row["r_with_reference"] for row in summary.values() if row["r_with_reference"] is not None]
            assert metadata["min_r_with_reference"].value == pytest.approx(min(r_values), abs=1e-3)

    for model in ("simulated", "simulated_alt"):
        for population in ("sample", "sample_maxN"):
            tag = f"generated_{model}_{population}"
            assert _count(db_target, Persona.__table__, Persona.population == tag) == 12
            assert (
                _count(
                    db_target,
                    ExperimentsList.__table__,
                    ExperimentsList.population == tag,
                    ExperimentsList.succeeded.is_(True),
                )
                == 24
            )
            assert Path(
                os.environ["PERSONALITY_ASSETS_DATA_DIR"],
                "parquet",
                "personas",
                f"model={model}",
                f"population={population}.parquet",
            ).exists()
    assert _count(db_target, EvalQuestionnaire.__table__) == 4 * 12 * (50 + 24)
    with experiment_transaction(db_target) as connection:
        scores = pl.read_database(select(QuestionnaireScore.__table__), connection)
        simulated = connection.execute(select(func.count()).where(LLMCall.simulated.is_(True))).scalar_one()
    assert simulated == _count(db_target, LLMCall.__table__) == 4 * (12 + 24)  # personas + answers, all marked
    # Personas follow their reference person: scores correlate with the reference scores.
    assert scores.select(pl.corr("score", "reference_score")).item() > 0.8
    # MaxN personas are maximally neurotic on the Big Five too (Emotional Stability at the bottom).
    est = scores.filter(pl.col("scale") == "EST").group_by("population").agg(pl.col("score").mean())
    means = dict(est.iter_rows())
    assert means["sample_maxN"] < 1.6 < means["sample"]


def test_rematerialising_is_idempotent_and_a_new_configuration_is_a_new_group(db_target):
    instance = dg.DagsterInstance.ephemeral()
    resources = study_resources(db_target)
    load_populations(resources, instance, ["sample"])
    materialize_study(resources, instance, "simulated", "sample", max_people=5)
    counts = _study_counts(db_target)
    again = materialize_study(resources, instance, "simulated", "sample", max_people=5)
    # Nothing is asked again: neither a persona nor an experiment already answered.
    for step in ("personas", "questionnaire_answers"):
        assert again.asset_materializations_for_node(step)[0].metadata["llm_calls"].value == 0, step
    assert _study_counts(db_target) == counts
    materialize_study(
        resources,
        instance,
        "simulated",
        "sample",
        max_people=5,
        run_config={"experiment_registrations": {"config": {"system_role": "Pretend to be:\n{description}"}}},
    )
    assert _count(db_target, ExperimentsGroup.__table__) == counts[1] + 2  # one per questionnaire
    assert _count(db_target, ExperimentsList.__table__) == counts[2] + 5 * 2  # 5 personas x 2 questionnaires
    # The two configurations' scores stay apart.
    with experiment_transaction(db_target) as connection:
        groups = connection.execute(
            select(QuestionnaireScore.experiments_group_id, func.count()).group_by(
                QuestionnaireScore.experiments_group_id
            )
        ).all()
    # Per group: 5 personas x its questionnaire's scales (EPQR-A 4, Big Five 5), in both configurations.
    assert sorted(count for _, count in groups) == [5 * 4, 5 * 4, 5 * 5, 5 * 5]
    # Each group records the versions of the packages that shape results, beside the experiments' git SHA.
    with experiment_transaction(db_target) as connection:
        recorded = connection.execute(select(ExperimentsGroup.package_versions)).scalars().all()
    installed = {package: importlib.metadata.version(package) for package in ("openai", "boto3", "dagster", "polars")}
    assert recorded == [installed] * len(recorded)


def test_openai_compatible_server_end_to_end_with_invalid_output_retried(db_target, openai_server, monkeypatch):
    openai_server.configure(reply=study_reply)
    instance = dg.DagsterInstance.ephemeral()
    resources = study_resources(db_target, monkeypatch, openai_url=openai_server.base_url)
    load_populations(resources, instance, ["sample"])
    openai_server.fail_next(1, "malformed")  # the first persona reply is broken: retried with feedback
    result = materialize_study(resources, instance, "gpt4o", "sample", max_people=6)
    assert result.success
    assert (
        _count(
            db_target,
            Persona.__table__,
            Persona.gender == "female",
            Persona.gender_original == "Woman",
            Persona.race == "Hispanic or Latino",
        )
        == 6
    )
    assert _count(db_target, EvalQuestionnaire.__table__, EvalQuestionnaire.answer == 3) == 6 * 50
    assert openai_server.request_count == 6 + 1 + 6
    with experiment_transaction(db_target) as connection:
        metadata = connection.execute(select(ExperimentRequestMetadata.request_metadata)).scalars().all()
    assert len(metadata) == 6 and all(m["status"] == "ok" and m["cost_usd"] > 0 for m in metadata)
    assert "sk-test-study" not in json.dumps(metadata)


def test_invalid_answers_leave_the_experiment_pending_with_the_reason(db_target, openai_server, monkeypatch):
    personas = itertools.count()

    def one_persona_answers_incompletely(request_json):
        """Two distinct personas; the first one's answers always leave out item 7."""
        reply = json.loads(study_reply(request_json))
        if "description" in reply:
            reply["description"] = f"Ada number {next(personas)} is a calm nurse."
        elif "Ada number 0 " in json.dumps(request_json):
            reply["answers"].pop("7")
        return json.dumps(reply)

    openai_server.configure(reply=one_persona_answers_incompletely)
    instance = dg.DagsterInstance.ephemeral()
    resources = study_resources(db_target, monkeypatch, openai_url=openai_server.base_url)
    load_populations(resources, instance, ["sample"])
    result = materialize_study(resources, instance, "gpt4o", "sample", max_people=2, raise_on_error=False)
    # Everything is stored, then the step fails: half the experiments failed, above max_failed_share.
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.error.message
    assert failure.step_key == "questionnaire_answers"
    assert "1 of 2 experiments failed" in message and "missing answers for items [7]" in message
    assert "max_failed_share" in message
    assert re.search(r"Top reasons: 1 x invalid output after \d+ attempts: .*missing answers for items \[7\]", message)
    with experiment_transaction(db_target) as connection:
        rows = connection.execute(select(ExperimentsList.succeeded, ExperimentsList.llm_explanation)).all()
    answered = [reason for succeeded, reason in rows if succeeded]
    pending = [reason for succeeded, reason in rows if succeeded is None]
    assert answered == [None] and len(pending) == 1 and "missing answers for items [7]" in pending[0]
    assert _count(db_target, EvalQuestionnaire.__table__) == 50  # the answered experiment's, kept
    # The model behaves again: the next run asks only for the pending experiment, and it succeeds.
    openai_server.configure(reply=study_reply)
    before = openai_server.request_count
    materialize_study(resources, instance, "gpt4o", "sample", max_people=2)
    assert openai_server.request_count - before == 1
    assert _count(db_target, ExperimentsList.__table__, ExperimentsList.succeeded.is_(True)) == 2
    assert _count(db_target, EvalQuestionnaire.__table__) == 2 * 50


def test_bedrock_endpoint_end_to_end(db_target, bedrock_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    bedrock_server.configure(reply=study_reply)
    instance = dg.DagsterInstance.ephemeral()
    resources = study_resources(db_target, monkeypatch, bedrock_url=bedrock_server.url)
    load_populations(resources, instance, ["sample"])
    assert materialize_study(resources, instance, "llama31_70b", "sample", max_people=4).success
    assert (
        _count(
            db_target,
            ExperimentsList.__table__,
            ExperimentsList.succeeded.is_(True),
            ExperimentsList.model_provider == "bedrock",
        )
        == 4
    )
    assert {r["json"]["modelId"] for r in bedrock_server.requests} == {"meta.llama3-1-70b-instruct-v1:0"}


@pytest.mark.slow
def test_a_killed_run_resumes_without_losing_or_repeating(tmp_path, openai_server, isolated_data_dir):
    """Kill `dagster asset materialize` midway through the answers, start it again, count."""
    openai_server.configure(reply=study_reply, latency=0.05)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")},
        "DAGSTER_HOME": str(home),
        "PERSONALITY_ASSETS_DATA_DIR": str(isolated_data_dir),
        "OPENAI_API_KEY": "sk-test-resume",
        "OPENAI_BASE_URL": openai_server.base_url,
        "PERSONALITY_ASSETS_MODEL_GPT4O_MAX_CONCURRENCY": "2",
        "PERSONALITY_ASSETS_MODEL_GPT4O_RPM": "100000",
        "PERSONALITY_ASSETS_MODEL_GPT4O_TPM": "100000000",
    }

    def run(*args, check=True):
        return subprocess.run([*MATERIALIZE, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=check)

    for partitions in (["populations", "add", "sample"], ["models", "add", "gpt4o"]):
        subprocess.run(
            [sys.executable, "-m", "personality_assets.cli", *partitions],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    run("--select", "questionnaires")
    run("--select", "reference_questionnaires", "--partition", "sample")
    run("--select", "personas,experiment_registrations", "--partition", "gpt4o|sample")
    target = ResearchDatabase().target
    experiments = _count(target, ExperimentsList.__table__)
    assert experiments == 300

    calls_before = openai_server.request_count
    process = subprocess.Popen(
        [*MATERIALIZE, "--select", "questionnaire_answers", "--partition", "gpt4o|sample"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while _count(target, ExperimentsList.__table__, ExperimentsList.succeeded.is_(True)) < 40:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = _count(target, ExperimentsList.__table__, ExperimentsList.succeeded.is_(True))
    assert 40 <= done < experiments
    assert _count(target, EvalQuestionnaire.__table__) == done * 50  # nothing half-written
    asked_first = openai_server.request_count - calls_before

    run("--select", "questionnaire_answers", "--partition", "gpt4o|sample")
    asked_second = openai_server.request_count - calls_before - asked_first
    assert _count(target, ExperimentsList.__table__, ExperimentsList.succeeded.is_(True)) == experiments
    assert _count(target, EvalQuestionnaire.__table__) == experiments * 50
    # Every stored answer was asked for once; only what was in flight at the kill was asked twice.
    assert asked_second == experiments - done
    # Lost at the kill: the two requests in flight, plus replies that had arrived but waited for the
    # writer's transaction (a few on a loaded machine: the suite runs on every core).
    assert asked_first + asked_second - experiments == asked_first - done <= 2 + 4


def test_scores_against_hand_computed_values():
    # Persona 10 (reference person 1) answers EXT1..EXT10 all 5; the reference person answered all 1.
    answers = pl.DataFrame(
        {
            "experiment_id": [100] * 10,
            "questionnaire": ["bigfive"] * 10,
            "question_number": list(range(1, 11)),
            "answer": [5] * 10,
            "persona_id": [10] * 10,
            "ref_personality_id": [1] * 10,
        }
    )
    reference = pl.DataFrame(
        {
            "personality_id": [1] * 10,
            "questionnaire": ["bigfive"] * 10,
            "question_number": list(range(1, 11)),
            "answer": [1] * 10,
        }
    )
    scores = score_partition(answers, reference).row(0, named=True)
    # EXT: five items keyed +, five keyed -: persona (5*5 + 5*1)/10 = 3.0, reference (5*1 + 5*5)/10 = 3.0
    assert (scores["scale"], scores["score"], scores["reference_score"], scores["difference"]) == ("EXT", 3.0, 3.0, 0.0)
    answers = answers.with_columns(pl.Series("answer", [5, 1] * 5))  # every item at the extraverted end
    scores = score_partition(answers, reference).row(0, named=True)
    assert (scores["score"], scores["reference_score"], scores["difference"]) == (5.0, 3.0, 2.0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Female", "female"),
        ("Cis woman", "female"),
        ("Non-binary", "non-binary"),
        ("male", "male"),
        ("Two-spirit", "other"),
    ],
)
def test_gender_cleaning(raw, expected):
    assert clean_gender(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Straight", "heterosexual"),
        ("Gay", "homosexual"),
        ("bisexual", "bisexual"),
        ("Lesbian", "homosexual"),
        ("", None),
    ],
)
def test_orientation_cleaning(raw, expected):
    assert clean_sexual_orientation(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Caucasian", "White"),
        ("African American", "Black"),
        ("Latina", "Hispanic or Latino"),
        ("Mixed (White and Asian)", "Mixed"),
        ("South Asian", "Asian"),
        ("Native American", "Indigenous"),
        ("Arab / North African", "Middle Eastern or North African"),
        ("North African", "Middle Eastern or North African"),
        ("White (South African)", "White"),
        ("American Indian or Alaska Native", "Indigenous"),
        ("Indian", "Asian"),
        ("Nigerian-born African", "Black"),
        ("Martian", "other"),
    ],
)
def test_race_cleaning(raw, expected):
    assert clean_race(raw) == expected


def test_estimate_makes_no_call(db_target, openai_server, monkeypatch):
    from personality_assets.defs.persona_study.estimate import estimate_study

    instance = dg.DagsterInstance.ephemeral()
    resources = study_resources(db_target, monkeypatch, openai_url=openai_server.base_url)
    load_populations(resources, instance, ["sample"])
    engine = resources["llm"].engine()
    registration = RegistrationConfig(["bigfive"], repetitions=3)
    estimate = estimate_study(engine, db_target, "gpt4o", "sample", registration, max_people=10, personas_per_person=2)
    calls = dict(zip(estimate["step"], estimate["calls"], strict=True))
    assert calls == {"personas": 20, "answers: to be registered": 60}
    assert estimate["cost_usd"].sum() > 0
    assert openai_server.request_count == 0 and _count(db_target, LLMCall.__table__) == 0


def test_schedule_asks_for_partitions_with_pending_experiments(db_target):
    from sqlalchemy import update

    from personality_assets.defs.persona_study.jobs import pending_experiments_schedule

    resources = study_resources(db_target)
    with dg.instance_for_test() as instance:  # persistent: the schedule's context reads its partitions
        load_populations(resources, instance, ["sample"])
        materialize_study(resources, instance, "simulated", "sample", max_people=3)
        context = dg.build_schedule_context(
            instance=instance,
            resources={"research_db": resources["research_db"]},
            scheduled_execution_time=datetime.now(UTC),
        )
        assert isinstance(pending_experiments_schedule(context), dg.SkipReason)
        with experiment_transaction(db_target) as connection:
            table = ExperimentsList.__table__
            connection.execute(update(table).where(table.c.experiment_id == 1).values(succeeded=None))
        (request,) = pending_experiments_schedule(context)
        assert request.partition_key == "simulated|sample"
        # The model disabled: its pending experiments wait (a run request for it would fail the tick).
        instance.delete_dynamic_partition("model", "simulated")
        skipped = pending_experiments_schedule(context)
        assert isinstance(skipped, dg.SkipReason)
        assert "pending experiments only in simulated|sample: not partitions" in skipped.skip_message


def test_a_population_that_answered_only_epqr_a(db_target, tmp_path, monkeypatch):
    """Personas of an EPQR-A-only population answer the Big Five from traits (the simulator's
    stand-ins), and their scores have no reference score on those scales."""
    instance = dg.DagsterInstance.ephemeral()
    resources = study_resources(db_target)
    key = pl.read_csv(ROOT / "personality_assets/questionnaires/definitions/epqr_a_items.csv")
    rows = [
        f"{person},{number},,,,{(person + number) % 2},epqr_a" for person in range(1, 5) for number in key["number"]
    ]
    (tmp_path / "epq.csv").write_text(
        "personality_id,question_number,question,category,key,answer,questionnaire\n" + "\n".join(rows) + "\n"
    )
    instance.add_dynamic_partitions("population", ["epq"])
    assert dg.materialize([questionnaires], resources=resources, instance=instance).success
    assert dg.materialize(
        [reference_questionnaires],
        partition_key="epq",
        resources=resources,
        instance=instance,
        run_config={"ops": {"reference_questionnaires": {"config": {"path": str(tmp_path / "epq.csv")}}}},
    ).success
    result = materialize_study(resources, instance, "simulated", "epq", max_people=4)
    assert _count(db_target, ExperimentsList.__table__, ExperimentsList.succeeded.is_(True)) == 4 * 2
    with experiment_transaction(db_target) as connection:
        references = dict(
            connection.execute(
                select(QuestionnaireScore.questionnaire, func.count(QuestionnaireScore.reference_score)).group_by(
                    QuestionnaireScore.questionnaire
                )
            ).all()
        )
    assert references == {"bigfive": 0, "epqr_a": 4 * 4}  # counts non-null reference scores
    assert result.success


def test_system_role_without_the_persona_is_refused(db_target):
    instance = dg.DagsterInstance.ephemeral()
    resources = study_resources(db_target)
    load_populations(resources, instance, ["sample"])
    result = materialize_study(
        resources,
        instance,
        "simulated",
        "sample",
        max_people=2,
        raise_on_error=False,
        run_config={"experiment_registrations": {"config": {"system_role": "Answer as {name}."}}},
    )
    assert not result.success
    assert _count(db_target, ExperimentsList.__table__) == 0


# --- replies in other shapes than the prompt's, and runs that fail too often ----------------------

BIGFIVE_ITEMS = range(1, 51)
EPQR_ITEMS = range(1, 25)


@pytest.mark.parametrize(
    ("questionnaire", "reply", "expected"),
    [
        ("bigfive", {str(n): 3 for n in BIGFIVE_ITEMS}, 3),  # a bare mapping, not wrapped in "answers"
        ("bigfive", {"answers": {str(n): "4" for n in BIGFIVE_ITEMS}}, 4),  # numbers as strings
        ("bigfive", {"answers": {f"Q{n}": 2.0 for n in BIGFIVE_ITEMS}}, 2),  # Q-numbered items, integral floats
        ("bigfive", {f"item {n}": "Agree" for n in BIGFIVE_ITEMS}, 5),  # the answer code's label
        ("epqr_a", {"answers": {str(n): True for n in EPQR_ITEMS}}, 1),
        ("epqr_a", {str(n): "False" for n in EPQR_ITEMS}, 0),
        ("epqr_a", {"answers": {str(n): "YES" for n in EPQR_ITEMS}}, 1),
        ("epqr_a", {"answers": {str(n): " no " for n in EPQR_ITEMS}}, 0),
    ],
    ids=["bare mapping", "numeric strings", "Q keys", "labels", "booleans", "True/False", "yes", "no"],
)
def test_common_reply_shapes_are_read_unambiguously(questionnaire, reply, expected):
    model = answers_model(get_questionnaire(questionnaire))
    parsed = model.model_validate_json(json.dumps(reply))
    assert set(parsed.answers.values()) == {expected}
    assert sorted(parsed.answers) == list(BIGFIVE_ITEMS if questionnaire == "bigfive" else EPQR_ITEMS)


@pytest.mark.parametrize(
    ("questionnaire", "reply", "problem"),
    [
        ("bigfive", {"answers": {str(n): True for n in BIGFIVE_ITEMS}}, "answers.1: a yes/no answer"),
        ("bigfive", {"answers": {str(n): 3.5 for n in BIGFIVE_ITEMS}}, "answers.1: 3.5 is not an answer code"),
        ("bigfive", {"answers": {str(n): "maybe" for n in BIGFIVE_ITEMS}}, "answers.1: 'maybe' is not an answer code"),
        ("bigfive", {str(n): 3 for n in range(1, 50)}, "missing answers for items [50]"),
        ("epqr_a", {"answers": {str(n): 2 for n in EPQR_ITEMS}}, "not in the codes [0, 1]"),
        ("bigfive", {"mood": "fine"}, "answers"),
        ("bigfive", {**{str(n): 3 for n in BIGFIVE_ITEMS}, "Q7": 5}, "answers.Q7: item 7 answered twice (3 and 5)"),
    ],
    ids=[
        "boolean on a Likert item",
        "half a code",
        "free text",
        "missing item",
        "out of range",
        "no answers",
        "one item, two answers",
    ],
)
def test_unusable_replies_still_fail_naming_the_item(questionnaire, reply, problem):
    model = answers_model(get_questionnaire(questionnaire))
    with pytest.raises(ValidationError, match=re.escape(problem)):
        model.model_validate_json(json.dumps(reply))


REPLY_SHAPES = {  # item key, answer (code, questionnaire), wrapped in "answers"
    "bare mapping, numeric strings": (str, lambda code, q: str(code), False),
    "Q keys, integral floats": (lambda n: f"Q{n}", lambda code, q: float(code), True),
    "item keys, labels": (lambda n: f"item {n}", lambda code, q: q.answer_codes[code].upper(), False),
    "booleans for yes/no": (str, lambda code, q: bool(code) if q.name == "epqr_a" else code, True),
    "True/False for yes/no": (str, lambda code, q: str(bool(code)) if q.name == "epqr_a" else code, False),
}


@pytest.mark.parametrize("shape", REPLY_SHAPES)
def test_replies_in_another_shape_cost_no_retry(shape, db_target, openai_server, monkeypatch, tmp_path):
    """Over HTTP, a model replying in a common shape other than the prompt's: every experiment
    succeeds at the first call, with each item's answer stored (Big Five and yes/no EPQR-A)."""
    texts = tmp_path / "epqr_a_texts.csv"
    texts.write_text("number,text\n" + "".join(f"{n},Statement {n}?\n" for n in EPQR_ITEMS))
    monkeypatch.setenv("PERSONALITY_ASSETS_EPQR_A_TEXTS", str(texts))
    key, value, wrapped = REPLY_SHAPES[shape]
    expected = {"bigfive": {n: n % 5 + 1 for n in BIGFIVE_ITEMS}, "epqr_a": {n: n % 2 for n in EPQR_ITEMS}}

    def reply(request_json):
        text = last_user_text(request_json)
        if "Invent a realistic person" in text:
            return study_reply(request_json)
        questionnaire = get_questionnaire("epqr_a" if "1 = yes" in text else "bigfive")
        answers = {key(n): value(code, questionnaire) for n, code in expected[questionnaire.name].items()}
        return json.dumps({"answers": answers} if wrapped else answers)

    openai_server.configure(reply=reply)
    instance = dg.DagsterInstance.ephemeral()
    resources = study_resources(db_target, monkeypatch, openai_url=openai_server.base_url)
    load_populations(resources, instance, ["sample"])
    assert materialize_study(resources, instance, "gpt4o", "sample", max_people=2).success
    assert openai_server.request_count == 2 + 2 * 2  # personas + two questionnaires each, not one retry
    assert _count(db_target, ExperimentsList.__table__, ExperimentsList.succeeded.is_(True)) == 2 * 2
    with experiment_transaction(db_target) as connection:
        stored = pl.read_database(select(EvalQuestionnaire.__table__), connection)
    for name, answers in expected.items():
        for (_,), group in stored.filter(pl.col("questionnaire") == name).group_by("experiment_id"):
            assert dict(zip(group["question_number"], group["answer"], strict=True)) == answers
    assert stored.height == 2 * (50 + 24)


def test_a_population_that_is_not_loaded_fails_at_once_with_the_reason(db_target):
    instance = dg.DagsterInstance.ephemeral()
    resources = study_resources(db_target)
    load_populations(resources, instance, ["sample"])
    instance.add_dynamic_partitions("population", ["ghost"])
    result = materialize_study(resources, instance, "simulated", "ghost", raise_on_error=False)
    failures = [event for event in result.all_events if event.is_step_failure]
    assert [event.step_key for event in failures] == ["personas"]
    assert "reference population 'ghost' is not loaded" in failures[0].step_failure_data.error.message
    assert not [event for event in result.all_events if event.event_type_value == "STEP_UP_FOR_RETRY"]


def test_metadata_marks_simulated_personas_and_names_the_checked_partition(db_target):
    instance = dg.DagsterInstance.ephemeral()
    resources = study_resources(db_target)
    load_populations(resources, instance, ["sample"])
    result = materialize_study(resources, instance, "simulated", "sample", max_people=4)
    assert result.asset_materializations_for_node("personas")[0].metadata["simulated_personas"].value == 4
    checks = result.get_asset_check_evaluations()
    assert checks and {check.metadata["partition"].value for check in checks} == {"simulated|sample"}
    failures = result.asset_materializations_for_node("questionnaire_answers")[0].metadata["failure_reasons"]
    assert [column.name for column in failures.schema.columns] == ["llm_explanation", "experiments"]
