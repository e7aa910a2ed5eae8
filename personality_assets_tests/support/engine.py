"""Call engines wired to the local fake servers, and what they stored."""

from sqlalchemy import select

from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.usage import LLMCall
from personality_assets.llm.config import ModelConfig, ModelsConfig
from personality_assets.llm.engine import CallEngine
from personality_assets.llm.providers import Providers
from personality_assets.llm.providers.bedrock import BedrockProvider
from personality_assets.llm.providers.openai import OpenAIProvider
from personality_assets.llm.providers.simulated import SimulatedProvider
from personality_assets.llm.types import ChatRequest

SECRET = "sk-test-DO-NOT-LEAK-4f9a"


def models_config(**overrides) -> ModelsConfig:
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


def engine_with_fakes(target, models, openai_url=None, bedrock_url=None, **kwargs) -> CallEngine:
    providers = Providers(
        openai=OpenAIProvider(api_key=SECRET, base_url=openai_url),
        bedrock=BedrockProvider(region_name="us-east-1", endpoint_url=bedrock_url),
        simulated=SimulatedProvider(),
    )
    return CallEngine(models, providers, target=target, progress_every_s=0.2, **kwargs)


def chat_requests(n, model="oa", **kwargs):
    return [
        ChatRequest(model=model, messages=(("system", "be brief"), ("user", f"question {i}")), tag=i, **kwargs)
        for i in range(n)
    ]


def stored_calls(target):
    with experiment_transaction(target) as connection:
        return [dict(r) for r in connection.execute(select(LLMCall.__table__).order_by(LLMCall.id)).mappings()]


def busiest_window(times: list[float], window: float) -> int:
    """The most requests any half-open window of ``window`` seconds saw."""
    times = sorted(times)
    busiest, start = 0, 0
    for end, arrived in enumerate(times):
        while times[start] <= arrived - window:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest
