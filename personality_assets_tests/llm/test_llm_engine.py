"""The call engine against real HTTP: the openai SDK and boto3 talk to local fake servers."""

import json
import logging
import time
from pathlib import Path

import pytest

from personality_assets.defs.persona_study.replies import QuestionnaireReply
from personality_assets.llm.config import ModelConfigError, load_models_config
from personality_assets.llm.engine import CallEngine
from personality_assets.llm.providers import Providers
from personality_assets.llm.providers.openai import OpenAIProvider
from personality_assets.llm.providers.simulated import SimulatedProvider
from personality_assets.llm.types import ChatRequest, UserActionRequired
from personality_assets_tests.support.engine import (
    SECRET,
    chat_requests,
    engine_with_fakes,
    models_config,
    stored_calls,
)


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-DO-NOT-LEAK")


def test_openai_calls_are_made_accounted_and_stored_without_secrets(db_target, openai_server, caplog):
    caplog.set_level(logging.INFO)
    summary = engine_with_fakes(db_target, models_config(), openai_server.base_url).run(chat_requests(20))
    assert (summary.calls, summary.ok, summary.attempts) == (20, 20, 20)
    assert openai_server.request_count == 20
    assert openai_server.requests[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    rows = stored_calls(db_target)
    assert len(rows) == 20 and {r["status"] for r in rows} == {"ok"}
    row = rows[0]
    assert row["input_tokens"] > 0 and row["output_tokens"] > 0
    assert row["cost_usd"] == pytest.approx((row["input_tokens"] * 2.0 + row["output_tokens"] * 8.0) / 1e6)
    assert summary.cost_usd == pytest.approx(sum(r["cost_usd"] for r in rows))
    assert row["request_json"]["messages"][1]["content"].startswith("question")
    assert json.loads(row["response_text"])["echo"].startswith("question")
    assert SECRET not in json.dumps(rows, default=str) and SECRET not in caplog.text
    assert "20/20 (100%)" in caplog.text
    metadata = summary.metadata()
    assert metadata["llm_calls"] == 20 and metadata["llm_latency_p95_s"] >= metadata["llm_latency_p50_s"] > 0


def test_transient_errors_are_retried_then_given_up(db_target, openai_server):
    engine = engine_with_fakes(db_target, models_config(max_concurrency=1), openai_server.base_url)
    openai_server.fail_next(2, "429").fail_next(1, "500")
    summary = engine.run(chat_requests(1))
    assert (summary.ok, summary.attempts, openai_server.request_count) == (1, 4, 4)

    openai_server.reset()
    openai_server.fail_next(10, "500")
    summary = engine.run(chat_requests(1))
    assert (summary.failed, openai_server.request_count) == (1, 4)  # max_attempts = 4, then it stops
    assert stored_calls(db_target)[-1]["error"].startswith("gave up after 4 attempts")


def test_retry_after_is_honoured(db_target, openai_server):
    openai_server.configure(retry_after=0.4).fail_next(1, "429")
    engine_with_fakes(db_target, models_config(max_concurrency=1), openai_server.base_url).run(chat_requests(1))
    first, second = openai_server.requests
    assert second["time"] - first["time"] >= 0.4


def test_client_errors_are_not_retried(db_target, openai_server):
    openai_server.fail_next(1, "400")
    summary = engine_with_fakes(db_target, models_config(), openai_server.base_url).run(chat_requests(1))
    assert (summary.failed, openai_server.request_count) == (1, 1)
    assert stored_calls(db_target)[0]["error"].startswith("not retried: 400")


def test_a_hanging_request_times_out_and_is_retried(db_target, openai_server):
    openai_server.configure(hang_seconds=10).fail_next(1, "hang")
    summary = engine_with_fakes(db_target, models_config(timeout_seconds=0.5), openai_server.base_url).run(
        chat_requests(1)
    )
    assert (summary.ok, summary.attempts) == (1, 2)


def test_rate_limit_holds_on_the_server_side(db_target, openai_server):
    # 10 requests per 1-second window (the window is shortened for the test; in use it is 60 s).
    engine = engine_with_fakes(
        db_target, models_config(rpm=10, max_concurrency=8), openai_server.base_url, rate_window_s=1.0
    )
    engine.run(chat_requests(25))
    times = sorted(r["time"] for r in openai_server.requests)
    worst = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert len(times) == 25 and worst <= 10
    assert times[-1] - times[0] >= 2.0  # 25 requests at 10 per window need three windows


def test_token_budget_holds(db_target, openai_server):
    engine = engine_with_fakes(
        db_target, models_config(tpm=1000, max_concurrency=8), openai_server.base_url, rate_window_s=1.0
    )
    requests = [ChatRequest(model="oa", messages=(("user", "x" * 1200),), tag=i) for i in range(6)]  # ~500 tokens
    engine.run(requests)
    times = sorted(r["time"] for r in openai_server.requests)
    assert max(sum(1 for t in times if s <= t < s + 1.0) for s in times) <= 2


def test_cache_prevents_a_second_call_but_not_a_repetition(db_target, openai_server):
    engine = engine_with_fakes(db_target, models_config(cache=True), openai_server.base_url)
    first = engine.run(chat_requests(5))
    second = engine.run(chat_requests(5))
    assert (first.cached, second.cached, openai_server.request_count) == (0, 5, 5)
    assert second.cost_usd == 0
    engine.run(chat_requests(5, repetition=1))  # deliberate repetitions are new calls
    assert openai_server.request_count == 10
    estimate = engine.estimate(chat_requests(5) + chat_requests(5, repetition=2))
    assert estimate.row(0, named=True)["calls"] == 5 and estimate.row(0, named=True)["cached"] == 5


def test_cache_is_off_unless_asked_for_real_providers(db_target, openai_server):
    engine = engine_with_fakes(db_target, models_config(), openai_server.base_url)
    engine.run(chat_requests(3))
    engine.run(chat_requests(3))
    assert openai_server.request_count == 6


def test_invalid_output_is_retried_with_feedback_then_recorded(db_target, openai_server):
    answers = json.dumps({"answers": {"1": 3, "2": 5}})
    openai_server.configure(reply=lambda request: answers).fail_next(1, "malformed")
    request = ChatRequest(
        model="oa", messages=(("user", "answer"),), purpose="questionnaire", response_model=QuestionnaireReply
    )
    engine = engine_with_fakes(db_target, models_config(), openai_server.base_url)
    results = []
    summary = engine.run([request], persist=lambda connection, group: results.extend(group))
    assert summary.ok == 1 and summary.attempts == 2
    assert results[0].parsed == QuestionnaireReply(answers={1: 3, 2: 5})
    retry_messages = openai_server.requests[1]["json"]["messages"]
    assert retry_messages[-1]["content"].startswith("That reply was not valid")
    assert openai_server.requests[0]["json"]["response_format"] == {"type": "json_object"}  # the default

    openai_server.reset()
    openai_server.configure(reply=lambda request: '{"answers": "none"}')
    summary = engine.run([request])
    assert (summary.invalid, openai_server.request_count) == (1, 4)
    assert stored_calls(db_target)[-1]["status"] == "invalid"


def test_structured_outputs_send_the_schema(db_target, openai_server):
    openai_server.configure(reply=lambda request: json.dumps({"answers": {"1": 2}}))
    request = ChatRequest(model="oa", messages=(("user", "answer in JSON"),), response_model=QuestionnaireReply)
    engine_with_fakes(db_target, models_config(json_output="json_schema"), openai_server.base_url).run([request])
    engine_with_fakes(db_target, models_config(json_output="prompt"), openai_server.base_url).run([request])
    structured, prompt_only = (r["json"] for r in openai_server.requests)
    assert structured["response_format"]["type"] == "json_schema"
    assert structured["response_format"]["json_schema"]["schema"] == QuestionnaireReply.model_json_schema()
    assert "response_format" not in prompt_only


def test_unknown_model_and_missing_key_and_unreachable_endpoint(db_target, openai_server):
    with pytest.raises(ModelConfigError, match="unknown model key 'nope'"):
        engine_with_fakes(db_target, models_config(), openai_server.base_url).run(chat_requests(1, model="nope"))
    keyless = CallEngine(
        models_config(),
        Providers(openai=OpenAIProvider(base_url=openai_server.base_url), simulated=SimulatedProvider()),
        target=db_target,
    )
    with pytest.raises(UserActionRequired, match="OPENAI_API_KEY"):
        keyless.run(chat_requests(1))
    with pytest.raises(UserActionRequired, match="unreachable"):
        engine_with_fakes(db_target, models_config(max_attempts=2), "http://127.0.0.1:9/v1").run(chat_requests(3))


def test_bedrock_converse_over_http(db_target, bedrock_server, aws_env):
    engine = engine_with_fakes(db_target, models_config(), bedrock_url=bedrock_server.url)
    bedrock_server.fail_next(1, "429")
    summary = engine.run(chat_requests(4, model="br"))
    assert (summary.ok, summary.attempts, bedrock_server.request_count) == (4, 5, 5)
    sent = bedrock_server.requests[-1]["json"]
    assert sent["system"] == [{"text": "be brief"}] and sent["inferenceConfig"]["maxTokens"] == 2048
    rows = stored_calls(db_target)
    assert all(r["provider"] == "bedrock" and r["output_tokens"] > 0 for r in rows)
    assert "aws-secret-DO-NOT-LEAK" not in json.dumps(rows, default=str)


def test_bedrock_model_not_enabled_is_reported(db_target, bedrock_server, aws_env):
    bedrock_server.fail_next(5, "403")
    with pytest.raises(UserActionRequired, match="Model access"):
        engine_with_fakes(db_target, models_config(), bedrock_url=bedrock_server.url).run(chat_requests(1, model="br"))


def test_models_configuration_file_and_environment(tmp_path):
    user = tmp_path / "models.yaml"
    user.write_text(
        "default_model: mine\nmodels:\n  mine:\n    provider: openai\n    model_id: my-vllm-model\n"
        "  gpt4o:\n    rpm: 42\n"
    )
    config = load_models_config(user, environ={"PERSONALITY_ASSETS_MODEL_GPT4O_PRICE_INPUT_PER_MILLION": "9"})
    assert config.get(None).model_id == "my-vllm-model"
    assert (config.get("gpt4o").rpm, config.get("gpt4o").price_input_per_million) == (42, 9.0)
    assert {"gpt35", "gpt4o", "claude35_sonnet", "llama31_70b", "llama32_3b", "simulated"} <= set(config.models)
    with pytest.raises(ModelConfigError, match="no configured model key"):
        load_models_config(environ={"PERSONALITY_ASSETS_MODEL_NOPE_RPM": "1"})
    assert load_models_config(environ={"PERSONALITY_ASSETS_MODEL_GPT4O_PACING": "even"}).get("gpt4o").pacing == "even"
    with pytest.raises(ModelConfigError, match="'simulated': pacing: even spreads rpm .*; set rpm"):
        load_models_config(environ={"PERSONALITY_ASSETS_MODEL_SIMULATED_PACING": "even"})


def test_rate_limit_holds_across_consecutive_runs(db_target, openai_server):
    # A second run (a later step) counts what the first sent: 4 per 1-second window in all.
    models = models_config(rpm=4, max_concurrency=4, model_id="gpt-consecutive")
    engine_with_fakes(db_target, models, openai_server.base_url, rate_window_s=1.0).run(chat_requests(4))
    engine_with_fakes(db_target, models, openai_server.base_url, rate_window_s=1.0).run(chat_requests(4, repetition=1))
    times = sorted(r["time"] for r in openai_server.requests)
    assert max(sum(1 for t in times if s <= t < s + 1.0) for s in times) <= 4


def test_limiter_seeded_from_stored_calls_in_a_new_process(db_target, openai_server):
    from personality_assets.llm import ratelimit

    models = models_config(rpm=3, max_concurrency=3, model_id="gpt-seeded")
    engine_with_fakes(db_target, models, openai_server.base_url, rate_window_s=2.0).run(chat_requests(3))
    ratelimit._SHARED.clear()  # as if the next step ran in a fresh process
    engine_with_fakes(db_target, models, openai_server.base_url, rate_window_s=2.0).run(chat_requests(3, repetition=1))
    first, second = sorted(r["time"] for r in openai_server.requests)[2:4]
    assert second - first >= 1.5  # the second run waited for the first's calls to leave the window


@pytest.fixture
def no_aws_config(aws_env, monkeypatch, tmp_path):
    """AWS credentials but no region anywhere: no AWS_REGION / AWS_DEFAULT_REGION, an empty AWS config file."""
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    empty = tmp_path / "aws-config"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))


