"""What goes into and comes out of a model call, and the errors a provider can raise."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from personality_assets.llm.config import ModelConfig

PURPOSES = ("chat", "persona", "questionnaire", "journal", "judge")


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion to make.

    ``repetition`` keeps deliberate repetitions of the same prompt apart in the cache.
    ``hints`` are read only by the simulated provider (e.g. the reference person's trait scores,
    so simulated answers can follow them); real providers never see them.
    ``tag`` is the caller's handle for the result (e.g. an experiment id); not part of the key.
    """

    model: str
    messages: tuple[tuple[str, str], ...]  # (role, content); roles: system, user, assistant
    purpose: str = "chat"
    response_model: type[BaseModel] | None = None  # the reply must be JSON valid against it
    repetition: int = 0
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    hints: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    tag: Any = field(default=None, hash=False, compare=False)

    def __post_init__(self) -> None:
        if self.purpose not in PURPOSES:
            raise ValueError(f"purpose {self.purpose!r} not in {PURPOSES}")

    def parameters(self, model: ModelConfig) -> dict[str, Any]:
        return {
            "temperature": model.temperature if self.temperature is None else self.temperature,
            "top_p": model.top_p if self.top_p is None else self.top_p,
            "max_tokens": model.max_tokens if self.max_tokens is None else self.max_tokens,
        }

    def json_schema(self) -> dict | None:
        return self.response_model.model_json_schema() if self.response_model else None

    def cache_key(self, model: ModelConfig) -> str:
        """Everything that can change the answer: provider, model id, messages, parameters,
        the requested schema, the repetition and (for the simulator) the hints."""
        document = {
            "provider": model.provider,
            "model_id": model.model_id,
            "messages": self.messages,
            "parameters": self.parameters(model),
            "schema": self.json_schema(),
            "purpose": self.purpose,
            "repetition": self.repetition,
            "hints": self.hints if model.provider == "simulated" else None,
        }
        return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()

    def estimated_input_tokens(self) -> int:
        # About four characters a token for English text; good enough for budgeting and estimates.
        return sum(len(content) for _, content in self.messages) // 4 + 4 * len(self.messages)


@dataclass
class ProviderReply:
    text: str
    input_tokens: int
    output_tokens: int
    raw_request: dict  # what was sent, without credentials or headers
    raw_response: dict
    simulated: bool = False


class ProviderError(Exception):
    """Base of the errors providers raise."""


class TransientError(ProviderError):
    """Worth retrying: 429, 5xx, timeouts, dropped connections."""

    def __init__(self, message: str, retry_after: float | None = None, unreachable: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.unreachable = unreachable


class PermanentError(ProviderError):
    """This request will fail the same way again (e.g. a 400): recorded as failed, not retried."""


class UserActionRequired(ProviderError):
    """Every request would fail until the user fixes something (a key, an endpoint, model
    access): the batch stops and the message says what to do."""


class InvalidOutput(Exception):
    """The reply is not the JSON that was asked for."""
