"""The offline simulator: deterministic replies seeded from the request, no network. What it
replies is the request's purpose's own ``simulate`` (registered by the track that owns the purpose);
a purpose without one gets an echo of the last user message. Everything it produces is marked
``simulated``."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Mapping
from typing import ClassVar

from personality_assets.llm.config import ModelConfig
from personality_assets.llm.purposes import get_purpose
from personality_assets.llm.types import ChatRequest, ProviderReply


def simulate_reply(request: ChatRequest, model: ModelConfig) -> str:
    rng = random.Random(int(hashlib.sha256(request.cache_key(model).encode()).hexdigest()[:16], 16))
    simulate = get_purpose(request.purpose).simulate
    if simulate is not None:
        return simulate(request, model, rng)
    last_user = next((content for role, content in reversed(request.messages) if role == "user"), "")
    return f"[simulated reply {rng.randint(0, 10**6)}] {last_user[:80]}"


class SimulatedProvider:
    name: ClassVar[str] = "simulated"

    @classmethod
    def for_model(cls, model: ModelConfig, environ: Mapping[str, str]) -> SimulatedProvider:
        return cls()

    def account(self, model: ModelConfig) -> tuple[str, ...]:
        return (self.name, model.model_id)

    async def aclose(self) -> None:
        """Nothing to close."""

    async def call(self, request: ChatRequest, model: ModelConfig) -> ProviderReply:
        started = time.perf_counter()
        text = simulate_reply(request, model)
        return ProviderReply(
            text=text,
            input_tokens=request.estimated_input_tokens(),
            output_tokens=len(text) // 4 + 1,
            raw_request={
                "model": model.model_id,
                "purpose": request.purpose,
                "messages": request.messages,
                **request.parameters(model),
            },
            raw_response={"simulated": True, "text": text, "seconds": time.perf_counter() - started},
            simulated=True,
        )