def _from_environment(target, **bedrock) -> CallEngine:
    """An engine whose providers are made from each model's entry and the environment, as in use."""
    models = models_config()
    models.models["br"] = models.models["br"].model_copy(update={"max_concurrency": 2, **bedrock})
    return CallEngine(models, Providers(), target=target)


def test_bedrock_without_a_region_stops_the_batch_saying_what_to_set(db_target, bedrock_server, no_aws_config):
    engine = _from_environment(db_target, base_url=bedrock_server.url)
    with pytest.raises(UserActionRequired) as caught:
        engine.run(chat_requests(20, model="br"))
    message = str(caught.value)
    assert "no AWS region for model 'br'" in message
    assert "`region`" in message and "models.yaml" in message and "AWS_REGION" in message
    assert bedrock_server.request_count == 0 and stored_calls(db_target) == []  # stopped, not 20 recorded failures

    # The model's own region is enough.
    engine = _from_environment(db_target, base_url=bedrock_server.url, region="eu-west-1")
    summary = engine.run(chat_requests(3, model="br"))
    assert (summary.ok, bedrock_server.request_count) == (3, 3)


def test_an_unknown_aws_profile_or_an_invalid_region_stops_the_batch(
    db_target, bedrock_server, no_aws_config, monkeypatch
):
    monkeypatch.setenv("AWS_PROFILE", "reserach")  # a typo
    engine = _from_environment(db_target, base_url=bedrock_server.url, region="us-east-1")
    with pytest.raises(UserActionRequired, match="AWS profile 'reserach' not found.*AWS_PROFILE"):
        engine.run(chat_requests(20, model="br"))
    assert bedrock_server.request_count == 0 and stored_calls(db_target) == []

    monkeypatch.delenv("AWS_PROFILE")
    engine = _from_environment(db_target, base_url=bedrock_server.url, region="us east 1")
    with pytest.raises(UserActionRequired, match="cannot make a client for model 'br'.*'us east 1'"):
        engine.run(chat_requests(20, model="br"))
    assert bedrock_server.request_count == 0 and stored_calls(db_target) == []


