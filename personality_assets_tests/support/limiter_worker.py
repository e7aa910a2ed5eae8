"""One process of the shared-limiter tests: an engine with the Redis limiter sending requests to
the local OpenAI-compatible server. ``python -m personality_assets_tests.support.limiter_worker BASE_URL
REDIS_URL COUNT PREFIX RPM WINDOW_S [CONCURRENCY TIMEOUT_S]``; prints the summary's ok count."""

import sys

from personality_assets.llm.config import ModelConfig, ModelsConfig
from personality_assets.llm.engine import CallEngine
from personality_assets.llm.providers import Providers
from personality_assets.llm.providers.openai import OpenAIProvider
from personality_assets.llm.types import ChatRequest


def main(base_url, redis_url, count, prefix, rpm, window_s, concurrency="8", timeout_s="5") -> None:
    model = ModelConfig(
        key="oa",
        provider="openai",
        model_id="gpt-test",
        rpm=int(rpm),
        max_concurrency=int(concurrency),
        account_max_concurrency=int(concurrency),
        timeout_seconds=float(timeout_s),
        max_attempts=1,
    )
    engine = CallEngine(
        ModelsConfig(default_model="oa", models={"oa": model}),
        Providers(openai=OpenAIProvider(api_key="sk-limiter-test", base_url=base_url)),
        rate_window_s=float(window_s),
        redis_url=redis_url,
        progress_every_s=60,
    )
    requests = [ChatRequest(model="oa", messages=(("user", f"{prefix} {i}"),)) for i in range(int(count))]
    print(engine.run(requests).ok, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
