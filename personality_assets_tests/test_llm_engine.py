"""The call engine against real HTTP: the openai SDK and boto3 talk to local fake servers."""

import json
import logging

import pytest
from sqlalchemy import select

from personality_assets.db.engine import experiment_transaction
from personality_assets.db.models import LLMCall
from personality_assets.defs.persona_study.replies import QuestionnaireReply
from personality_assets.llm.config import ModelConfig, ModelConfigError, ModelsConfig, load_models_config
from personality_assets.llm.engine import CallEngine
from personality_assets.llm.providers import Providers
from personality_assets.llm.providers.bedrock import BedrockProvider
from personality_assets.llm.providers.openai import OpenAIProvider
from personality_assets.llm.providers.simulated import SimulatedProvider
from personality_assets.llm.types import ChatRequest, UserActionRequired
from personality_assets_tests.llm_servers import bedrock_server, openai_server  # noqa: F401 - fixtures

SECRET = "sk-test-DO-NOT-LEAK-4f9a"


def _models(**overrides) -> ModelsConfig:
    base = {
        "provider": "openai",
        "model_id": "gpt-test",
        "max_concurrency": 8,
        "max_attempts": 4,
        "price_input_per_million": 2.0,
        "price_output_per_million": 8.0,
        "timeout_seconds": 5,
    }
    openai_model = ModelConfig(key="oa", **{**base, **overrides})
    bedrock_model = ModelConfig(
        key="br", **{**base, "provider": "bedrock", "model_id": "meta.llama3-1-70b-instruct-v1:0", **overrides}
    )
    simulated = ModelConfig(key="sim", provider="simulated", model_id="sim", cache=True)
    return ModelsConfig(default_model="sim", models={"oa": openai_model, "br": bedrock_model, "sim": simulated})


def _engine(target, models, openai_url=None, bedrock_url=None, **kwargs) -> CallEngine:
    providers = Providers(
        openai=OpenAIProvider(api_key=SECRET, base_url=openai_url),
        bedrock=BedrockProvider(region_name="us-east-1", endpoint_url=bedrock_url),
        simulated=SimulatedProvider(),
    )
    return CallEngine(models, providers, target=target, progress_every_s=0.2, **kwargs)


def _requests(n, model="oa", **kwargs):
    return [
        ChatRequest(model=model, messages=(("system", "be brief"), ("user", f"question {i}")), tag=i, **kwargs)
        for i in range(n)
    ]


def _stored(target):
    with experiment_transaction(target) as connection:
        return [dict(r) for r in connection.execute(select(LLMCall.__table__).order_by(LLMCall.id)).mappings()]


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-DO-NOT-LEAK")