@pytest.mark.parametrize(
    "not_found_body",
    [
        pytest.param({"detail": "Not Found"}, id="vllm-litellm-fastapi"),
        pytest.param({"error": {"message": "Invalid URL (POST /chat/completions)"}}, id="openai-invalid-url"),
        pytest.param("404 page not found", id="ollama-plain-text"),
    ],
)
def test_a_base_url_without_v1_is_explained(db_target, openai_server, not_found_body):
    openai_server.configure(not_found_body=not_found_body)
    root = openai_server.url  # the server serves /v1/chat/completions only
    with pytest.raises(UserActionRequired) as caught:
        engine_with_fakes(db_target, models_config(max_concurrency=2), root).run(chat_requests(20))
    message = str(caught.value)
    assert f"base URL {root} probably lacks /v1" in message and f"{root}/v1" in message
    assert SECRET not in message
    assert 1 <= openai_server.request_count <= 2  # stopped at once, not 20 x 4 attempts
    assert {r["path"] for r in openai_server.requests} == {"/chat/completions"}
    assert stored_calls(db_target) == []

    elsewhere = openai_server.url + "/api/v1"  # has /v1 but is not where the server serves
    with pytest.raises(UserActionRequired, match=f"check the model's base_url .*{elsewhere}") as caught:
        engine_with_fakes(db_target, models_config(max_concurrency=2), elsewhere).run(chat_requests(20))
    assert "lacks /v1" not in str(caught.value)


