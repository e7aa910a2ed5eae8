"""The essay track: dimensions, research seeds, the plan with its personas, essays, checks, and the
persona repository, on SQLite and PostgreSQL."""

import json
import os
import random
import signal
import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml
from sqlalchemy import func, select

from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.essays import (
    Essay,
    EssayPersona,
    EssayPrompt,
    EssayTopic,
    GenerationRun,
    PersonaUsage,
    ResearchSeed,
    Stance,
)
from personality_assets.db.tables.usage import LLMCall
from personality_assets.defs.essays import repository
from personality_assets.defs.essays.assets import (
    essay_dimensions,
    essay_personas,
    essays,
    essays_parquet,
    research_seeds,
)
from personality_assets.defs.essays.checks import max_pairwise_jaccard
from personality_assets.defs.essays.dimensions import DimensionsError, load_dimensions
from personality_assets.defs.essays.generation import PlanSettings, cast_essays, research_seed
from personality_assets.defs.essays.plan import plan_cells
from personality_assets.defs.essays.topics import TopicError, check_topic, read_topics_file
from personality_assets.defs.resources import ResearchDatabase
from personality_assets_tests.support.helpers import ROOT
from personality_assets_tests.support.llm_servers import last_user_text
from personality_assets_tests.support.study import research_resources

TOPIC = "Should social media be banned for teenagers?"
RELATED_TOPIC = "Should teenagers be allowed to vote in national elections?"
TRACK = [research_seeds, essay_personas, essays]


def _run(instance, resources, topic, ops=None, raise_on_error=True):
    if topic not in instance.get_dynamic_partitions("essay_topic"):
        instance.add_dynamic_partitions("essay_topic", [topic])
    return dg.materialize(
        TRACK,
        partition_key=topic,
        resources=resources,
        instance=instance,
        run_config={"ops": ops or {}},
        raise_on_error=raise_on_error,
    )


def _setup(target):
    instance, resources = dg.DagsterInstance.ephemeral(), research_resources(target)
    assert dg.materialize([essay_dimensions], resources=resources, instance=instance).success
    return instance, resources


def _count(target, table, *where):
    with experiment_transaction(target) as connection:
        return connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def _checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def _metadata(result, asset: str) -> dict:
    (materialisation,) = [m for m in result.asset_materializations_for_node(asset) if m.asset_key == dg.AssetKey(asset)]
    return {key: value.value for key, value in materialisation.metadata.items()}


def test_the_track_on_the_simulator(empty_target):
    instance, resources = _setup(empty_target)
    result = _run(instance, resources, TOPIC, {"essay_personas": {"config": {"essays": 40}}})
    assert result.success
    assert _checks(result) == dict.fromkeys(
        ["dimensions_exist", "word_counts_in_range", "no_near_duplicates", "plan_covered"], True
    )
    frame = pl.read_parquet(essays_parquet(TOPIC))
    assert frame.height == 40 and frame["content"].null_count() == 0
    # A balanced sample: 5 stances x 8, and 10 essays per level of the other dimensions.
    assert sorted(Counter(frame["stance"]).values()) == [8] * 5
    for column in ("evidence", "style", "quality"):
        assert sorted(Counter(frame[column]).values()) == [10] * 4
    assert frame.filter(
        (pl.col("word_count") < pl.col("min_words")) | (pl.col("word_count") > pl.col("max_words"))
    ).is_empty()
    assert frame["simulated"].all() and set(frame["model_name"]) == {"simulated"}
    # Every essay has its own persona (one per topic), recorded in persona_usage.
    assert frame["persona_id"].n_unique() == 40
    assert _count(empty_target, PersonaUsage.__table__) == 40
    # Prompts are stored once: one base prompt per stance, one modulated prompt per essay.
    prompts = EssayPrompt.__table__
    assert _count(empty_target, prompts, prompts.c.kind == "base") == 5
    assert _count(empty_target, prompts, prompts.c.kind == "modulated") == 40
    with experiment_transaction(empty_target) as connection:
        seed = connection.execute(select(ResearchSeed.__table__)).mappings().one()
        run = connection.execute(select(GenerationRun.__table__)).mappings().one()
    assert seed["angles"] == 12 and seed["simulated"] and seed["content"]["simulated"] is True
    assert all(fact.startswith("[simulated]") for angle in seed["content"]["angles"] for fact in angle["facts"])
    assert (run["pending"], run["written"], run["failed"], run["status"]) == (40, 40, 0, "finished")
    assert set(frame["generation_run_id"]) == {run["id"]}
    metadata = _metadata(result, "essays")
    assert metadata["written"] == 40 and "essays_per_dimension_plot" in metadata
    assert (metadata["grid_cells_covered"], metadata["grid_share_covered"]) == (40, 0.125)  # of 320
    assert "data:image/png;base64," in metadata["word_count_plot"]
    # Tables inline, every column described: the essays per quality level add up to those written.
    words = metadata["word_counts"]
    assert sum(record.data["essays"] for record in words.records) == 40
    assert all(column.description for column in words.schema.columns)