def test_openai_calls_are_made_accounted_and_stored_without_secrets(db_target, openai_server, caplog):
    caplog.set_level(logging.INFO)
    summary = _engine(db_target, _models(), openai_server.base_url).run(_requests(20))
    assert (summary.calls, summary.ok, summary.attempts) == (20, 20, 20)
    assert openai_server.request_count == 20
    assert openai_server.requests[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    rows = _stored(db_target)
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
    engine = _engine(db_target, _models(max_concurrency=1), openai_server.base_url)
    openai_server.fail_next(2, "429").fail_next(1, "500")
    summary = engine.run(_requests(1))
    assert (summary.ok, summary.attempts, openai_server.request_count) == (1, 4, 4)

    openai_server.reset()
    openai_server.fail_next(10, "500")
    summary = engine.run(_requests(1))
    assert (summary.failed, openai_server.request_count) == (1, 4)  # max_attempts = 4, then it stops
    assert _stored(db_target)[-1]["error"].startswith("gave up after 4 attempts")


def test_retry_after_is_honoured(db_target, openai_server):
    openai_server.configure(retry_after=0.4).fail_next(1, "429")
    _engine(db_target, _models(max_concurrency=1), openai_server.base_url).run(_requests(1))
    first, second = openai_server.requests
    assert second["time"] - first["time"] >= 0.4


def test_client_errors_are_not_retried(db_target, openai_server):
    openai_server.fail_next(1, "400")
    summary = _engine(db_target, _models(), openai_server.base_url).run(_requests(1))
    assert (summary.failed, openai_server.request_count) == (1, 1)
    assert _stored(db_target)[0]["error"].startswith("not retried: 400")


def test_a_hanging_request_times_out_and_is_retried(db_target, openai_server):
    openai_server.configure(hang_seconds=10).fail_next(1, "hang")
    summary = _engine(db_target, _models(timeout_seconds=0.5), openai_server.base_url).run(_requests(1))
    assert (summary.ok, summary.attempts) == (1, 2)


def test_rate_limit_holds_on_the_server_side(db_target, openai_server):
    # 10 requests per 1-second window (the window is shortened for the test; in use it is 60 s).
    engine = _engine(db_target, _models(rpm=10, max_concurrency=8), openai_server.base_url, rate_window_s=1.0)
    engine.run(_requests(25))
    times = sorted(r["time"] for r in openai_server.requests)
    worst = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert len(times) == 25 and worst <= 10
    assert times[-1] - times[0] >= 2.0  # 25 requests at 10 per window need three windows


def test_token_budget_holds(db_target, openai_server):
    engine = _engine(db_target, _models(tpm=1000, max_concurrency=8), openai_server.base_url, rate_window_s=1.0)
    requests = [ChatRequest(model="oa", messages=(("user", "x" * 1200),), tag=i) for i in range(6)]  # ~500 tokens
    engine.run(requests)
    times = sorted(r["time"] for r in openai_server.requests)
    assert max(sum(1 for t in times if s <= t < s + 1.0) for s in times) <= 2


def test_cache_prevents_a_second_call_but_not_a_repetition(db_target, openai_server):
    engine = _engine(db_target, _models(cache=True), openai_server.base_url)
    first = engine.run(_requests(5))
    second = engine.run(_requests(5))
    assert (first.cached, second.cached, openai_server.request_count) == (0, 5, 5)
    assert second.cost_usd == 0
    engine.run(_requests(5, repetition=1))  # deliberate repetitions are new calls
    assert openai_server.request_count == 10
    estimate = engine.estimate(_requests(5) + _requests(5, repetition=2))
    assert estimate.row(0, named=True)["calls"] == 5 and estimate.row(0, named=True)["cached"] == 5


def test_cache_is_off_unless_asked_for_real_providers(db_target, openai_server):
    engine = _engine(db_target, _models(), openai_server.base_url)
    engine.run(_requests(3))
    engine.run(_requests(3))
    assert openai_server.request_count == 6


def test_invalid_output_is_retried_with_feedback_then_recorded(db_target, openai_server):
    answers = json.dumps({"answers": {"1": 3, "2": 5}})
    openai_server.configure(reply=lambda request: answers).fail_next(1, "malformed")
    request = ChatRequest(
        model="oa", messages=(("user", "answer"),), purpose="questionnaire", response_model=QuestionnaireReply
    )
    engine = _engine(db_target, _models(), openai_server.base_url)
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
    assert _stored(db_target)[-1]["status"] == "invalid"


def test_structured_outputs_send_the_schema(db_target, openai_server):
    openai_server.configure(reply=lambda request: json.dumps({"answers": {"1": 2}}))
    request = ChatRequest(model="oa", messages=(("user", "answer in JSON"),), response_model=QuestionnaireReply)
    _engine(db_target, _models(json_output="json_schema"), openai_server.base_url).run([request])
    _engine(db_target, _models(json_output="prompt"), openai_server.base_url).run([request])
    structured, prompt_only = (r["json"] for r in openai_server.requests)
    assert structured["response_format"]["type"] == "json_schema"
    assert structured["response_format"]["json_schema"]["schema"] == QuestionnaireReply.model_json_schema()
    assert "response_format" not in prompt_only


def test_unknown_model_and_missing_key_and_unreachable_endpoint(db_target, openai_server):
    with pytest.raises(ModelConfigError, match="unknown model key 'nope'"):
        _engine(db_target, _models(), openai_server.base_url).run(_requests(1, model="nope"))
    keyless = CallEngine(
        _models(),
        Providers(openai=OpenAIProvider(base_url=openai_server.base_url), simulated=SimulatedProvider()),
        target=db_target,
    )
    with pytest.raises(UserActionRequired, match="OPENAI_API_KEY"):
        keyless.run(_requests(1))
    with pytest.raises(UserActionRequired, match="unreachable"):
        _engine(db_target, _models(max_attempts=2), "http://127.0.0.1:9/v1").run(_requests(3))


def test_bedrock_converse_over_http(db_target, bedrock_server, aws_env):
    engine = _engine(db_target, _models(), bedrock_url=bedrock_server.url)
    bedrock_server.fail_next(1, "429")
    summary = engine.run(_requests(4, model="br"))
    assert (summary.ok, summary.attempts, bedrock_server.request_count) == (4, 5, 5)
    sent = bedrock_server.requests[-1]["json"]
    assert sent["system"] == [{"text": "be brief"}] and sent["inferenceConfig"]["maxTokens"] == 2048
    rows = _stored(db_target)
    assert all(r["provider"] == "bedrock" and r["output_tokens"] > 0 for r in rows)
    assert "aws-secret-DO-NOT-LEAK" not in json.dumps(rows, default=str)


def test_bedrock_model_not_enabled_is_reported(db_target, bedrock_server, aws_env):
    bedrock_server.fail_next(5, "403")
    with pytest.raises(UserActionRequired, match="Model access"):
        _engine(db_target, _models(), bedrock_url=bedrock_server.url).run(_requests(1, model="br"))


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


def test_rate_limit_holds_across_consecutive_runs(db_target, openai_server):
    # A second run (a later step) counts what the first sent: 4 per 1-second window in all.
    models = _models(rpm=4, max_concurrency=4, model_id="gpt-consecutive")
    _engine(db_target, models, openai_server.base_url, rate_window_s=1.0).run(_requests(4))
    _engine(db_target, models, openai_server.base_url, rate_window_s=1.0).run(_requests(4, repetition=1))
    times = sorted(r["time"] for r in openai_server.requests)
    assert max(sum(1 for t in times if s <= t < s + 1.0) for s in times) <= 4


def test_limiter_seeded_from_stored_calls_in_a_new_process(db_target, openai_server):
    from personality_assets.llm import ratelimit

    models = _models(rpm=3, max_concurrency=3, model_id="gpt-seeded")
    _engine(db_target, models, openai_server.base_url, rate_window_s=2.0).run(_requests(3))
    ratelimit._SHARED.clear()  # as if the next step ran in a fresh process
    _engine(db_target, models, openai_server.base_url, rate_window_s=2.0).run(_requests(3, repetition=1))
    first, second = sorted(r["time"] for r in openai_server.requests)[2:4]
    assert second - first >= 1.5  # the second run waited for the first's calls to leave the window


def test_bedrock_without_a_region_stops_the_batch_saying_what_to_set(
    db_target, bedrock_server, aws_env, monkeypatch, tmp_path
):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    providers = Providers(bedrock=BedrockProvider(endpoint_url=bedrock_server.url), simulated=SimulatedProvider())
    engine = CallEngine(_models(), providers, target=db_target)
    with pytest.raises(UserActionRequired, match="no AWS region.*AWS_REGION"):
        engine.run(_requests(20, model="br"))
    assert bedrock_server.request_count == 0 and len(_stored(db_target)) < 20  # stopped, not 20 recorded failures


def test_a_base_url_without_v1_is_explained(db_target, openai_server):
    wrong = openai_server.url + "/openai"  # the server answers 404 for every path under it
    with pytest.raises(UserActionRequired, match=r"404 for .*/openai/chat/completions.*base URL probably lacks /v1"):
        _engine(db_target, _models(), wrong).run(_requests(5))
    assert openai_server.request_count <= 8  # stopped early, not 5 x 4 attempts
    # A real "model not found" (an OpenAI error body) is still reported as such.
    openai_server.fail_next(1, "404")
    with pytest.raises(UserActionRequired, match="model 'gpt-test' not found"):
        _engine(db_target, _models(), openai_server.base_url).run(_requests(1))


def test_the_scripting_path_reads_keys_from_the_environment(db_target, openai_server, monkeypatch):
    from personality_assets.defs.resources import ResearchDatabase, default_llm_resource

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    research_db = ResearchDatabase(
        url=db_target.url, reference_schema=db_target.reference_schema, experiment_schema=db_target.experiment_schema
    )
    engine = default_llm_resource().engine(research_db=research_db)  # no Dagster context: a script or notebook
    summary = engine.run(_requests(2, model="gpt4o"))
    assert (summary.ok, openai_server.request_count) == (2, 2)
    assert openai_server.requests[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in json.dumps(_stored(db_target), default=str)