def test_a_real_unknown_model_is_still_reported_as_such(db_target, openai_server):
    openai_server.fail_next(1, "404")  # OpenAI's model_not_found error at the right path
    with pytest.raises(UserActionRequired, match="model 'gpt-test' not found"):
        engine_with_fakes(db_target, models_config(), openai_server.base_url).run(chat_requests(1))


def _documented_scripting_example() -> str:
    page = (Path(__file__).resolve().parents[2] / "docs" / "models.md").read_text()
    section = page[page.index("Outside Dagster (scripts, notebooks, the CLI)") :]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_documented_scripting_path_calls_a_real_provider(empty_target, openai_server, monkeypatch, tmp_path):
    # A script or notebook: no Dagster context, a database nothing has migrated yet, the key only in the environment.
    models_file = tmp_path / "models.yaml"
    models_file.write_text(
        f"models:\n  local:\n    provider: openai\n    model_id: served-model\n    base_url: {openai_server.base_url}\n"
    )
    monkeypatch.setenv("PERSONALITY_ASSETS_MODELS_FILE", str(models_file))
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("PERSONALITY_ASSETS_DATABASE_URL", empty_target.url)
    monkeypatch.setenv("PERSONALITY_ASSETS_REFERENCE_SCHEMA", empty_target.reference_schema)
    monkeypatch.setenv("PERSONALITY_ASSETS_EXPERIMENT_SCHEMA", empty_target.experiment_schema)
    namespace = {"requests": chat_requests(3, model="local")}
    exec(_documented_scripting_example(), namespace)
    summary = namespace["summary"]
    assert (summary.ok, openai_server.request_count) == (3, 3)
    assert openai_server.requests[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    rows = stored_calls(empty_target)
    assert [r["status"] for r in rows] == ["ok"] * 3
    assert SECRET not in json.dumps(rows, default=str)


@pytest.mark.parametrize("shared", [False, True], ids=["in-process", "redis"])
def test_even_pacing_meets_a_limit_counted_per_second(db_target, openai_server, request, shared):
    """A provider that counts a minute's limit over 1 s windows (as Azure OpenAI does): rpm 40 over
    a 4 s window is 10 a second. Paced evenly (one every 0.1 s), no request is refused; sent as the
    window allows, at once, most are."""
    redis_url = request.getfixturevalue("redis_server").url if shared else None
    openai_server.configure(latency=0.01)
    openai_server.limit_per_second = 12  # a little room for the arrivals' jitter
    even = models_config(rpm=40, pacing="even", model_id="gpt-even")
    paced = engine_with_fakes(db_target, even, openai_server.base_url, redis_url=redis_url, rate_window_s=4.0)
    assert paced.run(chat_requests(40)).ok == 40
    assert openai_server.limited == 0
    sent = sorted(r["time"] for r in openai_server.requests)
    assert len(sent) == 40 and sent[-1] - sent[0] >= 39 * 0.1 * 0.9

    time.sleep(1.0)  # the server's last second is empty again
    burst = models_config(rpm=40, model_id="gpt-burst")
    burst = engine_with_fakes(db_target, burst, openai_server.base_url, redis_url=redis_url, rate_window_s=4.0)
    assert burst.run(chat_requests(40, repetition=1)).ok == 40
    assert openai_server.limited > 0
