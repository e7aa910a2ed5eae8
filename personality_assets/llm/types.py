"""What goes into and comes out of a model call (requests, replies, results, run totals), and the
errors a provider can raise."""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from personality_assets.llm.config import ModelConfig
from personality_assets.llm.purposes import get_purpose


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
        get_purpose(self.purpose)  # registered by the track that owns it

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
        if model.provider == "simulated" and model.response_style.active:  # absent at zero: keys stay as they were
            document["response_style"] = model.response_style.model_dump()
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
    rate_limit: RateLimitHint | None = None  # what the provider's headers said of its limits


@dataclass(frozen=True)
class RateLimitHint:
    """A provider's rate-limit headers (``x-ratelimit-limit-*``, ``x-ratelimit-remaining-*`` and
    ``x-ratelimit-reset-*``, for requests and tokens): its limit, what is left of it and how long
    until it is whole again, as far as it said."""

    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_requests_s: float | None = None
    reset_tokens_s: float | None = None
    limit_requests: int | None = None
    limit_tokens: int | None = None


class ProviderError(Exception):
    """Base of the errors providers raise."""


class TransientError(ProviderError):
    """Worth retrying: 429, 5xx, timeouts, dropped connections."""

    def __init__(
        self,
        message: str,
        retry_after: float | None = None,
        unreachable: bool = False,
        rate_limited: bool = False,
        rate_limit: RateLimitHint | None = None,
    ):
        super().__init__(message)
        self.retry_after = retry_after
        self.unreachable = unreachable
        self.rate_limited = rate_limited  # a 429 or a throttling error: the adaptive rate may shrink
        self.rate_limit = rate_limit  # what the 429's headers said of the provider's limits


class PermanentError(ProviderError):
    """This request will fail the same way again (e.g. a 400): recorded as failed, not retried."""


class UserActionRequired(ProviderError):
    """Every request would fail until the user fixes something (a key, an endpoint, model
    access): the batch stops and the message says what to do."""


class InvalidOutput(Exception):
    """The reply is not the JSON that was asked for."""


@dataclass
class CallResult:
    request: ChatRequest
    model: ModelConfig
    cache_key: str
    status: str  # ok | invalid | failed
    text: str | None = None
    parsed: Any = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    attempts: int = 0
    cached: bool = False
    simulated: bool = False
    error: str | None = None
    raw_request: dict | None = None
    raw_response: dict | None = None
    json_valid_first: bool | None = None  # the first reply validated (None: no JSON asked for, or no reply)
    batch_id: int | None = None  # the llm_batches row that answered it (None: online)
    # When the call ended, to the microsecond: the rate limiter of a later process counts stored
    # calls by it (a server default would be the writer's commit time, and whole seconds on SQLite).
    finished_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class RunSummary:
    calls: int = 0
    ok: int = 0
    failed: int = 0
    invalid: int = 0
    cached: int = 0
    batched: int = 0  # answered through a provider batch API
    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    wall_s: float = 0.0
    storage_s: float = 0.0  # time the writer spent in database transactions
    interrupted_by: str | None = None  # the signal that stopped the batch
    budget_stop: str | None = None  # which spend cap stopped the batch
    batches_waiting: str | None = None  # provider batches still running when the step stopped waiting
    latencies: list[float] = field(default_factory=list, repr=False)
    errors: Counter = field(default_factory=Counter)

    def add(self, result: CallResult) -> None:
        self.calls += 1
        self.cached += result.cached
        self.batched += result.batch_id is not None
        self.ok += result.status == "ok"
        self.failed += result.status == "failed"
        self.invalid += result.status == "invalid"
        self.attempts += result.attempts
        self.input_tokens += result.input_tokens
        self.output_tokens += result.output_tokens
        self.cost_usd += result.cost_usd
        if not result.cached:
            self.latencies.append(result.latency_s)
        if result.error and not result.ok:
            self.errors[result.error.split(":")[0][:80]] += 1

    @classmethod
    def total(cls, summaries: list[RunSummary]) -> RunSummary:
        """One summary of several runs (e.g. a step that runs the engine once per round)."""
        total = cls()
        for summary in summaries:
            for name in (
                "calls",
                "ok",
                "failed",
                "invalid",
                "cached",
                "batched",
                "attempts",
                "input_tokens",
                "output_tokens",
            ):
                setattr(total, name, getattr(total, name) + getattr(summary, name))
            total.cost_usd += summary.cost_usd
            total.wall_s += summary.wall_s
            total.latencies += summary.latencies
            total.errors.update(summary.errors)
        return total

    def latency_quantile(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        return (
            statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q * 100) - 1]
            if len(self.latencies) > 1
            else self.latencies[0]
        )

    def metadata(self) -> dict[str, Any]:
        """Totals for a Dagster materialisation."""
        return {
            "llm_calls": self.calls,
            "llm_ok": self.ok,
            "llm_failed": self.failed,
            "llm_invalid": self.invalid,
            "llm_cached": self.cached,
            "llm_batched": self.batched,
            "llm_batch_share": round(self.batched / self.calls, 4) if self.calls else 0.0,
            "llm_attempts": self.attempts,
            "llm_input_tokens": self.input_tokens,
            "llm_output_tokens": self.output_tokens,
            "llm_cost_usd": round(self.cost_usd, 6),
            "llm_latency_p50_s": round(self.latency_quantile(0.5), 4),
            "llm_latency_p95_s": round(self.latency_quantile(0.95), 4),
            "llm_wall_s": round(self.wall_s, 2),
            "llm_failure_reasons": dict(self.errors),
        }


def strip_fences(text: str) -> str:
    """Models often wrap JSON in ```json fences; take what is inside."""
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else text[3:]
        text = text.rsplit("```", 1)[0]
    return text.strip()
