"""Providers behind one interface: a new provider is one module and a registration; each model may
have its own endpoint and key variable; rate limits are kept per account, not per model key."""

import json

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.usage import LLMCall
from personality_assets.llm.config import ModelConfig, ModelsConfig
from personality_assets.llm.engine import CallEngine
from personality_assets.llm.providers import PROVIDERS, Providers
from personality_assets.llm.types import ChatRequest
from personality_assets_tests.support import fake_provider
from personality_assets_tests.support.llm_servers import FakeOpenAIServer

LOCAL_KEY = "sk-local-DO-NOT-LEAK-77"
HOSTED_KEY = "sk-hosted-DO-NOT-LEAK-88"


def _requests(model, n, **kwargs):
    return [ChatRequest(model=model, messages=(("user", f"q{i}"),), **kwargs) for i in range(n)]


def test_a_new_provider_is_one_module_and_a_registration(db_target, monkeypatch):
    monkeypatch.setitem(PROVIDERS, "fake", "personality_assets_tests.support.fake_provider:FakeProvider")
    fake_provider.SEEN.clear()
    models = ModelsConfig(
        default_model="f",
        models={"f": ModelConfig(key="f", provider="fake", model_id="fake-1", base_url="http://fake.invalid/v1")},
    )
    summary = CallEngine(models, Providers(environ={}), target=db_target).run(_requests("f", 3))
    assert (summary.ok, fake_provider.SEEN) == (3, [("f", "http://fake.invalid/v1")] * 3)
    with pytest.raises(ValidationError, match="unknown provider 'nope'"):
        ModelConfig(key="x", provider="nope", model_id="m")


def test_each_model_reaches_its_own_endpoint_with_its_own_key(db_target):
    local, hosted = FakeOpenAIServer(), FakeOpenAIServer()
    with local, hosted:
        models = ModelsConfig(
            default_model="local",
            models={
                "local": ModelConfig(
                    key="local",
                    provider="openai",
                    model_id="llama",
                    base_url=local.base_url,
                    api_key_env="LOCAL_VLLM_KEY",
                ),
                "hosted": ModelConfig(
                    key="hosted", provider="openai", model_id="gpt", base_url=hosted.base_url, api_key_env="HOSTED_KEY"
                ),
            },
        )
        environ = {"LOCAL_VLLM_KEY": LOCAL_KEY, "HOSTED_KEY": HOSTED_KEY}
        summary = CallEngine(models, Providers(environ=environ), target=db_target).run(
            _requests("local", 2) + _requests("hosted", 3)
        )
        assert summary.ok == 5
        assert [r["headers"]["authorization"] for r in local.requests] == [f"Bearer {LOCAL_KEY}"] * 2
        assert [r["headers"]["authorization"] for r in hosted.requests] == [f"Bearer {HOSTED_KEY}"] * 3
        # A key variable that is not set is named in the message.
        unset = ModelsConfig(default_model="local", models={"local": models.models["local"]})
        with pytest.raises(Exception, match="Set LOCAL_VLLM_KEY"):
            CallEngine(unset, Providers(environ={}), target=db_target).run(_requests("local", 1))
    with experiment_transaction(db_target) as connection:
        stored = [dict(r) for r in connection.execute(select(LLMCall.__table__)).mappings()]
    assert LOCAL_KEY not in json.dumps(stored, default=str) and HOSTED_KEY not in json.dumps(stored, default=str)


def test_model_keys_on_one_account_share_its_rate_limit(db_target, openai_server):
    # A temperature sweep: two model keys, one provider model on one endpoint, 4 requests a window in all.
    common = {
        "provider": "openai",
        "model_id": "gpt-sweep",
        "base_url": openai_server.base_url,
        "rpm": 4,
        "max_concurrency": 4,
    }
    models = ModelsConfig(
        default_model="cold",
        models={
            "cold": ModelConfig(key="cold", temperature=0.0, **common),
            "hot": ModelConfig(key="hot", temperature=1.5, **common),
        },
    )
    engine = CallEngine(models, Providers(environ={"OPENAI_API_KEY": "sk-sweep"}), target=db_target, rate_window_s=1.0)
    assert engine.run(_requests("cold", 4) + _requests("hot", 4)).ok == 8
    times = sorted(r["time"] for r in openai_server.requests)
    assert max(sum(1 for t in times if s <= t < s + 1.0) for s in times) <= 4
    assert {r["json"]["temperature"] for r in openai_server.requests} == {0.0, 1.5}
