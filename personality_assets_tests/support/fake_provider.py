"""A provider kept outside the package: this module, plus its line in PROVIDERS (the test adds it
with monkeypatch); one in personality_assets/llm/providers/ needs no line. It answers every
request with a fixed reply and records what it saw."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from personality_assets.llm.config import ModelConfig
from personality_assets.llm.types import ChatRequest, ProviderReply

SEEN: list[tuple[str, str | None]] = []  # (model key, base URL) of every call


class FakeProvider:
    name: ClassVar[str] = "fake"

    def __init__(self, base_url: str | None):
        self.base_url = base_url

    @classmethod
    def for_model(cls, model: ModelConfig, environ: Mapping[str, str]) -> FakeProvider:
        return cls(model.base_url or environ.get("FAKE_BASE_URL"))

    def account(self, model: ModelConfig) -> tuple[str, ...]:
        return (self.name, self.base_url or "-", model.model_id)

    async def call(self, request: ChatRequest, model: ModelConfig) -> ProviderReply:
        SEEN.append((model.key, self.base_url))
        return ProviderReply(
            text="fake reply",
            input_tokens=3,
            output_tokens=2,
            raw_request={"model": model.model_id},
            raw_response={"text": "fake reply"},
        )

    async def aclose(self) -> None:
        pass
