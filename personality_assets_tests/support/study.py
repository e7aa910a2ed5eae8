"""A persona study wired to the local fake servers: its resources, its populations, a model's replies."""

import json
import re

import dagster as dg

from personality_assets.defs.persona_study.assets import (
    experiment_registrations,
    personas,
    questionnaire_answers,
    questionnaire_scores,
)
from personality_assets.defs.reference.assets import questionnaires, reference_questionnaires
from personality_assets.defs.resources import LLMEngineResource, ResearchDatabase
from personality_assets_tests.support.llm_servers import last_user_text


def research_resources(target) -> dict:
    """The project's resources on this test's database: the research database, and the engine that
    records its calls there (they are replaced together)."""
    research_db = ResearchDatabase(
        url=target.url, reference_schema=target.reference_schema, experiment_schema=target.experiment_schema
    )
    return {"research_db": research_db, "llm": LLMEngineResource(research_db=research_db, progress_every_s=1)}


def study_resources(target, monkeypatch=None, openai_url=None, bedrock_url=None):
    """``research_resources``, with providers pointed at the local servers the way a user points
    them at real ones: through the environment."""
    if openai_url:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-study")
        monkeypatch.setenv("OPENAI_BASE_URL", openai_url)
    if bedrock_url:
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        monkeypatch.setenv("PERSONALITY_ASSETS_BEDROCK_ENDPOINT_URL", bedrock_url)
    return research_resources(target)


STUDY = [personas, experiment_registrations, questionnaire_answers, questionnaire_scores]


def materialize_study(resources, instance, model, population, max_people=12, run_config=None, raise_on_error=True):
    """The study's four steps for one model × population, the first ``max_people`` people (the
    model enabled first, as `models add` does)."""
    instance.add_dynamic_partitions("model", [model])
    config = {"ops": {"personas": {"config": {"max_people": max_people}}, **(run_config or {})}}
    return dg.materialize(
        STUDY,
        partition_key=dg.MultiPartitionKey({"model": model, "population": population}),
        resources=resources,
        instance=instance,
        run_config=config,
        raise_on_error=raise_on_error,
    )


def load_populations(resources, instance, populations):
    instance.add_dynamic_partitions("population", populations)
    assert dg.materialize([questionnaires], resources=resources, instance=instance).success
    for population in populations:
        assert dg.materialize(
            [reference_questionnaires], partition_key=population, resources=resources, instance=instance
        ).success


def study_reply(request_json: dict) -> str:
    """A model behind the fake servers: a persona, or a complete set of neutral answers. Reads
    every message, as a retry with feedback appends the feedback after the original prompt."""
    text = "\n".join(
        last_user_text({"messages": [m]}) for m in request_json.get("messages", []) if m.get("role") == "user"
    )
    if "Invent a realistic person" in text:
        return json.dumps(
            {
                "name": "Ada Test",
                "age": 41,
                "gender": "Woman",
                "sexual_orientation": "straight",
                "race": "Hispanic",
                "ethnicity": "Mexican",
                "religious_belief": "none",
                "occupation": "nurse",
                "political_orientation": "moderate",
                "location": "Austin",
                "description": "Ada is a calm nurse.",
            }
        )
    numbers = re.findall(r"^(\d+)\. ", text, flags=re.MULTILINE)
    return json.dumps({"answers": {n: 3 for n in numbers}})


def leaves_out_item_7(request_json: dict) -> str:
    """A model that writes personas, then answers every questionnaire but item 7."""
    reply = json.loads(study_reply(request_json))
    if "answers" in reply:
        reply["answers"].pop("7")
    return json.dumps(reply)