def test_a_rerun_pays_for_nothing_and_a_larger_plan_extends_the_smaller(empty_target):
    instance, resources = _setup(empty_target)
    assert _run(instance, resources, TOPIC, {"essay_personas": {"config": {"essays": 20}}}).success
    first = pl.read_parquet(essays_parquet(TOPIC))
    calls = _count(empty_target, LLMCall.__table__)
    assert _run(instance, resources, TOPIC, {"essay_personas": {"config": {"essays": 20}}}).success
    assert pl.read_parquet(essays_parquet(TOPIC)).equals(first)
    assert _count(empty_target, LLMCall.__table__) == calls  # nothing asked again, not even from the cache
    assert _count(empty_target, EssayPersona.__table__) == 20
    assert _count(empty_target, GenerationRun.__table__) == 1  # a run with nothing pending records none
    # 30 with the same seed: the first 20 stay as they were, 10 more are planned and written.
    assert _run(instance, resources, TOPIC, {"essay_personas": {"config": {"essays": 30}}}).success
    larger = pl.read_parquet(essays_parquet(TOPIC))
    assert larger.height == 30 and larger.head(20).equals(first)
    # A smaller plan never shrinks the stored one: nothing is dropped, planned or written.
    smaller = _run(instance, resources, TOPIC, {"essay_personas": {"config": {"essays": 10}}})
    assert smaller.success and pl.read_parquet(essays_parquet(TOPIC)).equals(larger)
    assert _metadata(smaller, "essay_personas")["already_planned"] == 30


def test_personas_are_reused_across_related_topics_within_the_cap(empty_target):
    instance, resources = _setup(empty_target)
    assert _run(instance, resources, TOPIC, {"essay_personas": {"config": {"essays": 30}}}).success
    result = _run(instance, resources, RELATED_TOPIC, {"essay_personas": {"config": {"essays": 30}}})
    assert result.success
    metadata = _metadata(result, "essay_personas")
    # Simulated personas written for the first topic care about teenagers: many fit the second.
    assert metadata["reused_personas"] > 0
    assert metadata["reused_personas"] + metadata["new_personas"] == 30
    usage = PersonaUsage.__table__
    with experiment_transaction(empty_target) as connection:
        rows = connection.execute(select(usage.c.persona_id, usage.c.topic_id, usage.c.compatibility)).all()
    assert len(rows) == 60 and len({(p, t) for p, t, _ in rows}) == 60  # never twice for one topic
    reused = [p for p, count in Counter(p for p, _, _ in rows).items() if count == 2]
    assert len(reused) == metadata["reused_personas"]
    # Reused personas were cast for their fit: at least min_compatibility for the second topic.
    second = max(t for _, t, _ in rows)
    assert all(c >= 0.3 for p, t, c in rows if t == second and p in reused)

    # With a cap of one essay per persona, a third topic reuses nobody.
    result = _run(
        instance,
        resources,
        "Should teenagers pay for social media apps?",
        {"essay_personas": {"config": {"essays": 10, "max_uses": 1}}},
    )
    assert _metadata(result, "essay_personas")["reused_personas"] == 0


def test_the_research_model_and_the_writer_over_http(empty_target, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-essays")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    asked = Counter()

    def reply(request_json):
        system = request_json["messages"][0]["content"]
        if "research assistant" in system:
            asked["research"] += 1
            if asked["research"] == 1:
                return json.dumps({"angles": [{"angle": "economic"}]})  # too few angles, no facts: refused
            angle = {
                "angle": "economic",
                "facts": ["Teen screen time averages 7 hours a day"],
                "quotes": [{"text": "Kids need sleep", "speaker": "Dr Lee", "source": "Radio 4"}],
                "sources": [{"title": "Survey", "url": "https://example.org/survey"}],
            }
            return json.dumps({"angles": [angle, {**angle, "angle": "health"}, {**angle, "angle": "legal"}]})
        if "student personas" in system:
            asked["persona"] += 1
            return json.dumps(
                {
                    "name": f"Student {asked['persona']}",
                    "background": "student athlete",
                    "strengths": ["clear structure"],
                    "weaknesses": ["comma splices"],
                    "interests": ["social media policy", "teenager sleep"],
                }
            )
        asked["essay"] += 1
        prompt = last_user_text(request_json)
        low = int(prompt.split("Length: between ")[1].split(" ")[0])
        return " ".join(f"word{asked['essay']}x{i}" for i in range(low + 5))

    openai_server.configure(reply=reply)
    instance, resources = _setup(empty_target)
    gpt = "gpt4o"
    result = _run(
        instance,
        resources,
        TOPIC,
        {
            "research_seeds": {"config": {"research_model": gpt, "angles": 3}},
            "essay_personas": {"config": {"essays": 6, "persona_model": gpt, "research_model": gpt}},
            "essays": {"config": {"writer_model": gpt, "temperature": 0.7}},
        },
    )
    assert result.success
    assert asked == {"research": 2, "persona": 6, "essay": 6}  # the invalid seed was asked again
    frame = pl.read_parquet(essays_parquet(TOPIC))
    assert set(frame["model_name"]) == {gpt} and set(frame["temperature"]) == {0.7}
    assert not frame["simulated"].any()
    assert all(text.startswith("word") for text in frame["content"])
    essay_requests = [r for r in openai_server.requests if "student writing" in r["json"]["messages"][0]["content"]]
    assert {r["json"]["temperature"] for r in essay_requests} == {0.7}
    with experiment_transaction(empty_target) as connection:
        seed = connection.execute(select(ResearchSeed.__table__)).mappings().one()
        personas = connection.execute(select(EssayPersona.__table__)).mappings().all()
    assert seed["angles"] == 3 and not seed["simulated"] and seed["model"] == gpt
    assert {p["background"] for p in personas} == {"student athlete"}
    assert "sk-test-essays" not in frame.write_csv()


@pytest.mark.slow
def test_a_killed_run_resumes_without_losing_or_repeating(tmp_path, openai_server, isolated_data_dir):
    """Kill `dagster asset materialize` midway through the essays, start it again, count requests."""
    openai_server.configure(reply=lambda request: " ".join(["word"] * 320), latency=0.05)
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
    subprocess.run(
        [sys.executable, "-m", "personality_assets.cli", "topics", "add", TOPIC],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )

    def materialize(select, partition=None, ops=None):
        config = {"execution": {"config": {"in_process": {}}}, "ops": ops or {}}
        command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "personality_assets.definitions"]
        command += ["--select", select, "--config-json", json.dumps(config)]
        return command + (["--partition", partition] if partition else [])

    subprocess.run(materialize("essay_dimensions"), cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run(
        materialize("research_seeds,essay_personas", TOPIC, {"essay_personas": {"config": {"essays": 120}}}),
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    target = ResearchDatabase().target
    planned = _count(target, Essay.__table__)
    assert planned == 120
    written = Essay.__table__.c.content.is_not(None)

    def essays_command():
        return materialize("essays", TOPIC, {"essays": {"config": {"writer_model": "gpt4o"}}})

    process = subprocess.Popen(
        essays_command(), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 90
    while _count(target, Essay.__table__, written) < 30:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = _count(target, Essay.__table__, written)
    assert 30 <= done < planned
    asked_first = openai_server.request_count

    completed = subprocess.run(essays_command(), cwd=ROOT, env=env, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-2000:]
    asked_second = openai_server.request_count - asked_first
    assert _count(target, Essay.__table__, written) == planned
    assert asked_second == planned - done  # only what was pending was asked for
    # Lost at the kill: requests in flight and replies waiting for the writer's transaction.
    assert asked_first - done <= 2 + 4
    runs = GenerationRun.__table__
    with experiment_transaction(target) as connection:
        statuses = connection.execute(select(runs.c.status, runs.c.pending).order_by(runs.c.id)).all()
    assert statuses == [("running", planned), ("finished", planned - done)]  # the killed one never closed


def test_a_user_dimensions_file_and_its_errors(empty_target, tmp_path, monkeypatch):
    small = tmp_path / "dimensions.yaml"
    small.write_text(
        """
stances:
  - {key: pro, label: For, polarity: 1, description: Argue for it.}
  - {key: con, label: Against, polarity: -1, description: Argue against it.}
evidence_patterns:
  - {key: data, label: Data, description: Use numbers.}
style_parameters:
  - {key: plain, label: Plain, description: Plain words.}
  - {key: fancy, label: Fancy, description: Fancy words.}
quality_levels:
  - {key: good, label: Good, min_words: 200, max_words: 300, description: Well written.}
"""
    )
    monkeypatch.setenv("PERSONALITY_ASSETS_ESSAY_DIMENSIONS", str(small))
    instance, resources = _setup(empty_target)
    result = _run(instance, resources, TOPIC)  # the whole grid of this file: 2 x 1 x 2 x 1
    assert result.success
    frame = pl.read_parquet(essays_parquet(TOPIC))
    assert sorted(zip(frame["stance"], frame["style"], strict=True)) == [
        ("con", "fancy"),
        ("con", "plain"),
        ("pro", "fancy"),
        ("pro", "plain"),
    ]
    assert frame["word_count"].is_between(200, 300).all()

    # A level removed from the file stays in the database, inactive, for the essays that use it.
    small.write_text(
        small.read_text().replace("  - {key: con, label: Against, polarity: -1, description: Argue against it.}\n", "")
    )
    assert dg.materialize([essay_dimensions], resources=resources, instance=instance).success
    stances = Stance.__table__
    with experiment_transaction(empty_target) as connection:
        assert dict(connection.execute(select(stances.c.key, stances.c.active)).all()) == {"pro": True, "con": False}

    small.write_text("stances:\n  - {key: Bad Key, label: x, polarity: 5, description: x}\n")
    with pytest.raises(DimensionsError) as error:
        load_dimensions(small)
    message = str(error.value)
    assert str(small) in message
    assert "stances.0.key: 'Bad Key' is not a key" in message
    assert "stances.0.polarity" in message and "evidence_patterns: Field required" in message
    failed = dg.materialize([essay_dimensions], resources=resources, instance=instance, raise_on_error=False)
    assert not failed.success


def test_quality_ranges_and_duplicate_keys_are_refused(tmp_path):
    path = tmp_path / "d.yaml"
    shipped = load_dimensions()
    raw = shipped.model_dump()
    raw["quality_levels"][1]["min_words"] = 900
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(DimensionsError, match=r"quality_levels.1: min_words \(900\) is above max_words \(550\)"):
        load_dimensions(path)
    raw = shipped.model_dump()
    raw["evidence_patterns"].append(raw["evidence_patterns"][0])
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(DimensionsError, match=r"evidence_patterns: keys \['statistics'\] appear more than once"):
        load_dimensions(path)


def test_missing_upstream_steps_fail_with_what_to_do(empty_target):
    instance, resources = dg.DagsterInstance.ephemeral(), research_resources(empty_target)
    instance.add_dynamic_partitions("essay_topic", [TOPIC])
    result = dg.materialize(
        [research_seeds, essay_personas],
        partition_key=TOPIC,
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "materialise essay_dimensions first" in failure.step_failure_data.error.message
    # essays before any plan: not an empty success
    result = dg.materialize([essays], partition_key=TOPIC, resources=resources, instance=instance, raise_on_error=False)
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "has no essays planned: materialise essay_personas first" in failure.step_failure_data.error.message


def test_a_failed_persona_call_is_asked_again_and_fills_its_cell(empty_target, openai_server, monkeypatch):
    """Student number 2's replies are all invalid in the first cast: it stores the other personas and
    leaves one cell unfilled; the next cast asks number 2 again (not a stored one) and fills it."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-essays")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("PERSONALITY_ASSETS_MODEL_GPT4O_MAX_ATTEMPTS", "2")
    refused = {"student number 2 "}

    def reply(request_json):
        prompt = last_user_text(request_json)
        if any(text in prompt for text in refused):
            return "no persona today"
        number = prompt.split("student number ")[1].split(" ")[0]
        # interests that match nothing in the topic: no stored persona is reusable, each cell needs a new one
        persona = {"name": f"Student {number}", "background": "chess club", "interests": ["knitting", "origami"]}
        return json.dumps({**persona, "strengths": ["a"], "weaknesses": ["b"]})

    openai_server.configure(reply=reply)
    instance, resources = _setup(empty_target)
    engine = resources["llm"].engine()
    research_seed(engine, empty_target, TOPIC, "simulated", 3)
    settings = PlanSettings(essays=4, persona_model="gpt4o")
    first = cast_essays(engine, empty_target, TOPIC, settings)
    assert (first.planned, first.new_personas, first.unfilled) == (3, 3, 1)

    refused.clear()
    openai_server.requests.clear()
    second = cast_essays(engine, empty_target, TOPIC, settings)
    assert (second.planned, second.new_personas, second.unfilled, second.already_planned) == (1, 1, 0, 3)
    assert _run(instance, resources, TOPIC, {"essay_personas": {"config": {"essays": 4}}}).success
    systems = [r["json"]["messages"][0]["content"] for r in openai_server.requests]
    asked = [
        last_user_text(r["json"])
        for r, system in zip(openai_server.requests, systems, strict=True)
        if "personas" in system
    ]
    assert len(asked) == 1 and "student number 2 " in asked[0]
    with experiment_transaction(empty_target) as connection:
        names = connection.execute(select(EssayPersona.__table__.c.name)).scalars().all()
    assert sorted(names) == ["Student 1", "Student 2", "Student 3", "Student 4"]
    assert _count(empty_target, PersonaUsage.__table__) == 4
    assert _count(empty_target, Essay.__table__, Essay.__table__.c.content.is_not(None)) == 4


def test_personas_of_an_interrupted_cast_are_cast_first(empty_target):
    """Personas a killed run wrote for the topic (paid for) are cast before any other, whatever their score."""
    instance, resources = _setup(empty_target)
    engine = resources["llm"].engine()
    research_seed(engine, empty_target, TOPIC, "simulated", 3)
    with experiment_transaction(empty_target) as connection:
        topic_id = connection.execute(select(EssayTopic.__table__.c.id)).scalar_one()
        unfit = repository.NewPersona("Left Over", "chess club", ["x"], ["y"], ["knitting", "astronomy"])
        orphan = repository.add_persona(connection, unfit, "simulated", "orphan-key", True, topic_id)
    outcome = cast_essays(engine, empty_target, TOPIC, PlanSettings(essays=5))
    assert (outcome.resumed, outcome.reused, outcome.new_personas, outcome.planned) == (1, 0, 4, 5)
    usage = PersonaUsage.__table__
    with experiment_transaction(empty_target) as connection:
        scores = dict(connection.execute(select(usage.c.persona_id, usage.c.compatibility)).all())
    assert scores[orphan] == 0.0 and len(scores) == 5


# --- the persona repository against hand-computed cases -------------------------------------------


def test_keywords():
    assert repository.keywords("Should social media be banned for teenagers?") == [
        "social",
        "media",
        "banned",
        "teenager",
    ]
    assert repository.keywords("The class's process, AND the classes, policies") == ["class", "process", "policy"]


@pytest.mark.parametrize(
    ("background", "interests", "score"),
    [
        ("STEM major", ["chemistry", "video games"], 0.0),  # nothing in common
        ("student athlete", ["social justice", "chemistry"], 0.3),  # one interest ("social")
        ("social media intern", ["chemistry"], 0.2),  # the background alone
        ("social media intern", ["social justice", "teenager mental health"], 0.8),  # 0.3 + 0.3 + 0.2
        ("teen", ["social", "media", "banned books", "teenagers"], 1.0),  # 4 x 0.3 = 1.2, capped
    ],
)
def test_compatibility_by_hand(background, interests, score):
    topic = repository.keywords(TOPIC)
    assert repository.compatibility(topic, background, interests) == score


def _store(connection, personas):
    ids = []
    for i, (background, strengths, weaknesses, interests) in enumerate(personas):
        persona = repository.NewPersona(f"P{i}", background, strengths, weaknesses, interests)
        ids.append(repository.add_persona(connection, persona, "simulated", f"key{i}", True))
    return ids


def test_repository_queries(empty_target):
    from personality_assets.db import migrate

    migrate.upgrade(empty_target)
    with experiment_transaction(empty_target) as connection:
        a, b, c, d = _store(
            connection,
            [
                ("International student", ["research skills"], ["grammar issues"], ["global politics", "social media"]),
                ("STEM major", ["analytical skills"], ["weak transitions"], ["technology ethics"]),
                ("international  student", ["analytical skills", "research skills"], ["wordiness"], ["chemistry"]),
                ("social worker", ["empathy"], ["grammar issues"], ["teenager health", "social justice", "chemistry"]),
            ],
        )
    with experiment_transaction(empty_target) as connection:
        assert repository.find_by_background(connection, "INTERNATIONAL STUDENT") == [a, c]
        assert repository.find_by_attributes(connection, strengths=["analytical skills"]) == [b, c]
        assert repository.find_by_attributes(
            connection, strengths=["analytical skills", "research skills"], require_all=True
        ) == [c]
        assert repository.find_by_attributes(
            connection, strengths=["research skills"], weaknesses=["grammar issues"]
        ) == [a, c, d]
        assert repository.find_by_attributes(
            connection, strengths=["research skills"], weaknesses=["grammar issues"], require_all=True
        ) == [a]
        topic = repository.keywords(TOPIC)
        ranked = repository.compatible_personas(connection, topic, min_score=0.3)
        # d: two interests + background = 0.8; a: one interest = 0.3; b, c: nothing.
        assert [(x.persona_id, x.score, x.uses) for x in ranked] == [(d, 0.8, 0), (a, 0.3, 0)]
        everyone = repository.compatible_personas(connection, topic, min_score=0.0)
        assert [x.persona_id for x in everyone] == [d, a, b, c]
        assert repository.usage_count(connection, a) == 0 and repository.usage_history(connection, a) == []


def test_sql_compatibility_matches_the_formula_on_random_personas(empty_target):
    from personality_assets.db import migrate

    migrate.upgrade(empty_target)
    rng = random.Random(5)
    words = ["social", "media", "teenagers", "ban", "music", "history", "sports", "law", "health", "policy"]
    people = [
        (
            " ".join(rng.sample(words, 2)),
            ["x"],
            ["y"],
            [" ".join(rng.sample(words, rng.randint(1, 2))) for _ in range(rng.randint(1, 5))],
        )
        for _ in range(60)
    ]
    topic = repository.keywords(TOPIC)
    with experiment_transaction(empty_target) as connection:
        ids = _store(connection, people)
        scored = {x.persona_id: x.score for x in repository.compatible_personas(connection, topic, min_score=0.0)}
    expected = {i: repository.compatibility(topic, p[0], p[3]) for i, p in zip(ids, people, strict=True)}
    assert scored == expected
    assert len(set(expected.values())) >= 4  # the cases are varied


def test_plans_are_balanced_and_extend_with_the_same_seed():
    sizes = (5, 4, 4, 4)
    full = plan_cells(sizes, None, seed=3)
    assert len({cell.levels for cell in full}) == 320
    for n in (7, 13, 40, 100):
        assert [c.levels for c in plan_cells(sizes, n, seed=3)] == [c.levels for c in full[:n]]

    def spread(cells, dimension):
        counts = Counter(cell.levels[dimension] for cell in cells)
        return max(counts.values()) - min(counts.get(level, 0) for level in range(sizes[dimension]))

    topics = [TOPIC, RELATED_TOPIC, "Should college tuition be free?", "Is nuclear power the answer?"]
    for seed in [*range(6), *(zlib.crc32(topic.encode()) for topic in topics)]:
        full = plan_cells(sizes, None, seed)
        # Exactly balanced for the first 80 (make run's 40 included; at least 83 for each of 200 seeds
        # measured), within two for every prefix.
        assert all(spread(full[:n], d) <= 1 for n in range(1, 81) for d in range(4)), seed
        assert all(spread(full[:n], d) <= 2 for n in range(1, 321) for d in range(4)), seed
    beyond = plan_cells(sizes, 330, seed=3)
    assert [c.replicate for c in beyond[318:322]] == [0, 0, 1, 1]
    assert plan_cells(sizes, 20, seed=4) != plan_cells(sizes, 20, seed=3)


def test_near_duplicates_are_found():
    base = " ".join(f"w{i}" for i in range(100))
    texts = [base, " ".join(f"v{i}" for i in range(100)), base.replace("w50", "changed")]
    similarity, pair = max_pairwise_jaccard(texts)
    assert pair == (0, 2)
    # 98 trigrams, 3 of them changed on each side: 95 shared of 101.
    assert similarity == pytest.approx(95 / 101, abs=1e-6)
    assert max_pairwise_jaccard(texts[:2])[0] == 0.0


def test_topics_are_checked_and_read_from_a_file(tmp_path):
    assert check_topic(TOPIC) == TOPIC
    for bad, rule in (("a, b", "a comma"), (" padded", "no leading"), ("a...b", "'...'"), ("x" * 301, "300")):
        with pytest.raises(TopicError, match=rule):
            check_topic(bad)
    path = tmp_path / "topics.txt"
    path.write_text(f"# mine\n{TOPIC}\n\nIs homework useful, really?\n")
    with pytest.raises(TopicError, match=rf"{path}, line 4: .*a comma"):
        read_topics_file(path)
    path.write_text(f"# mine\n{TOPIC}\n\n{RELATED_TOPIC}\n")
    assert read_topics_file(path) == [TOPIC, RELATED_TOPIC]
    assert read_topics_file(Path(ROOT / "examples" / "essays" / "topics.txt"))


def test_a_spend_cap_stops_the_essays_and_a_rerun_finishes_them_paying_once(empty_target, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-budget")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("PERSONALITY_ASSETS_MODEL_GPT4O_MAX_CONCURRENCY", "2")
    openai_server.configure(reply=lambda request: " ".join(["word"] * 200))
    instance, resources = _setup(empty_target)
    plan = {"essay_personas": {"config": {"essays": 10}}}
    capped = {**plan, "essays": {"config": {"writer_model": "gpt4o", "max_cost_usd": 0.03}}}
    result = _run(instance, resources, TOPIC, capped, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "stopped before passing this step's max_cost_usd of $0.0300" in message and "Raise the cap" in message
    written = Essay.__table__.c.content.is_not(None)
    done = _count(empty_target, Essay.__table__, written)
    assert 1 <= done < 10
    calls = LLMCall.__table__
    with experiment_transaction(empty_target) as connection:
        spent = connection.execute(select(func.sum(calls.c.cost_usd)).where(calls.c.purpose == "essay")).scalar()
    assert spent <= 0.03
    asked = openai_server.request_count
    assert asked == done  # every call started was stored

    result = _run(instance, resources, TOPIC, {**plan, "essays": {"config": {"writer_model": "gpt4o"}}})
    assert result.success and _count(empty_target, Essay.__table__, written) == 10
    assert openai_server.request_count == 10  # the rest only: nothing paid twice


def test_the_writer_in_batch_mode_submits_once_and_a_later_run_collects(empty_target, openai_server, monkeypatch):
    """One setting puts the writer on the Batch API; the step that submitted stops (it does not
    wait here), and the next run collects the batch: every essay written, none asked twice."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-batch")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("PERSONALITY_ASSETS_MODEL_GPT4O_MODE", "batch")
    monkeypatch.setenv("PERSONALITY_ASSETS_MODEL_GPT4O_BATCH_POLL_SECONDS", "0.05")
    monkeypatch.setenv("PERSONALITY_ASSETS_MODEL_GPT4O_BATCH_WAIT_SECONDS", "0")
    openai_server.configure(reply=lambda request: " ".join(["word"] * 300))
    openai_server.batch_seconds = 0.5
    instance, resources = _setup(empty_target)
    ops = {"essay_personas": {"config": {"essays": 6}}, "essays": {"config": {"writer_model": "gpt4o"}}}
    result = _run(instance, resources, TOPIC, ops, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "still running" in failure.step_failure_data.error.message
    assert len(openai_server.batches) == 1 and _count(empty_target, Essay.__table__, Essay.content.is_not(None)) == 0

    monkeypatch.setenv("PERSONALITY_ASSETS_MODEL_GPT4O_BATCH_WAIT_SECONDS", "30")
    result = _run(instance, resources, TOPIC, ops)
    assert result.success and _metadata(result, "essays")["llm_batch_share"] == 1.0
    assert _count(empty_target, Essay.__table__, Essay.content.is_not(None)) == 6
    assert len(openai_server.batches) == 1 and openai_server.batch_lines == 6
    assert not any(r["path"] == "/v1/chat/completions" for r in openai_server.requests)
    calls = LLMCall.__table__
    with experiment_transaction(empty_target) as connection:
        batched = connection.execute(
            select(func.count()).where(calls.c.purpose == "essay", calls.c.batch_id.is_not(None))
        ).scalar_one()
    assert batched == 6


def test_the_tables_the_essays_asset_shows():
    from personality_assets.defs.essays.tables import grid_coverage, level_counts, word_count_table

    written = pl.DataFrame(
        {
            "stance": ["for", "for", "against"],
            "evidence": ["data", "data", "data"],
            "style": ["plain", "plain", "fancy"],
            "quality": ["good", "good", "poor"],
            "word_count": [300, 340, 120],
        }
    )
    order = {
        "stance": ["for", "neutral", "against"],
        "evidence": ["data"],
        "style": ["plain", "fancy"],
        "quality": ["poor", "good"],
    }
    counts = level_counts(written, order)
    assert counts["stance"].rows() == [("for", 2), ("neutral", 0), ("against", 1)]  # the file's order, zeros kept
    ranges = pl.DataFrame({"quality": ["poor", "good"], "min_words": [100, 250], "max_words": [200, 400]})
    assert word_count_table(written, ranges).rows() == [
        ("poor", 1, 120, 120.0, 120, 100, 200),
        ("good", 2, 300, 320.0, 340, 250, 400),
    ]
    assert grid_coverage(written, order) == (2, round(2 / 12, 4))


def test_a_finished_batch_starts_its_run_again_from_the_sensor(empty_target, openai_server, monkeypatch):
    from personality_assets.definitions import defs
    from personality_assets.defs.usage.sensors import finished_batches_sensor

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-sensor")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("PERSONALITY_ASSETS_MODEL_GPT4O_MODE", "batch")
    monkeypatch.setenv("PERSONALITY_ASSETS_MODEL_GPT4O_BATCH_WAIT_SECONDS", "0")
    openai_server.configure(reply=lambda request: " ".join(["word"] * 300))
    openai_server.batch_seconds = 5.0  # long enough to be seen running on a busy machine
    instance, resources = _setup(empty_target)
    ops = {"essay_personas": {"config": {"essays": 4}}, "essays": {"config": {"writer_model": "gpt4o"}}}
    submitted = _run(instance, resources, TOPIC, ops, raise_on_error=False)
    assert not submitted.success

    def evaluate():
        context = dg.build_sensor_context(
            instance=instance,
            repository_def=defs.get_repository_def(),
            resources={"research_db": resources["research_db"]},
        )
        return finished_batches_sensor(context)

    assert "still running" in evaluate().skip_message
    deadline = time.monotonic() + 30
    while isinstance(result := evaluate(), dg.SkipReason) and time.monotonic() < deadline:
        time.sleep(0.5)
    (request,) = result
    assert request.job_name == "essay_generation" and request.partition_key == TOPIC
    assert [key.to_user_string() for key in request.asset_selection] == ["essay_personas", "essays", "research_seeds"]
    assert request.run_config["ops"]["essays"]["config"]["writer_model"] == "gpt4o"
    assert request.run_key.startswith("collect-batch-")
    # That run collects the batch, even with no time to wait: it is finished.
    collected = dg.materialize(
        TRACK, partition_key=TOPIC, resources=resources, instance=instance, run_config=request.run_config
    )
    assert collected.success and _count(empty_target, Essay.__table__, Essay.content.is_not(None)) == 4
    assert len(openai_server.batches) == 1
